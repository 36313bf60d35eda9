//! The partition log under the simulator's fault model: every seed safe (the invariants of
//! `sim::log::checks`) and live (after the heal every partition converges). `LOG_SEEDS=N`
//! sweeps another count.

use sim::log::{sweep, LogSweep};

fn assert_clean(from: u64, to: u64) -> LogSweep {
    let s = sweep(from, to, None, 1);
    if let Some(failed) = s.failures.first() {
        let v = failed.violation.as_ref().unwrap();
        panic!(
            "seed {}: {} violated: {}\nreplay: quorum sim --protocol log --seed {}",
            failed.seed, v.invariant, v.detail, failed.seed
        );
    }
    eprintln!(
        "{} seeds in {:.1}s ({:.0} seeds/s): {} events, {} messages ({} dropped), {} crashes, {} cuts, {} pauses, {} sessions expired, {} controllers, {} leader elections, {} ISR changes, {} truncations, {} records produced, {} acked acks=all, {} acked acks=1, {} consumed, slowest convergence after heal {} units",
        s.seeds, s.seconds, s.seeds_per_second(), s.events, s.messages, s.dropped, s.crashes,
        s.cuts, s.pauses, s.sessions_expired, s.controllers, s.leader_elections, s.isr_changes,
        s.truncations, s.produced_records, s.acked_all, s.acked_leader, s.consumed,
        s.converged_after_heal_max
    );
    s
}

#[test]
fn ten_thousand_seeds() {
    let to: u64 = std::env::var("LOG_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let s = assert_clean(0, to);
    if to >= 10_000 {
        assert!(s.crashes > 30_000 && s.cuts > 30_000 && s.pauses > 20_000);
        assert!(s.leader_elections > 30_000 && s.isr_changes > 30_000 && s.truncations > 2_000);
        assert!(s.acked_all > 200_000 && s.consumed > 300_000);
    }
}

#[test]
fn a_seed_replays_bit_for_bit() {
    use sim::log::{LogOptions, LogWorld};
    let lines = |seed| {
        let (report, log) = LogWorld::new(LogOptions::from_seed(seed), true).run();
        assert!(report.violation.is_none(), "{report:?}");
        log
    };
    for seed in [0, 7, 4242] {
        assert_eq!(lines(seed), lines(seed));
    }
}

/// `LOG_TRACE_SEED=N cargo test -p sim --test log_sweep trace -- --ignored --nocapture` prints
/// a seed's events.
#[test]
#[ignore]
fn trace() {
    use sim::log::{LogOptions, LogWorld};
    let seed = std::env::var("LOG_TRACE_SEED").unwrap().parse().unwrap();
    let opts = LogOptions::from_seed(seed);
    eprintln!("{opts:?}");
    let (report, log) = LogWorld::new(opts, true).run();
    for (at, line) in log {
        eprintln!("{at:>6} {line}");
    }
    eprintln!("{report:?}");
}
