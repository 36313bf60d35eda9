//! The partition-log teeth: each deliberately broken variant (`partition::Bug`, only with the
//! `bugs` feature) must be caught by a sweep as a safety violation within a bounded number of
//! seeds. The first seeds are recorded in docs/log.md; they come from these very sweeps, and a
//! change to the simulator's schedule changes them.
#![cfg(feature = "bugs")]

use partition::Bug;
use sim::log::sweep;

/// Sweeps `bug` until the first violation; asserts it is a safety violation (not lost
/// liveness) of `invariant` on seed `first` (the figure in docs/log.md).
fn first_caught(bug: Bug, first: u64, invariant: &str) {
    let s = sweep(0, 2_000, Some(bug), 1);
    let failed = s
        .failures
        .first()
        .unwrap_or_else(|| panic!("{}: no violation in 2,000 seeds", bug.name()));
    let v = failed.violation.as_ref().unwrap();
    eprintln!(
        "{}: first caught on seed {} ({}: {}) after {} seeds",
        bug.name(),
        failed.seed,
        v.invariant,
        v.detail,
        s.seeds
    );
    assert_ne!(
        v.invariant,
        "liveness",
        "{}: caught only as lost liveness",
        bug.name()
    );
    assert_eq!(
        (failed.seed, v.invariant),
        (first, invariant),
        "{}",
        bug.name()
    );
}

#[test]
fn ack_all_on_leader_only_is_caught() {
    first_caught(Bug::AckAllOnLeaderOnly, 5, "acknowledged records kept");
}

#[test]
fn hw_ignores_isr_is_caught() {
    first_caught(Bug::HwIgnoresIsr, 11, "HW never goes back");
}

#[test]
fn truncate_to_hw_is_caught() {
    first_caught(Bug::TruncateToHw, 14, "acknowledged records kept");
}

#[test]
fn leader_ignores_refusal_is_caught() {
    first_caught(Bug::LeaderIgnoresRefusal, 17, "HW never goes back");
}
