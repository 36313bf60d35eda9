//! The summary printed at the end of a ledger chaos run: what the workload did, what the
//! nemesis did, and every violation the checker found.

use super::check::Violation;
use super::history::{Event, What};
use super::nemesis::Injected;
use std::collections::{BTreeMap, BTreeSet};

/// Figures of a run, counted from its history.
#[derive(Debug, Default)]
pub(super) struct Figures {
    pub(super) ledgers: usize,
    pub(super) acked: usize,
    pub(super) log_acked: usize,
    pub(super) writers_stopped: BTreeMap<String, usize>,
    pub(super) writer_closes: usize,
    pub(super) recoveries: usize,
    pub(super) recoveries_failed: usize,
    pub(super) take_overs: usize,
    pub(super) take_overs_failed: usize,
    /// Acknowledgements after a recovery closed the ledger, of entries it kept (not violations).
    pub(super) late_acks_within: usize,
}

/// Counts `history`.
pub(super) fn figures(history: &[Event]) -> Figures {
    let mut f = Figures::default();
    let mut ledgers = BTreeSet::new();
    for e in history {
        match &e.what {
            What::Created { ledger, .. } => {
                ledgers.insert(*ledger);
            }
            What::LogTakeOver { ledger, .. } => {
                ledgers.insert(*ledger);
                f.take_overs += 1;
            }
            What::Acked { log, .. } => {
                f.acked += 1;
                f.log_acked += usize::from(*log);
            }
            What::AppendFailed { error, .. } => {
                let why = error.split(':').next().unwrap_or(error).to_string();
                *f.writers_stopped.entry(why).or_default() += 1;
            }
            What::WriterClosed { .. } => f.writer_closes += 1,
            What::RecoveryStarted { .. } => {}
            What::Recovered { .. } => f.recoveries += 1,
            What::RecoveryFailed { .. } => f.recoveries_failed += 1,
            What::LogTakeOverFailed { .. } => f.take_overs_failed += 1,
        }
    }
    f.ledgers = ledgers.len();
    f
}

/// Prints the summary.
pub(super) fn print(
    f: &Figures,
    final_recoveries: usize,
    windows: &[Injected],
    violations: &[Violation],
) {
    println!("summary (ledgers):");
    println!(
        "  ledgers {}; entries acknowledged {} (log {}); closed by their writer {}",
        f.ledgers, f.acked, f.log_acked, f.writer_closes
    );
    println!(
        "  writers stopped (first failed append): {:?}",
        f.writers_stopped
    );
    println!(
        "  acknowledgements after a recovery closed the ledger, of entries it kept: {}",
        f.late_acks_within
    );
    println!(
        "  recoveries {} (failed {}), of which {final_recoveries} in the final phase",
        f.recoveries, f.recoveries_failed
    );
    println!(
        "  log take-overs {} (failed {})",
        f.take_overs, f.take_overs_failed
    );
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for w in windows {
        *kinds.entry(format!("{:?}", w.fault)).or_default() += 1;
    }
    println!("  faults injected {}: {kinds:?}", windows.len());
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for v in violations {
        *by_kind.entry(v.kind).or_default() += 1;
    }
    println!("  violations: {} {by_kind:?}", violations.len());
    for v in violations.iter().take(20) {
        println!("    {v}");
    }
}
