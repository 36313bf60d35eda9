//! Histories of client operations against a ZooKeeper-protocol ensemble, and the checkers that
//! read them (issue 6; the format is documented in docs/chaos.md).
//!
//! - [`history`]: the JSON-lines event format ([`Event`]) and its pairing into operations
//!   ([`Op`]);
//! - [`linear`]: linearizability of writes, compare-and-set and sync-then-read, per znode
//!   (Wing–Gong search with Lowe's just-in-time linearization and memoization);
//! - [`checks`]: per-session monotonic reads, no lost acknowledged write, sequential names,
//!   ephemerals;
//! - [`check`]: all of them, returning the [`Anomaly`]s found, each with the smallest part of the
//!   history that shows it.

pub mod checks;
pub mod history;
pub mod linear;

pub use history::{Event, Kind, Op, OpKind, Outcome};

/// One violated guarantee and the operations that show it.
#[derive(Debug, Clone)]
pub struct Anomaly {
    /// Which checker found it (`linearizable`, `monotonic-reads`, `lost-write`, `sequential`,
    /// `ephemeral`).
    pub checker: &'static str,
    /// The znode (or parent) concerned.
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// The offending part of the history, in invocation order.
    pub ops: Vec<Op>,
}

impl std::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "[{}] {}: {}", self.checker, self.path, self.message)?;
        for op in &self.ops {
            writeln!(f, "    {op}")?;
        }
        Ok(())
    }
}

/// What [`check`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// Operations in the history.
    pub ops: usize,
    /// Completed successfully.
    pub ok: usize,
    /// Failed definitely (the server answered with an error).
    pub failed: usize,
    /// Indeterminate (timeout, connection loss, expiry while in flight, or never completed).
    pub indeterminate: usize,
    /// Anomalies, empty when the history passes every checker.
    pub anomalies: Vec<Anomaly>,
}

/// Runs every checker on a history (events in any order; they are paired by id).
pub fn check(events: &[Event]) -> Report {
    let ops = history::pair(events);
    let mut report = Report {
        ops: ops.len(),
        ..Report::default()
    };
    for op in &ops {
        match op.outcome {
            Outcome::Ok => report.ok += 1,
            Outcome::Fail => report.failed += 1,
            Outcome::Info => report.indeterminate += 1,
        }
    }
    report.anomalies.extend(linear::check_registers(&ops));
    report.anomalies.extend(checks::monotonic_reads(&ops));
    report.anomalies.extend(checks::lost_writes(&ops));
    report.anomalies.extend(checks::sequential(&ops));
    report.anomalies.extend(checks::ephemerals(&ops));
    report
}
