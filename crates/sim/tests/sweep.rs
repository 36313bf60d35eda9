//! The simulator sweeps that CI runs: thousands of seeds over 3, 5 and 7 servers with every
//! fault kind, all invariants and per-step rules checked at every step. The teeth (every
//! deliberately broken protocol variant is caught on the first seed where its bad step
//! happens) are in teeth.rs, built with the `bugs` feature.

use sim::sweep::sweep;
use sim::{Options, World};

fn assert_clean(servers: usize, from: u64, to: u64) {
    let summary = sweep(servers, from, to, None, 1);
    if let Some(failed) = summary.failures.first() {
        let v = failed.violation.as_ref().unwrap();
        panic!(
            "seed {} on {servers} servers: {}: {} (replay: quorum sim --servers {servers} --seed {})",
            failed.seed, v.invariant, v.detail, failed.seed
        );
    }
    // The faults really happened.
    assert!(summary.crashes > 0 && summary.partitions > 0 && summary.dropped > 0);
    assert!(summary.duplicated > 0 && summary.committed > 0);
    assert!(summary.syncs_diff > 0 && summary.syncs_trunc > 0 && summary.syncs_snap > 0);
    assert!(summary.log_reads > 0 && summary.log_reads_refused > 0);
    let f = &summary.faults;
    assert!(f.overlapping > 0 && f.drifting_servers > 0, "{f}");
    assert!(
        f.install_half_written > 0 && f.install_log_not_reset > 0,
        "{f}"
    );
    assert!(
        f.epoch_write_old_kept > 0 && f.epoch_write_new_kept > 0,
        "{f}"
    );
}

#[test]
fn three_servers_10000_seeds() {
    assert_clean(3, 0, 10_000);
}

#[test]
fn five_servers_6000_seeds() {
    assert_clean(5, 0, 6_000);
}

#[test]
fn seven_servers_2000_seeds() {
    assert_clean(7, 0, 2_000);
}

/// Observers (non-voting learners) beside the voters: every quorum is still one of voters
/// (the per-step rules count only what voters sent), no observer leads, and observers deliver
/// the same sequence as everyone else.
#[test]
fn three_voters_two_observers_2000_seeds() {
    let summary = sim::sweep::sweep_observed(3, 2, 0, 2_000, None, 1);
    if let Some(failed) = summary.failures.first() {
        let v = failed.violation.as_ref().unwrap();
        panic!(
            "seed {} with 3 voters and 2 observers: {}: {} (replay: quorum sim --servers 3 --observers 2 --seed {})",
            failed.seed, v.invariant, v.detail, failed.seed
        );
    }
    assert!(summary.crashes > 0 && summary.partitions > 0 && summary.committed > 0);
    assert!(summary.syncs_trunc > 0 && summary.syncs_snap > 0);
}

/// Seeds that once failed (found by sweeps while the core was built), kept as regression tests.
/// The simulator has changed since, so they may no longer drive the same schedule; they are
/// cheap, and they stay.
#[test]
fn regression_seeds() {
    for (servers, seed) in [(3, 383), (3, 217_545), (7, 3677), (7, 4082), (5, 2_050_307)] {
        let report = sim::run(Options::from_seed(servers, seed));
        if let Some(v) = report.violation {
            panic!(
                "seed {seed} on {servers} servers: {}: {}",
                v.invariant, v.detail
            );
        }
    }
}

/// A seed replays bit for bit, the drawn faults included: seeds with crashes in the middle of
/// SNAP installs and epoch-file writes, overlapping partitions and drifting clocks.
#[test]
fn a_seed_replays_bit_for_bit() {
    let trace = |seed| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let tracer = sim::trace::Tracer::new(Some(Box::new(Shared(buffer.clone()))), 0);
        let (report, _) = World::new(Options::from_seed(5, seed), Some(tracer)).run();
        let bytes = buffer.lock().unwrap().clone();
        (report.events, report.committed, report.faults, bytes)
    };
    let mut faults = sim::FaultCounts::default();
    let mut text = String::new();
    for seed in [6, 18, 27, 83] {
        let (a, b) = (trace(seed), trace(seed));
        assert_eq!(a, b, "seed {seed} did not replay bit for bit");
        assert!(a.0 > 1000 && !a.3.is_empty());
        faults.add(&a.2);
        text.push_str(&String::from_utf8(a.3).unwrap());
    }
    assert!(faults.install_half_written + faults.install_log_not_reset > 0);
    assert!(faults.epoch_write_old_kept + faults.epoch_write_new_kept > 0);
    assert!(
        faults.overlapping > 0 && faults.drifting_servers > 0,
        "{faults}"
    );
    for kind in [
        "\"ev\":\"send\"",
        "\"ev\":\"deliver\"",
        "\"ev\":\"phase\"",
        "\"ev\":\"persist\"",
        "\"ev\":\"append\"",
        "\"ev\":\"durable\"",
        "\"ev\":\"snapshot\"",
        "\"ev\":\"established\"",
        "\"ev\":\"confirm\"",
        "\"ev\":\"confirmed\"",
        "\"during\":\"install\"",
        "\"promised\":",
    ] {
        assert!(text.contains(kind), "trace lacks {kind}");
    }
}
