//! Partition-log sweeps: many seeds, with totals and speed.

use std::time::Instant;

use partition::Bug;

use super::options::LogOptions;
use super::world::{LogReport, LogWorld};

/// Totals of a sweep.
#[derive(Clone, Debug, Default)]
pub struct LogSweep {
    pub seeds: u64,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub cuts: u64,
    pub pauses: u64,
    pub sessions_expired: u64,
    pub controllers: u64,
    pub leader_elections: u64,
    pub isr_changes: u64,
    pub truncations: u64,
    pub produced_records: u64,
    pub acked_all: u64,
    pub acked_leader: u64,
    pub consumed: u64,
    pub converged_after_heal_max: u64,
    pub failures: Vec<LogReport>,
    pub seconds: f64,
}

impl LogSweep {
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }
}

/// Runs one seed (without a trace).
pub fn run(opts: LogOptions) -> LogReport {
    LogWorld::new(opts, false).run().0
}

/// Runs seeds `from..to`; stops after `stop_after` failures.
pub fn sweep(from: u64, to: u64, bug: Option<Bug>, stop_after: usize) -> LogSweep {
    sweep_with(from, to, stop_after, |opts| opts.bug = bug)
}

/// Runs seeds `from..to` with their options changed by `adjust`.
pub fn sweep_with(
    from: u64,
    to: u64,
    stop_after: usize,
    adjust: impl Fn(&mut LogOptions),
) -> LogSweep {
    let start = Instant::now();
    let mut s = LogSweep::default();
    for seed in from..to {
        let mut opts = LogOptions::from_seed(seed);
        adjust(&mut opts);
        let r = run(opts);
        s.seeds += 1;
        s.events += r.events;
        s.messages += r.messages;
        s.dropped += r.dropped;
        s.crashes += r.crashes;
        s.cuts += r.cuts;
        s.pauses += r.pauses;
        s.sessions_expired += r.sessions_expired;
        s.controllers += r.controllers;
        s.leader_elections += r.leader_elections;
        s.isr_changes += r.isr_changes;
        s.truncations += r.truncations;
        s.produced_records += r.produced_records;
        s.acked_all += r.acked_all;
        s.acked_leader += r.acked_leader;
        s.consumed += r.consumed;
        s.converged_after_heal_max = s
            .converged_after_heal_max
            .max(r.converged_after_heal.unwrap_or(0));
        if r.violation.is_some() {
            s.failures.push(r);
            if s.failures.len() >= stop_after {
                break;
            }
        }
    }
    s.seconds = start.elapsed().as_secs_f64();
    s
}
