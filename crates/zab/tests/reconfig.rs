//! Scenario tests of reconfiguration in the core: a configuration is a transaction, pending
//! from its proposal (decisions need a quorum of both configurations), active at commit; a
//! removed leader hands over; refusals as ZooKeeper's.

mod common;

use common::Net;
use zab::{Membership, ReconfigRefused, ServerId};

fn ids(v: &[u64]) -> Vec<ServerId> {
    v.iter().copied().map(ServerId).collect()
}

/// 3 voters and 2 spares that have joined the leader as learners.
fn three_and_two_spares() -> Net {
    let mut net = Net::with_spares(3, 0, 2);
    net.start();
    net.settle(30);
    assert_eq!(net.leader(), 2, "server 3 leads");
    net.propose("a");
    net.settle(3);
    for i in 0..5 {
        assert_eq!(
            net.delivered[i].len(),
            1,
            "server {} learned the write",
            i + 1
        );
    }
    net
}

#[test]
fn grow_from_three_to_five_then_commit_with_the_new_quorum() {
    let mut net = three_and_two_spares();
    let version = net.reconfig(&[1, 2, 3, 4, 5], &[]).unwrap();
    net.settle(3);
    for p in &net.peers {
        let active = p.active_membership();
        assert_eq!(active.voters, ids(&[1, 2, 3, 4, 5]), "on {}", p.id());
        assert_eq!(active.version, version);
        assert!(p.pending_membership().is_none());
    }
    // Two of five may now be slow: three (4, 5 and the leader) commit.
    net.hold_fsync[0] = true;
    net.hold_fsync[1] = true;
    let z = net.propose("b");
    net.settle(2);
    assert_eq!(net.peers[4].delivered_zxid(), z);
}

#[test]
fn a_pending_configuration_needs_both_quorums() {
    let mut net = three_and_two_spares();
    // The new voters 4 and 5 do not make anything durable: the old quorum alone must not
    // commit the change (nor anything after it).
    net.hold_fsync[3] = true;
    net.hold_fsync[4] = true;
    let version = net.reconfig(&[3, 4, 5], &[]).unwrap();
    net.settle(2);
    let leader = &net.peers[2];
    assert!(
        leader.delivered_zxid() < version,
        "committed on the old quorum alone"
    );
    assert_eq!(
        leader.pending_membership().map(|m| m.version),
        Some(version)
    );
    assert_eq!(
        net.reconfig(&[1, 2, 3], &[]),
        Err(ReconfigRefused::InProgress)
    );
    net.hold_fsync[3] = false;
    net.settle(2);
    assert_eq!(net.peers[2].delivered_zxid(), version);
    assert_eq!(net.peers[2].active_membership().voters, ids(&[3, 4, 5]));
}

#[test]
fn a_removed_leader_hands_over_and_keeps_learning() {
    let mut net = three_and_two_spares();
    let version = net.reconfig(&[1, 2, 4], &[3]).unwrap();
    net.settle(30);
    let leader = net.leader();
    assert_ne!(leader, 2, "the removed leader stepped down");
    assert!(net.peers[leader]
        .active_membership()
        .is_voter(ServerId(leader as u64 + 1)));
    let z = net.propose("after");
    net.settle(3);
    for p in &net.peers {
        assert!(p.active_membership().version >= version);
        if p.id() != ServerId(5) {
            assert_eq!(p.delivered_zxid(), z, "{} learned the write", p.id());
        }
    }
    assert_eq!(net.peers[2].leader(), Some(ServerId(leader as u64 + 1)));
}

#[test]
fn refusals() {
    let mut net = three_and_two_spares();
    assert_eq!(
        net.reconfig(&[], &[1, 2, 3]),
        Err(ReconfigRefused::NoVoters)
    );
    // Voters 6, 7, 8 and 9 are not connected: no quorum of the new configuration is synced.
    assert_eq!(
        net.reconfig(&[3, 6, 7, 8, 9], &[]),
        Err(ReconfigRefused::NoQuorum)
    );
    let mut out = Vec::new();
    // A payload the decoder does not recognize is refused, not a panic.
    let leader = net
        .peers
        .iter_mut()
        .find(|p| p.is_leading())
        .expect("a leader");
    assert_eq!(
        leader.propose_reconfig(bytes::Bytes::from_static(b"not a configuration"), &mut out),
        Err(ReconfigRefused::NotAConfiguration)
    );
    let follower = &mut net.peers[0];
    assert!(matches!(
        follower.propose_reconfig(common::reconfig(&[1], &[]), &mut out),
        Err(ReconfigRefused::NotLeader(_))
    ));
    assert_eq!(
        net.peers[2].active_membership(),
        &Membership::new(ids(&[1, 2, 3]), vec![])
    );
}
