//! Paxos sweeps: many seeds, with totals and speed.

use std::time::Instant;

use paxos::Bug;

use super::options::PaxosOptions;
use super::world::{PaxosReport, PaxosWorld};

/// Totals of a sweep.
#[derive(Clone, Debug, Default)]
pub struct PaxosSweep {
    pub seeds: u64,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub crashes: u64,
    pub partitions: u64,
    /// Seeds with more than one proposer (competing ballots).
    pub contended: u64,
    /// The highest ballot round reached in any seed (duelling ballots drive it up).
    pub max_round: u64,
    /// The longest time from the heal until every process decided, in units.
    pub decide_after_heal_max: u64,
    pub failures: Vec<PaxosReport>,
    pub seconds: f64,
}

impl PaxosSweep {
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }
}

/// Runs one seed (without a trace).
pub fn run(opts: PaxosOptions) -> PaxosReport {
    PaxosWorld::new(opts, false).run().0
}

/// Runs seeds `from..to` on `acceptors` acceptors; stops after `stop_after` failures.
pub fn sweep(
    acceptors: usize,
    from: u64,
    to: u64,
    bug: Option<Bug>,
    stop_after: usize,
) -> PaxosSweep {
    let start = Instant::now();
    let mut s = PaxosSweep::default();
    for seed in from..to {
        let mut opts = PaxosOptions::from_seed(acceptors, seed);
        opts.bug = bug;
        let contended = opts.proposers > 1;
        let report = run(opts);
        s.seeds += 1;
        s.events += report.events;
        s.messages += report.messages;
        s.dropped += report.dropped;
        s.duplicated += report.duplicated;
        s.crashes += report.crashes;
        s.partitions += report.partitions;
        s.contended += u64::from(contended);
        s.max_round = s.max_round.max(report.max_round);
        s.decide_after_heal_max = s
            .decide_after_heal_max
            .max(report.decided_after_heal.unwrap_or(0));
        if report.violation.is_some() {
            s.failures.push(report);
            if s.failures.len() >= stop_after {
                break;
            }
        }
    }
    s.seconds = start.elapsed().as_secs_f64();
    s
}
