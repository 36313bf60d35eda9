//! The checker of a log chaos run: the recorded history against the partitions' final logs,
//! read once every fault is healed and every replica has caught up.
//!
//! What must hold (docs/log.md, "Chaos on real processes"):
//! - every acknowledged record is in its partition at its acknowledged offset, on the leader
//!   and on every ISR member of the final state;
//! - no record is in the log twice, acknowledged or not (idempotent retries), and none is there
//!   that no producer sent;
//! - every ISR member holds the leader's log (the committed log: HW = LEO at the end);
//! - each consumer session, which started at offset 0, read offsets 0, 1, 2, … without a gap,
//!   each holding the record the final log holds there: a prefix of the final log.

use super::history::{History, Outcome};
use partition::{BrokerId, Offset};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

/// One partition at the end of the run.
#[derive(Clone, Debug)]
pub(super) struct FinalPartition {
    /// The ISR of the final state.
    pub(super) isr: Vec<BrokerId>,
    /// The log read from the leader (record at index = offset), or why it could not be.
    pub(super) leader_log: Result<Vec<String>, String>,
    /// Each ISR member's log as read from its disk, or why it could not be.
    pub(super) replicas: BTreeMap<BrokerId, Result<Vec<String>, String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Violation {
    pub(super) kind: &'static str,
    pub(super) detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind, self.detail)
    }
}

/// Checks `history` against the final partitions (by partition number).
pub(super) fn check(history: &History, fin: &BTreeMap<u32, FinalPartition>) -> Vec<Violation> {
    let mut found = Vec::new();
    let logs: BTreeMap<u32, &[String]> = fin
        .iter()
        .filter_map(|(&p, f)| match &f.leader_log {
            Ok(log) => Some((p, log.as_slice())),
            Err(e) => {
                violation(&mut found, "final-read", format!("partition {p}: {e}"));
                None
            }
        })
        .collect();
    once_and_sent(history, &logs, &mut found);
    acknowledged(history, fin, &logs, &mut found);
    replicas_agree(fin, &logs, &mut found);
    consumers(history, &logs, &mut found);
    found
}

fn violation(found: &mut Vec<Violation>, kind: &'static str, detail: String) {
    found.push(Violation { kind, detail });
}

/// No record twice in the logs (across partitions too), none that nobody sent.
fn once_and_sent(history: &History, logs: &BTreeMap<u32, &[String]>, found: &mut Vec<Violation>) {
    let sent: HashSet<&str> = history.sent.iter().map(|s| s.record.as_str()).collect();
    let mut seen: HashMap<&str, (u32, usize)> = HashMap::new();
    for (&p, log) in logs {
        for (offset, record) in log.iter().enumerate() {
            if let Some((p0, o0)) = seen.insert(record, (p, offset)) {
                let detail = format!("{record:?} at {p0}@{o0} and at {p}@{offset}");
                violation(found, "duplicate", detail);
            }
            if !sent.contains(record.as_str()) {
                let detail = format!("{record:?} at {p}@{offset} was never sent");
                violation(found, "phantom", detail);
            }
        }
    }
}

/// Every acknowledged record at its offset, on the leader and every ISR member.
fn acknowledged(
    history: &History,
    fin: &BTreeMap<u32, FinalPartition>,
    logs: &BTreeMap<u32, &[String]>,
    found: &mut Vec<Violation>,
) {
    for s in &history.sent {
        let Outcome::Acked(offset) = s.outcome else {
            continue;
        };
        let p = s.partition;
        if let Some(log) = logs.get(&p) {
            if log.get(offset as usize) != Some(&s.record) {
                let there = log.get(offset as usize);
                let detail = format!(
                    "{:?} acknowledged at {p}@{offset}; the final log has {there:?} there",
                    s.record
                );
                violation(found, "lost", detail);
            }
        }
        let Some(f) = fin.get(&p) else {
            violation(
                found,
                "lost",
                format!("partition {p} of {:?} is gone", s.record),
            );
            continue;
        };
        for (b, replica) in &f.replicas {
            let Ok(log) = replica else { continue };
            if log.get(offset as usize) != Some(&s.record) {
                let detail = format!(
                    "{:?} acknowledged at {p}@{offset} is not there on ISR member {b}",
                    s.record
                );
                violation(found, "missing-on-replica", detail);
            }
        }
    }
}

/// Every ISR member's log is the leader's (nothing read: a violation).
fn replicas_agree(
    fin: &BTreeMap<u32, FinalPartition>,
    logs: &BTreeMap<u32, &[String]>,
    found: &mut Vec<Violation>,
) {
    for (p, f) in fin {
        for b in &f.isr {
            let detail = match (f.replicas.get(b), logs.get(p)) {
                (None, _) => format!("partition {p}: ISR member {b} was not read"),
                (Some(Err(e)), _) => format!("partition {p}: ISR member {b}: {e}"),
                (Some(Ok(_)), None) => continue,
                (Some(Ok(r)), Some(l)) if r.as_slice() == *l => continue,
                (Some(Ok(r)), Some(l)) => {
                    let at = r.iter().zip(l.iter()).take_while(|(a, b)| a == b).count();
                    format!(
                        "partition {p}: ISR member {b} holds {} records, the leader {}; \
                         they differ from offset {at}",
                        r.len(),
                        l.len()
                    )
                }
            };
            violation(found, "replica-diverges", detail);
        }
    }
}

/// Each consumer session read a prefix of its partition's final log.
fn consumers(history: &History, logs: &BTreeMap<u32, &[String]>, found: &mut Vec<Violation>) {
    for (i, read) in history.reads.iter().enumerate() {
        let p = read.partition;
        let Some(log) = logs.get(&p) else { continue };
        for (next, (offset, record)) in (0..).zip(&read.records) {
            let next: Offset = next;
            if *offset != next {
                let detail = format!("session {i} on {p}: offset {offset} after {next}");
                violation(found, "consumer-gap", detail);
                break;
            }
            if log.get(*offset as usize) != Some(record) {
                let detail = format!(
                    "session {i} read {record:?} at {p}@{offset}; the final log has {:?}",
                    log.get(*offset as usize)
                );
                violation(found, "consumer-diverges", detail);
                break;
            }
        }
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
