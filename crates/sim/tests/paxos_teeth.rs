//! The Paxos teeth: each deliberately broken variant (`paxos::Bug`, only with the `bugs`
//! feature) must be caught by a sweep as a safety violation. The first seeds are recorded in
//! docs/paxos.md; they come from these very sweeps, and a change to the simulator's schedule
//! changes them.
#![cfg(feature = "bugs")]

use paxos::Bug;
use sim::paxos::sweep;

/// Sweeps `bug` on `acceptors` acceptors until the first violation; asserts it is a safety
/// violation (not lost liveness) on seed `first` (the figure in docs/paxos.md).
fn first_caught(bug: Bug, acceptors: usize, first: u64) {
    let s = sweep(acceptors, 0, 20_000, Some(bug), 1);
    let failed = s.failures.first().unwrap_or_else(|| {
        panic!(
            "{} on {acceptors} acceptors: no violation in 20,000 seeds",
            bug.name()
        )
    });
    let v = failed.violation.as_ref().unwrap();
    assert_ne!(
        v.invariant,
        "liveness",
        "{}: caught only as lost liveness",
        bug.name()
    );
    eprintln!(
        "{} on {acceptors} acceptors: first caught on seed {} ({}: {}) after {} seeds",
        bug.name(),
        failed.seed,
        v.invariant,
        v.detail,
        s.seeds
    );
    assert_eq!(
        failed.seed,
        first,
        "{} on {acceptors} acceptors",
        bug.name()
    );
}

#[test]
fn forget_promise_is_caught() {
    first_caught(Bug::ForgetPromise, 3, 2);
    first_caught(Bug::ForgetPromise, 5, 5);
}

#[test]
fn ignore_accepted_is_caught() {
    first_caught(Bug::IgnoreAccepted, 3, 0);
    first_caught(Bug::IgnoreAccepted, 5, 4);
}

#[test]
fn accept_below_promise_is_caught() {
    first_caught(Bug::AcceptBelowPromise, 3, 0);
    first_caught(Bug::AcceptBelowPromise, 5, 2);
}

#[test]
fn decide_on_minority_is_caught() {
    first_caught(Bug::DecideOnMinority, 3, 127);
    first_caught(Bug::DecideOnMinority, 5, 32);
}
