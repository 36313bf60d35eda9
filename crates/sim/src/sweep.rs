//! Sweeps: many seeds, with totals and speed.

use std::time::Instant;

use zab::Bug;

use crate::options::Options;
use crate::world::Report;

/// Totals of a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepSummary {
    pub seeds: u64,
    pub events: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub committed: u64,
    pub syncs_diff: u64,
    pub syncs_trunc: u64,
    pub syncs_snap: u64,
    pub failures: Vec<Report>,
    pub seconds: f64,
}

impl SweepSummary {
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }

    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// Runs seeds `from..to` on `servers` servers; stops early after `stop_after` failures.
pub fn sweep(
    servers: usize,
    from: u64,
    to: u64,
    bug: Option<Bug>,
    stop_after: usize,
) -> SweepSummary {
    let start = Instant::now();
    let mut summary = SweepSummary::default();
    for seed in from..to {
        let mut opts = Options::from_seed(servers, seed);
        opts.bug = bug;
        let report = crate::run(opts);
        summary.seeds += 1;
        summary.events += report.events;
        summary.crashes += report.crashes;
        summary.partitions += report.partitions;
        summary.dropped += report.dropped;
        summary.duplicated += report.duplicated;
        summary.committed += report.committed;
        summary.syncs_diff += report.syncs_diff;
        summary.syncs_trunc += report.syncs_trunc;
        summary.syncs_snap += report.syncs_snap;
        if report.violation.is_some() {
            summary.failures.push(report);
            if summary.failures.len() >= stop_after {
                break;
            }
        }
    }
    summary.seconds = start.elapsed().as_secs_f64();
    summary
}
