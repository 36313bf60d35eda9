//! Scenario tests of single rules of the protocol, driven by hand: each sets up peers,
//! delivers chosen messages, and checks the exact outputs that matter.

mod common;

use bytes::Bytes;
use common::{peer, Net};
use zab::{Action, Boot, Config, Epoch, Input, Message, Peer, Phase, ServerId, Txn, Zxid};

#[test]
fn three_servers_elect_the_highest_id_and_commit_in_order() {
    let mut net = Net::new(3);
    net.start();
    net.settle(5);
    assert_eq!(net.leader(), 2, "equal histories: the highest id wins");
    let zxids: Vec<Zxid> = (0..5).map(|k| net.propose(&format!("t{k}"))).collect();
    assert!(zxids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        zxids[0],
        Zxid::new(1, 1),
        "a new epoch starts its counter at 1"
    );
    net.settle(2);
    for delivered in &net.delivered {
        assert_eq!(delivered, &zxids);
    }
}

#[test]
fn observers_learn_everything_but_never_vote_lead_or_count() {
    let mut net = Net::with_observers(3, 2);
    net.start();
    net.settle(5);
    assert_eq!(
        net.leader(),
        2,
        "the highest voter leads, not the higher observers"
    );
    let first = net.propose("seen by all");
    net.settle(2);
    for delivered in &net.delivered {
        assert_eq!(delivered, &vec![first], "observers deliver too");
    }
    // Only the leader's and the observers' disks work: three durable copies of five servers,
    // but one voter of three is no quorum.
    net.hold_fsync = vec![true, true, false, false, false];
    let second = net.propose("held");
    net.settle(1);
    assert!(
        net.delivered.iter().all(|d| d.len() == 1),
        "a leader counted an observer's acknowledgement"
    );
    net.hold_fsync[0] = false;
    net.settle(1);
    for delivered in &net.delivered {
        assert_eq!(delivered, &vec![first, second]);
    }
}

#[test]
fn a_follower_acks_only_what_is_durable() {
    let mut net = Net::new(3);
    net.start();
    net.settle(5);
    net.hold_fsync = vec![true, true, false]; // only the leader's disk works
    let zxid = net.propose("x");
    net.settle(1);
    assert!(
        net.delivered[2].is_empty(),
        "the leader alone is not a quorum"
    );
    assert!(net.peers[0].last_zxid() == zxid && net.peers[0].durable_zxid() < zxid);
    net.hold_fsync[0] = false;
    net.settle(1);
    assert_eq!(net.delivered[2], vec![zxid]);
}

#[test]
fn the_new_leader_keeps_acknowledged_history_and_the_epoch_grows() {
    let mut net = Net::new(3);
    net.start();
    net.settle(5);
    let committed = net.propose("kept");
    net.settle(1);
    // The leader stops hearing anything: both sides time out and a new epoch begins.
    let old = net.leader();
    for _ in 0..20 {
        let mut out = Vec::new();
        net.peers[old].step(Input::Tick, &mut out);
        for i in 0..3 {
            if i != old {
                let mut out = Vec::new();
                net.peers[i].step(Input::Tick, &mut out);
                net.absorb(i, out);
            }
        }
        net.queue
            .retain(|(from, to, _)| from.0 as usize - 1 != old && to.0 as usize - 1 != old);
        net.settle(1);
    }
    let new = net
        .peers
        .iter()
        .position(|p| p.is_leading() && p.id().0 as usize - 1 != old)
        .unwrap();
    assert!(net.peers[new].current_epoch() > Epoch(1));
    assert!(net.peers[new].last_zxid() >= committed);
}

#[test]
fn stale_and_foreign_input_is_counted_not_obeyed() {
    let mut p = peer(1, 3);
    let mut out = Vec::new();
    p.start(&mut out);
    out.clear();
    let junk = Message::Commit {
        link: 9,
        seq: 0,
        epoch: Epoch(7),
        zxid: Zxid::new(7, 1),
    };
    p.step(
        Input::Message {
            from: ServerId(99),
            message: junk.clone(),
        },
        &mut out,
    );
    p.step(
        Input::Message {
            from: ServerId(1),
            message: junk.clone(),
        },
        &mut out,
    );
    p.step(
        Input::Message {
            from: ServerId(2),
            message: junk,
        },
        &mut out,
    );
    assert!(out.iter().all(|a| !matches!(a, Action::Deliver(_))));
    // A server outside the configuration is heard (it may be joining), but a COMMIT from
    // anyone but the leader followed is stale; a message "from ourselves" is foreign.
    assert_eq!(p.stats().unknown_server, 1);
    assert_eq!(p.stats().stale, 2);
}

/// The votes `out` sends, with their destinations.
fn votes_sent(out: &[Action]) -> Vec<(ServerId, zab::Notification)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Send {
                to,
                message: Message::Vote(n),
            } => Some((*to, n.clone())),
            _ => None,
        })
        .collect()
}

/// Server 2, looking, hears server 1's worse vote of the same round and answers it with its
/// own at once. Server 1 may have sent its vote while server 2 still followed the leader
/// both then lost: the answer it got named that leader, and it would otherwise wait for
/// server 2's next broadcast (2 ticks), which made failovers 0.7–1 s instead of 50 ms.
#[test]
fn a_looking_server_answers_a_worse_vote_of_its_round_with_its_own() {
    let mut p = peer(2, 3);
    let mut out = Vec::new();
    p.start(&mut out);
    let (_, own) = votes_sent(&out).pop().expect("a first broadcast");
    assert_eq!(own.vote.leader, ServerId(2));
    let worse = zab::Notification {
        vote: zab::Vote {
            leader: ServerId(1),
            ..own.vote
        },
        ..own.clone()
    };
    out.clear();
    p.step(
        Input::Message {
            from: ServerId(1),
            message: Message::Vote(worse.clone()),
        },
        &mut out,
    );
    let answers = votes_sent(&out);
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, ServerId(1));
    assert_eq!(answers[0].1.vote, own.vote);
    // The same vote heard again (server 1 adopted ours) is not answered: no ping-pong.
    out.clear();
    p.step(
        Input::Message {
            from: ServerId(1),
            message: Message::Vote(own),
        },
        &mut out,
    );
    assert!(votes_sent(&out).is_empty());
}

/// Server 1 of 5 joins server 5 on a quorum's reports while server 5 is still looking in the
/// same round. A looking message of that round from server 5 (a re-send, or its answer to a
/// vote of server 1 it had not seen) is no failed attempt: server 1 keeps following. One of a
/// later round is, and server 1 looks again. (Such a join once counted as made in round 0,
/// so any looking message of its leader undid it, and cost an election.)
#[test]
fn a_join_on_reports_survives_the_leaders_looking_messages_of_its_round() {
    let mut p = peer(1, 5);
    let mut out = Vec::new();
    p.start(&mut out);
    let (_, own) = votes_sent(&out).pop().expect("a first broadcast");
    let for_5 = zab::Vote {
        leader: ServerId(5),
        ..own.vote
    };
    let following_5 = zab::Notification {
        state: zab::PeerState::Following,
        vote: for_5,
        ..own.clone()
    };
    for from in [2, 3, 4] {
        p.step(
            Input::Message {
                from: ServerId(from),
                message: Message::Vote(following_5.clone()),
            },
            &mut out,
        );
    }
    assert_eq!(p.phase(), Phase::FollowingDiscovery);
    assert_eq!(p.leader(), Some(ServerId(5)));
    let looking_5 = zab::Notification {
        state: zab::PeerState::Looking,
        ..following_5
    };
    p.step(
        Input::Message {
            from: ServerId(5),
            message: Message::Vote(looking_5.clone()),
        },
        &mut out,
    );
    assert_eq!(
        p.phase(),
        Phase::FollowingDiscovery,
        "a message of the join's round"
    );
    p.step(
        Input::Message {
            from: ServerId(5),
            message: Message::Vote(zab::Notification {
                round: looking_5.round + 1,
                ..looking_5
            }),
        },
        &mut out,
    );
    assert_eq!(
        p.phase(),
        Phase::Looking,
        "a later round: the attempt failed"
    );
}

/// A 3-server peer 1, started from `boot`, that joins server 2 announcing it leads `epoch`.
/// Returns the peer and the link of its CEPOCH (and the CEPOCH's acceptedEpoch).
fn joined_to_server_2(boot: Boot, epoch: Epoch) -> (Peer, u64, Epoch) {
    let members = vec![ServerId(1), ServerId(2), ServerId(3)];
    let mut p = Peer::new(Config::new(ServerId(1), members), boot);
    let mut out = Vec::new();
    p.start(&mut out);
    let vote = zab::Vote {
        leader: ServerId(2),
        epoch,
        zxid: Zxid::ZERO,
    };
    let n = zab::Notification {
        round: 1,
        state: zab::PeerState::Leading,
        vote,
        membership: p.active_membership().clone(),
    };
    out.clear();
    p.step(
        Input::Message {
            from: ServerId(2),
            message: Message::Vote(n),
        },
        &mut out,
    );
    let (link, accepted) = out
        .iter()
        .find_map(|a| match a {
            Action::Send {
                message:
                    Message::CEpoch {
                        link,
                        accepted_epoch,
                    },
                ..
            } => Some((*link, *accepted_epoch)),
            _ => None,
        })
        .expect("CEPOCH sent");
    (p, link, accepted)
}

#[test]
fn a_follower_refuses_a_newepoch_below_its_promise() {
    // Server 1 promised epoch 5; a leader offering epoch 3 is refused.
    let boot = Boot {
        accepted_epoch: Epoch(5),
        accepted_leader: ServerId(3),
        current_epoch: Epoch(4),
        ..Boot::default()
    };
    let (mut p, link, accepted) = joined_to_server_2(boot, Epoch(3));
    assert_eq!(accepted, Epoch(5));
    let mut out = Vec::new();
    let newepoch = Message::NewEpoch {
        link,
        seq: 0,
        epoch: Epoch(3),
    };
    p.step(
        Input::Message {
            from: ServerId(2),
            message: newepoch,
        },
        &mut out,
    );
    assert!(out
        .iter()
        .all(|a| !matches!(a, Action::PersistAcceptedEpoch { .. })));
    assert!(out.iter().all(|a| !matches!(
        a,
        Action::Send {
            message: Message::AckEpoch { .. },
            ..
        }
    )));
    assert_eq!(p.phase(), zab::Phase::Looking);
    assert_eq!(p.accepted_epoch(), Epoch(5));
}

#[test]
fn ack_newleader_waits_for_durable_history_then_current_epoch() {
    let (mut p, link, _) = joined_to_server_2(Boot::default(), Epoch(0));
    let mut out = Vec::new();
    let from = ServerId(2);
    let e = Epoch(1);
    let txn = Txn {
        zxid: Zxid::new(0, 1),
        data: Bytes::from_static(b"a"),
    };
    let steps = [
        Message::NewEpoch {
            link,
            seq: 0,
            epoch: e,
        },
        Message::Diff {
            link,
            seq: 1,
            epoch: e,
            txns: vec![txn.clone()],
        },
        Message::NewLeader {
            link,
            seq: 2,
            epoch: e,
            last_zxid: txn.zxid,
        },
    ];
    out.clear();
    for message in steps {
        p.step(Input::Message { from, message }, &mut out);
    }
    let acked = |out: &Vec<Action>| {
        out.iter().any(|a| {
            matches!(
                a,
                Action::Send {
                    message: Message::AckNewLeader { .. },
                    ..
                }
            )
        })
    };
    assert!(
        !acked(&out),
        "ACK-LD before the synchronized history is durable"
    );
    assert!(out
        .iter()
        .all(|a| !matches!(a, Action::PersistCurrentEpoch(_))));
    out.clear();
    p.step(Input::LogDurable(txn.zxid), &mut out);
    let persist = out
        .iter()
        .position(|a| matches!(a, Action::PersistCurrentEpoch(ep) if *ep == e));
    let ack = out.iter().position(|a| {
        matches!(
            a,
            Action::Send {
                message: Message::AckNewLeader { .. },
                ..
            }
        )
    });
    assert!(
        persist.unwrap() < ack.unwrap(),
        "currentEpoch is persisted before ACK-LD leaves"
    );
    // A TRUNC below what was delivered would be refused; a duplicate PROPOSE is tolerated.
    out.clear();
    let commit_ld = Message::CommitNewLeader {
        link,
        seq: 3,
        epoch: e,
        committed: txn.zxid,
    };
    p.step(
        Input::Message {
            from,
            message: commit_ld,
        },
        &mut out,
    );
    assert_eq!(p.delivered_zxid(), txn.zxid);
    let t1 = Txn {
        zxid: Zxid::new(1, 1),
        data: Bytes::from_static(b"b"),
    };
    let propose = Message::Propose {
        link,
        seq: 4,
        epoch: e,
        txn: t1.clone(),
    };
    p.step(
        Input::Message {
            from,
            message: propose.clone(),
        },
        &mut out,
    );
    p.step(
        Input::Message {
            from,
            message: propose,
        },
        &mut out,
    );
    assert_eq!(p.last_zxid(), t1.zxid);
    assert_eq!(p.stats().duplicate, 1);
}

#[test]
fn a_snapshot_answered_after_a_compaction_past_it_is_asked_for_again() {
    // A driver that serializes a follower's snapshot off its event loop answers late; by then
    // the leader may have compacted its history past the snapshot, and the DIFF that must
    // follow it would have a hole.
    let (mut net, l, f) = Net::three_settled();
    let early = net.propose("a");
    net.settle(2);
    let mid = net.propose("b");
    net.settle(2);
    net.compact(l, mid);
    // The follower loses its disk and comes back empty: too far behind for a DIFF.
    net.held_snapshots = Some(Vec::new());
    let id = net.restart_empty(f);
    net.settle(8);
    let asked = std::mem::take(net.held_snapshots.as_mut().unwrap());
    // Once per sync attempt (the follower retries one that takes too long).
    assert!(
        !asked.is_empty() && asked.iter().all(|&a| a == (l, id)),
        "{asked:?}"
    );
    // More commits and a compaction while the snapshot is being serialized.
    let last = net.propose("c");
    net.settle(2);
    net.compact(l, last);
    // The answer comes, frozen before: refused and asked for again, without a panic.
    net.answer_snapshot(l, id, early);
    let again = std::mem::take(net.held_snapshots.as_mut().unwrap());
    assert_eq!(again, [(l, id)], "asked again");
    // A fresh one syncs the follower, which then delivers what follows it.
    net.held_snapshots = None;
    net.answer_snapshot(l, id, net.peers[l].delivered_zxid());
    net.settle(20);
    assert_eq!(net.peers[f].delivered_zxid(), last);
    let next = net.propose("d");
    net.settle(5);
    assert_eq!(net.delivered[f].last(), Some(&next));
}

#[test]
fn proposals_made_during_a_sync_go_out_as_made_and_the_ack_ld_only_commits() {
    // A follower installing a big SNAP acknowledges NEWLEADER seconds later. The proposals
    // made meanwhile must reach it as they are made, so that its ACK-LD costs the leader one
    // COMMIT-LD rather than every proposal at once.
    let (mut net, l, f) = Net::three_settled();
    let first = net.propose("a");
    net.settle(2);
    // The follower comes back empty, and its disk holds the synchronized history back.
    net.hold_fsync[f] = true;
    let id = net.restart_empty(f);
    net.settle(3);
    assert_eq!(net.peers[f].last_zxid(), first, "synchronized, not durable");
    assert_eq!(net.peers[f].phase(), zab::Phase::FollowingSync);
    let made = [net.propose("b"), net.propose("c")];
    net.settle(1);
    assert_eq!(
        net.delivered[l].last(),
        Some(&made[1]),
        "committed without it"
    );
    assert_eq!(
        net.peers[f].last_zxid(),
        made[1],
        "logged behind the synchronized history"
    );
    // Its disk catches up: ACK-LD, then the ACK of what it logged since.
    let durable = net.appended[f].take().expect("appended");
    let mut out = Vec::new();
    net.peers[f].step(Input::LogDurable(durable), &mut out);
    let sent: Vec<&Message> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert!(
        matches!(sent[..], [Message::AckNewLeader { zxid, .. }, Message::Ack { zxid: acked, .. }]
            if *zxid == first && *acked == made[1]),
        "{sent:?}"
    );
    net.absorb(f, out);
    // The leader answers the ACK-LD with COMMIT-LD alone.
    let at = net
        .queue
        .iter()
        .position(|(_, _, m)| matches!(m, Message::AckNewLeader { .. }))
        .expect("ACK-LD queued");
    let (from, _, ack_ld) = net.queue.remove(at).expect("queued");
    let mut out = Vec::new();
    net.peers[l].step(
        Input::Message {
            from,
            message: ack_ld,
        },
        &mut out,
    );
    let to_follower: Vec<&Message> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, message } if *to == id => Some(message),
            _ => None,
        })
        .collect();
    assert!(
        matches!(to_follower[..], [Message::CommitNewLeader { committed, .. }] if *committed == made[1]),
        "{to_follower:?}"
    );
    net.absorb(l, out);
    net.hold_fsync[f] = false;
    net.settle(3);
    assert_eq!(net.peers[f].delivered_zxid(), made[1]);
    assert_eq!(net.peers[f].phase(), zab::Phase::FollowingBroadcast);
}
