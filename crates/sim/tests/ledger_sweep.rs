//! Ledgers under the simulator's fault model: 20,000 seeds, every one safe (the invariants of
//! `sim::ledger::checks`) and live (after the heal the ledger closes and reads back whole).

use sim::ledger::{sweep, LedgerSweep};

fn assert_clean(from: u64, to: u64) -> LedgerSweep {
    let s = sweep(from, to, None, 1);
    if let Some(failed) = s.failures.first() {
        let v = failed.violation.as_ref().unwrap();
        panic!(
            "seed {}: {} violated: {}\nreplay: quorum sim --protocol ledger --seed {}",
            failed.seed, v.invariant, v.detail, failed.seed
        );
    }
    eprintln!(
        "{} seeds in {:.1}s ({:.0} seeds/s): {} events, {} messages ({} dropped), {} bookie crashes, {} cuts, {} pauses, {} entries appended, {} acknowledged, {} ensemble changes, {} recoveries ({} started while another was at work; {} seeds fenced a writer still writing), {} closed, {} entries read, longest close-and-read-back after heal {} units",
        s.seeds, s.seconds, s.seeds_per_second(), s.events, s.messages, s.dropped, s.crashes,
        s.partitions, s.pauses, s.appended, s.acknowledged, s.ensemble_changes, s.recoveries,
        s.concurrent_recoveries,
        s.writer_fenced, s.closed, s.entries_read, s.done_after_heal_max
    );
    s
}

#[test]
fn twenty_thousand_seeds() {
    let s = assert_clean(0, 20_000);
    assert_eq!(
        s.closed, s.seeds,
        "every seed's ledger closes after the heal"
    );
    assert!(s.crashes > 10_000 && s.partitions > 10_000 && s.pauses > 10_000);
    assert!(s.ensemble_changes > 2_000 && s.writer_fenced > 2_000 && s.recoveries > 20_000);
    assert!(s.concurrent_recoveries > 1_000);
}

#[test]
fn a_seed_replays_bit_for_bit() {
    use sim::ledger::{LedgerOptions, LedgerWorld};
    let lines = |seed| {
        let (report, log) = LedgerWorld::new(LedgerOptions::from_seed(seed), true).run();
        assert!(report.violation.is_none(), "{report:?}");
        log
    };
    for seed in [0, 7, 4242] {
        assert_eq!(lines(seed), lines(seed));
    }
}
