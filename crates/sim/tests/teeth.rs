//! The teeth: every deliberately broken protocol variant (`zab::Bug`, which exists only with the
//! `bugs` feature) is caught by a sweep, and not merely as a liveness failure.
#![cfg(feature = "bugs")]

use sim::sweep::sweep;
use zab::Bug;

fn assert_caught(bug: Bug) {
    for servers in [3, 5] {
        let summary = sweep(servers, 0, 20_000, Some(bug), 1);
        let failed = summary
            .failures
            .first()
            .unwrap_or_else(|| panic!("{} on {servers} servers was not caught", bug.name()));
        let v = failed.violation.as_ref().unwrap();
        assert_ne!(
            v.invariant,
            "liveness",
            "{} caught only as a liveness failure",
            bug.name()
        );
    }
}

#[test]
fn teeth_ack_before_durable() {
    assert_caught(Bug::AckBeforeDurable);
}

#[test]
fn teeth_ack_newleader_before_durable() {
    assert_caught(Bug::AckNewLeaderBeforeDurable);
}

#[test]
fn teeth_commit_on_minority() {
    assert_caught(Bug::CommitOnMinority);
}

#[test]
fn teeth_accept_stale_newepoch() {
    assert_caught(Bug::AcceptStaleNewEpoch);
}

#[test]
fn teeth_skip_trunc() {
    assert_caught(Bug::SkipTrunc);
}

#[test]
fn teeth_confirm_without_quorum() {
    assert_caught(Bug::ConfirmWithoutQuorum);
}
