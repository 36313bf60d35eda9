//! The follower's side of discovery, synchronization and broadcast.

use crate::config::Bug;
use crate::io::{Action, Phase};
use crate::membership::Membership;
use crate::message::Message;
use crate::peer::{Peer, Role};
use crate::types::{Epoch, ServerId, Snapshot, Txn, Zxid};

/// The follower's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FollowerPhase {
    /// CEPOCH sent (and repeated); waiting for NEWEPOCH.
    AwaitNewEpoch,
    /// ACK-E sent; receiving DIFF / TRUNC / SNAP until NEWLEADER.
    Sync,
    /// NEWLEADER received; ACK-LD waits until the synchronized history is durable. Proposals
    /// the leader made since its NEWLEADER are accepted and logged behind that history; their
    /// ACKs follow the ACK-LD.
    AwaitDurable(Zxid),
    /// ACK-LD sent; accepting proposals. `established` once COMMIT-LD arrived.
    Broadcast { established: bool },
}

/// The state of a following server.
#[derive(Debug)]
pub(crate) struct Following {
    pub(crate) leader: ServerId,
    /// The leader's election round when we joined it: a Looking vote from it in a later round
    /// means its leadership attempt is over.
    pub(crate) joined_round: u64,
    link: u64,
    /// The next sequence number expected on the link; unknown until NEWEPOCH opens it.
    next_seq: Option<u64>,
    /// The epoch of the leader, from NEWEPOCH.
    epoch: Epoch,
    phase: FollowerPhase,
    joined_at: u64,
    last_heard: u64,
    /// The highest zxid the leader told us is committed.
    commit_mark: Zxid,
    /// The highest zxid we acknowledged.
    acked: Zxid,
}

impl Following {
    pub(crate) fn awaiting_new_epoch(&self) -> bool {
        self.phase == FollowerPhase::AwaitNewEpoch
    }

    pub(crate) fn phase_summary(&self) -> Phase {
        match self.phase {
            FollowerPhase::AwaitNewEpoch => Phase::FollowingDiscovery,
            // Until COMMIT-LD the synchronized history is not committed here: still syncing.
            FollowerPhase::Sync
            | FollowerPhase::AwaitDurable(_)
            | FollowerPhase::Broadcast { established: false } => Phase::FollowingSync,
            FollowerPhase::Broadcast { established: true } => Phase::FollowingBroadcast,
        }
    }
}

impl Peer {
    /// Starts following `leader` (whose election round is `round`, 0 if unknown): a fresh
    /// link, CEPOCH with our last promise.
    pub(crate) fn join(&mut self, leader: ServerId, round: u64) {
        self.joins += 1;
        let link = self.nonce.wrapping_add(self.joins);
        self.role = Role::Following(Following {
            leader,
            joined_round: round,
            link,
            next_seq: None,
            epoch: self.accepted_epoch,
            phase: FollowerPhase::AwaitNewEpoch,
            joined_at: self.now,
            last_heard: self.now,
            commit_mark: Zxid::ZERO,
            acked: Zxid::ZERO,
        });
        self.set_phase(Phase::FollowingDiscovery, self.accepted_epoch);
        let accepted_epoch = self.accepted_epoch;
        self.send(
            leader,
            Message::CEpoch {
                link,
                accepted_epoch,
            },
        );
    }

    fn following(&mut self) -> &mut Following {
        match &mut self.role {
            Role::Following(f) => f,
            _ => unreachable!("follower handler outside the following role"),
        }
    }

    pub(crate) fn follower_tick(&mut self) {
        let now = self.now;
        let (init_limit, sync_limit) = (self.cfg.init_limit, self.cfg.sync_limit);
        let accepted_epoch = self.accepted_epoch;
        let following = self.following();
        let timed_out = match following.phase {
            FollowerPhase::Broadcast { established: true } => {
                now - following.last_heard > sync_limit
            }
            _ => now - following.joined_at > init_limit,
        };
        if timed_out {
            return self.go_looking();
        }
        if following.phase == FollowerPhase::AwaitNewEpoch {
            let (leader, link) = (following.leader, following.link);
            self.send(
                leader,
                Message::CEpoch {
                    link,
                    accepted_epoch,
                },
            );
        }
    }

    /// A broken link or a leader breaking the protocol: back to election.
    fn abandon(&mut self) {
        self.stats.protocol_error += 1;
        self.go_looking();
    }

    pub(crate) fn follower_message(&mut self, from: ServerId, message: Message) {
        let now = self.now;
        let following = self.following();
        let Some((link, seq)) = message.link_seq() else {
            self.stats.stale += 1;
            return;
        };
        if from != following.leader || link != following.link {
            self.stats.stale += 1;
            return;
        }
        match following.next_seq {
            // The leader opens a link with NEWEPOCH, at a sequence number of its choosing.
            None if !matches!(message, Message::NewEpoch { .. }) => {
                self.stats.stale += 1;
                return;
            }
            None => {}
            Some(next) if seq < next => {
                self.stats.duplicate += 1;
                return;
            }
            Some(next) if seq > next => {
                // A message of this link was lost, or the leader restarted its side of the
                // link: the FIFO channel is broken. Rejoin.
                self.stats.out_of_order += 1;
                return self.go_looking();
            }
            Some(_) => {}
        }
        following.next_seq = Some(seq + 1);
        following.last_heard = now;
        let phase = following.phase;
        let epoch = following.epoch;
        if !matches!(message, Message::NewEpoch { .. }) && message.epoch() != epoch {
            return self.abandon();
        }
        match (message, phase) {
            (Message::NewEpoch { epoch, .. }, FollowerPhase::AwaitNewEpoch) => {
                self.on_new_epoch(epoch)
            }
            (Message::Diff { txns, .. }, FollowerPhase::Sync) => self.on_diff(txns),
            (Message::Trunc { zxid, .. }, FollowerPhase::Sync) => self.on_trunc(zxid),
            (
                Message::Snap {
                    snapshot,
                    membership,
                    ..
                },
                FollowerPhase::Sync,
            ) => self.on_snap(snapshot, membership),
            (Message::NewLeader { last_zxid, .. }, FollowerPhase::Sync) => {
                self.on_new_leader(last_zxid)
            }
            (Message::CommitNewLeader { committed, .. }, FollowerPhase::Broadcast { .. }) => {
                self.following().phase = FollowerPhase::Broadcast { established: true };
                self.set_phase(Phase::FollowingBroadcast, epoch);
                self.on_commit(committed);
            }
            (
                Message::Propose { txn, .. },
                FollowerPhase::AwaitDurable(_) | FollowerPhase::Broadcast { .. },
            ) => self.on_propose(txn),
            (Message::Commit { zxid, .. }, FollowerPhase::Broadcast { established: true }) => {
                self.on_commit(zxid)
            }
            (Message::Ping { round, .. }, _) => {
                let leader = self.following().leader;
                self.send(leader, Message::PingAck { link, epoch, round });
            }
            _ => self.abandon(),
        }
    }

    fn on_new_epoch(&mut self, epoch: Epoch) {
        let leader = self.following().leader;
        let fresh = epoch > self.accepted_epoch;
        // The same leader may re-send the epoch it already proposed to us (a rejoin). A
        // different leader with the same epoch number may be followed, but our acknowledgement
        // must not count toward establishing it: we promised that epoch to someone else, and
        // counting us twice could let two leaders gather a quorum for one epoch.
        let same_epoch = epoch == self.accepted_epoch;
        let promised = fresh || (same_epoch && self.accepted_leader == leader);
        let broken = self.cfg.has_bug(Bug::AcceptStaleNewEpoch);
        if !(fresh || same_epoch || broken) {
            self.stats.stale += 1;
            return self.go_looking();
        }
        if fresh {
            self.persist_accepted_epoch(epoch, leader);
        }
        let following = self.following();
        following.epoch = epoch;
        following.phase = FollowerPhase::Sync;
        let link = following.link;
        self.set_phase(Phase::FollowingSync, epoch);
        let (current_epoch, last_zxid) = (self.current_epoch, self.history.last());
        let promised = promised || broken;
        self.send(
            leader,
            Message::AckEpoch {
                link,
                epoch,
                current_epoch,
                last_zxid,
                promised,
            },
        );
    }

    fn on_diff(&mut self, txns: Vec<Txn>) {
        if txns.is_empty() {
            return;
        }
        let in_order = txns.first().is_some_and(|t| t.zxid > self.history.last())
            && txns.windows(2).all(|w| w[0].zxid < w[1].zxid);
        if !in_order {
            return self.abandon();
        }
        for txn in &txns {
            self.history.append(txn.clone());
        }
        self.out.push(Action::Append(txns));
    }

    fn on_trunc(&mut self, zxid: Zxid) {
        // Committed transactions are never dropped; a leader asking for it is broken.
        if zxid < self.delivered || !self.history.has_point(zxid) {
            return self.abandon();
        }
        self.history.truncate(zxid);
        self.out.push(Action::Truncate(zxid));
    }

    fn on_snap(&mut self, snapshot: Snapshot, membership: Membership) {
        if snapshot.zxid < self.delivered || membership.version > snapshot.zxid {
            return self.abandon();
        }
        self.history.reset(snapshot.zxid, membership);
        self.delivered = snapshot.zxid;
        self.out.push(Action::InstallSnapshot(snapshot));
    }

    fn on_new_leader(&mut self, last_zxid: Zxid) {
        if self.history.last() != last_zxid {
            return self.abandon();
        }
        self.following().phase = FollowerPhase::AwaitDurable(last_zxid);
        self.follower_durable();
    }

    /// Sends what durability now allows: ACK-LD once the synchronized history is durable
    /// (and currentEpoch after it), ACKs of proposals once they are durable.
    pub(crate) fn follower_durable(&mut self) {
        let durable = self.history.durable();
        let last = self.history.last();
        let early_ack_ld = self.cfg.has_bug(Bug::AckNewLeaderBeforeDurable);
        let early_ack = self.cfg.has_bug(Bug::AckBeforeDurable);
        let following = self.following();
        let (leader, link, epoch) = (following.leader, following.link, following.epoch);
        match following.phase {
            FollowerPhase::AwaitDurable(zxid) => {
                if durable < zxid && !early_ack_ld {
                    return;
                }
                following.phase = FollowerPhase::Broadcast { established: false };
                following.acked = zxid;
                // The order is the protocol: history durable, then currentEpoch, then ACK-LD.
                self.persist_current_epoch(epoch);
                self.send(leader, Message::AckNewLeader { link, epoch, zxid });
                self.follower_durable();
            }
            FollowerPhase::Broadcast { .. } => {
                let ackable = if early_ack { last } else { durable };
                if ackable > following.acked {
                    following.acked = ackable;
                    self.send(
                        leader,
                        Message::Ack {
                            link,
                            epoch,
                            zxid: ackable,
                        },
                    );
                }
            }
            FollowerPhase::AwaitNewEpoch | FollowerPhase::Sync => {}
        }
    }

    fn on_propose(&mut self, txn: Txn) {
        let epoch = self.following().epoch;
        if txn.zxid <= self.history.last() {
            // A duplicate PROPOSE is tolerated: same zxid, same transaction (one whose payload
            // is no longer held was the same: a zxid names one proposal).
            let same = match self.history.get(txn.zxid) {
                Some(held) => held == &txn,
                None => self.history.has_point(txn.zxid),
            };
            if same {
                self.stats.duplicate += 1;
                return;
            }
            return self.abandon();
        }
        // Proposals of an epoch are numbered 1, 2, 3, … and reach us all, in order.
        let last = self.history.last();
        let expected = if last.epoch == epoch {
            last.counter + 1
        } else {
            1
        };
        if txn.zxid.epoch != epoch || txn.zxid.counter != expected {
            return self.abandon();
        }
        self.history.append(txn.clone());
        self.out.push(Action::Append(vec![txn]));
        if self.cfg.has_bug(Bug::AckBeforeDurable) {
            self.follower_durable();
        }
        // Commits that arrived before this proposal can now be delivered.
        let mark = self.following().commit_mark;
        self.deliver_upto(mark);
    }

    fn on_commit(&mut self, zxid: Zxid) {
        let following = self.following();
        following.commit_mark = following.commit_mark.max(zxid);
        let mark = following.commit_mark;
        self.deliver_upto(mark);
    }
}
