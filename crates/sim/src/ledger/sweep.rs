//! Ledger sweeps: many seeds, with totals and speed.

use std::time::Instant;

use ledger::Bug;

use super::options::LedgerOptions;
use super::world::{LedgerReport, LedgerWorld};

/// Totals of a sweep.
#[derive(Clone, Debug, Default)]
pub struct LedgerSweep {
    pub seeds: u64,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub pauses: u64,
    pub appended: u64,
    /// Entries acknowledged to writers, summed over seeds.
    pub acknowledged: u64,
    pub ensemble_changes: u64,
    pub recoveries: u64,
    /// Recoveries started while another was still at work.
    pub concurrent_recoveries: u64,
    /// Seeds where a recovery completed its fence while the writer was still writing.
    pub writer_fenced: u64,
    /// Seeds whose ledger was closed by a recovery or the writer.
    pub closed: u64,
    pub entries_read: u64,
    /// The longest time from the heal until the ledger was closed and read back, in units.
    pub done_after_heal_max: u64,
    pub failures: Vec<LedgerReport>,
    pub seconds: f64,
}

impl LedgerSweep {
    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }
}

/// Runs one seed (without a trace).
pub fn run(opts: LedgerOptions) -> LedgerReport {
    LedgerWorld::new(opts, false).run().0
}

/// Runs seeds `from..to`; stops after `stop_after` failures.
pub fn sweep(from: u64, to: u64, bug: Option<Bug>, stop_after: usize) -> LedgerSweep {
    sweep_with(from, to, stop_after, |opts| opts.bug = bug)
}

/// Runs seeds `from..to` with their options changed by `adjust`; stops after `stop_after`
/// failures.
pub fn sweep_with(
    from: u64,
    to: u64,
    stop_after: usize,
    adjust: impl Fn(&mut LedgerOptions),
) -> LedgerSweep {
    let start = Instant::now();
    let mut s = LedgerSweep::default();
    for seed in from..to {
        let mut opts = LedgerOptions::from_seed(seed);
        adjust(&mut opts);
        let r = run(opts);
        s.seeds += 1;
        s.events += r.events;
        s.messages += r.messages;
        s.dropped += r.dropped;
        s.crashes += r.crashes;
        s.partitions += r.partitions;
        s.pauses += r.pauses;
        s.appended += r.appended;
        s.acknowledged += r.acknowledged.map_or(0, |a| a + 1);
        s.ensemble_changes += r.ensemble_changes;
        s.recoveries += r.recoveries;
        s.concurrent_recoveries += r.concurrent_recoveries;
        s.writer_fenced += u64::from(r.writer_fenced);
        s.closed += u64::from(r.closed_last.is_some());
        s.entries_read += r.entries_read;
        s.done_after_heal_max = s.done_after_heal_max.max(r.done_after_heal.unwrap_or(0));
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
