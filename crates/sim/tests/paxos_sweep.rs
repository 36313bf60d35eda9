//! Paxos under the simulator's fault model: 10,000 seeds on 3 acceptors and 10,000 on 5, every
//! one safe (agreement, validity, integrity, durable before answering) and live (every process
//! decides within the bound once one proposer runs alone after the heal).

use sim::paxos::{sweep, PaxosSweep};

fn assert_clean(acceptors: usize, seeds: u64) -> PaxosSweep {
    let s = sweep(acceptors, 0, seeds, None, 1);
    if let Some(failed) = s.failures.first() {
        let v = failed.violation.as_ref().unwrap();
        panic!(
            "{acceptors} acceptors, seed {}: {} violated: {}\nreplay: quorum sim --protocol paxos --acceptors {acceptors} --seed {}",
            failed.seed, v.invariant, v.detail, failed.seed
        );
    }
    eprintln!(
        "{acceptors} acceptors: {} seeds in {:.1}s ({:.0} seeds/s), {} events, {} messages ({} dropped, {} duplicated), {} crashes, {} partitions, {} contended, highest round {}, longest decision after heal {} units",
        s.seeds, s.seconds, s.seeds_per_second(), s.events, s.messages, s.dropped, s.duplicated,
        s.crashes, s.partitions, s.contended, s.max_round, s.decide_after_heal_max
    );
    s
}

#[test]
fn ten_thousand_seeds_on_three_acceptors() {
    let s = assert_clean(3, 10_000);
    assert!(s.crashes > 1_000 && s.partitions > 1_000 && s.contended > 1_000);
}

#[test]
fn ten_thousand_seeds_on_five_acceptors() {
    let s = assert_clean(5, 10_000);
    assert!(s.crashes > 1_000 && s.partitions > 1_000 && s.contended > 1_000);
}

#[test]
fn a_seed_replays_bit_for_bit() {
    use sim::paxos::{trace, PaxosOptions, PaxosWorld};
    let lines = |seed| {
        let (report, events) = PaxosWorld::new(PaxosOptions::from_seed(3, seed), true).run();
        assert!(report.violation.is_none());
        events
            .iter()
            .map(|(t, e)| trace::json(*t, e))
            .collect::<Vec<_>>()
    };
    for seed in [0, 7, 4242] {
        assert_eq!(lines(seed), lines(seed));
    }
}
