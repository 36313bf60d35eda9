//! Sweeps: many seeds, with totals and speed.

use std::time::Instant;

use zab::Bug;

use crate::options::Options;
use crate::report::{FaultCounts, Report};

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
    /// Log reads for DIFFs, and those refused (see [`Report::log_reads`]).
    pub log_reads: u64,
    pub log_reads_refused: u64,
    /// Partition heals timed (see [`Report::recoveries`]), their total and the longest, in ticks.
    pub recoveries: u64,
    pub recovery_ticks_total: f64,
    pub recovery_ticks_max: f64,
    /// Faults by kind, over every seed.
    pub faults: FaultCounts,
    /// Reconfigurations proposed, refused, and activations (per server), over every seed.
    pub reconfigs_proposed: u64,
    pub reconfigs_refused: u64,
    pub reconfigs_activated: u64,
    pub failures: Vec<Report>,
    pub seconds: f64,
}

impl SweepSummary {
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }

    /// The mean time from a partition healing to one leader with everyone in broadcast.
    pub fn recovery_ticks_mean(&self) -> f64 {
        self.recovery_ticks_total / (self.recoveries.max(1) as f64)
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
    sweep_observed(servers, 0, from, to, bug, stop_after)
}

/// As [`sweep`], with `observers` non-voting servers beside the `servers` voters.
pub fn sweep_observed(
    servers: usize,
    observers: usize,
    from: u64,
    to: u64,
    bug: Option<Bug>,
    stop_after: usize,
) -> SweepSummary {
    let shape = Shape {
        servers,
        observers,
        ..Shape::default()
    };
    sweep_shaped(shape, from, to, bug, stop_after)
}

/// The ensemble a sweep runs: voters, observers, spares, and whether reconfigurations join
/// the faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shape {
    pub servers: usize,
    pub observers: usize,
    pub spares: usize,
    pub reconfig: bool,
}

/// As [`sweep`], for any [`Shape`].
pub fn sweep_shaped(
    shape: Shape,
    from: u64,
    to: u64,
    bug: Option<Bug>,
    stop_after: usize,
) -> SweepSummary {
    let start = Instant::now();
    let mut summary = SweepSummary::default();
    for seed in from..to {
        let mut opts = Options::from_seed(shape.servers, seed);
        opts.observers = shape.observers;
        opts.spares = shape.spares;
        opts.reconfig = shape.reconfig;
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
        summary.log_reads += report.log_reads;
        summary.log_reads_refused += report.log_reads_refused;
        summary.recoveries += report.recoveries;
        summary.recovery_ticks_total +=
            report.recovery_units_total as f64 / crate::options::UNITS_PER_TICK as f64;
        summary.recovery_ticks_max = summary.recovery_ticks_max.max(report.recovery_ticks_max());
        summary.faults.add(&report.faults);
        summary.reconfigs_proposed += report.reconfigs_proposed;
        summary.reconfigs_refused += report.reconfigs_refused;
        summary.reconfigs_activated += report.reconfigs_activated;
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
