//! The ledger teeth: each deliberately broken variant (`ledger::Bug`, only with the `bugs`
//! feature) must be caught by a sweep as a safety violation within a bounded number of seeds.
//! The first seeds are recorded in docs/ledgers.md; they come from these very sweeps, and a
//! change to the simulator's schedule changes them.
#![cfg(feature = "bugs")]

use ledger::Bug;
use sim::ledger::sweep;

/// Sweeps `bug` until the first violation; asserts it is a safety violation (not lost
/// liveness) of `invariant` on seed `first` (the figure in docs/ledgers.md).
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
fn recovery_without_fence_is_caught() {
    first_caught(Bug::RecoveryWithoutFence, 0, "fence holds");
}

#[test]
fn fence_too_few_is_caught() {
    first_caught(Bug::FenceTooFew, 352, "fence holds");
}

#[test]
fn recovery_trusts_one_lac_is_caught() {
    first_caught(Bug::RecoveryTrustsOneLac, 0, "closed ledger complete");
}

#[test]
fn ensemble_change_without_cas_is_caught() {
    first_caught(Bug::EnsembleChangeWithoutCas, 8, "closed ledger complete");
}

/// With *fence holds* switched off, the end-to-end invariants alone: recovery without fencing
/// still loses acknowledged entries (the old writer gets entries acknowledged beyond the close,
/// BookKeeper's 4.11 finding), but fencing too few bookies does not, because recovery's reads
/// fence every write set they read from: that bug breaks the fence's own promise (no write
/// quorum keeps Qa unfenced bookies), which only the *fence holds* check sees.
#[test]
fn end_to_end_invariants_alone() {
    use sim::ledger::sweep_with;
    let s = sweep_with(0, 2_000, 1, |o| {
        o.bug = Some(Bug::RecoveryWithoutFence);
        o.fence_check = false;
    });
    let failed = s
        .failures
        .first()
        .expect("recovery without fence caught end to end");
    let v = failed.violation.as_ref().unwrap();
    eprintln!(
        "recovery-without-fence, end to end: seed {} ({}: {})",
        failed.seed, v.invariant, v.detail
    );
    assert_eq!(
        (failed.seed, v.invariant),
        (0, "nothing acknowledged beyond the close")
    );
    let s = sweep_with(0, 2_000, 1, |o| {
        o.bug = Some(Bug::FenceTooFew);
        o.fence_check = false;
    });
    assert!(
        s.failures.is_empty(),
        "fence-too-few caught end to end: {:?}",
        s.failures[0].violation
    );
}
