//! The checker of a ledger chaos run: the recorded history against what the ledgers hold once
//! every fault is healed and every ledger is closed.
//!
//! What must hold (docs/chaos.md, "Ledgers"):
//! - every acknowledged entry is in its ledger, at its entry id, with its payload;
//! - a closed ledger's last entry is at least every entry acknowledged in it;
//! - no writer gets an acknowledgement, after a recovery of its ledger has fenced and closed it,
//!   of an entry beyond the last entry the recovery closed at (see [`acks_after_fencing`] for
//!   why a late acknowledgement of an entry the recovery kept is allowed);
//! - every close of a ledger (by its writer or by any recovery) names the same last entry;
//! - the log of ledgers reads as one sequence holding every acknowledged log entry exactly once,
//!   at its position, in the order the acknowledgements came.

use super::history::{Event, What};
use ledger::{EntryId, LedgerId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// What one ledger holds after the final recoveries.
#[derive(Clone, Debug)]
pub(super) struct FinalLedger {
    /// `Some(last)` once CLOSED (`last` is `None` when closed empty); `None`: still not closed.
    pub(super) closed: Option<Option<EntryId>>,
    /// Every entry read back through the reader, or why the read failed.
    pub(super) entries: Result<BTreeMap<EntryId, String>, String>,
}

/// Everything read back at the end.
#[derive(Clone, Debug)]
pub(super) struct Final {
    pub(super) ledgers: BTreeMap<LedgerId, FinalLedger>,
    /// The log of ledgers, read in order, or why it could not be.
    pub(super) log: Result<Vec<(LedgerId, EntryId, String)>, String>,
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

/// What the checker found.
#[derive(Clone, Debug, Default)]
pub(super) struct Report {
    pub(super) violations: Vec<Violation>,
    /// Acknowledgements received after a recovery closed their ledger, of entries within its
    /// last entry (see [`acks_after_fencing`]): counted, not violations.
    pub(super) late_acks_within: usize,
}

/// Checks `history` against `fin`.
pub(super) fn check(history: &[Event], fin: &Final) -> Report {
    let mut found = Vec::new();
    acknowledged_entries(history, fin, &mut found);
    let late_acks_within = acks_after_fencing(history, &mut found);
    closes_agree(history, fin, &mut found);
    log_sequence(history, fin, &mut found);
    Report {
        violations: found,
        late_acks_within,
    }
}

fn violation(found: &mut Vec<Violation>, kind: &'static str, detail: String) {
    found.push(Violation { kind, detail });
}

/// Every (ledger, entry, payload, time) acknowledged, in history order.
fn acks(history: &[Event]) -> impl Iterator<Item = (LedgerId, EntryId, &str, bool, u64)> {
    history.iter().filter_map(|e| match &e.what {
        What::Acked {
            ledger,
            entry,
            payload,
            log,
        } => Some((*ledger, *entry, payload.as_str(), *log, e.time_ns)),
        _ => None,
    })
}

/// Each acknowledged entry is present with its payload, and within its ledger's last entry.
fn acknowledged_entries(history: &[Event], fin: &Final, found: &mut Vec<Violation>) {
    for (ledger, entry, payload, _, t) in acks(history) {
        let at = format!(
            "ledger {ledger} entry {entry} (acknowledged at {:.3} s)",
            secs(t)
        );
        let Some(state) = fin.ledgers.get(&ledger) else {
            violation(found, "lost", format!("{at}: the ledger is gone"));
            continue;
        };
        match state.closed {
            None => violation(found, "not-closed", format!("{at}: ledger never closed")),
            Some(last) if last.is_none_or(|last| last < entry) => violation(
                found,
                "last-below-ack",
                format!("{at}: the ledger closed at last entry {last:?}"),
            ),
            Some(_) => {}
        }
        match &state.entries {
            Err(why) => violation(found, "unreadable", format!("{at}: {why}")),
            Ok(entries) => match entries.get(&entry) {
                None => violation(found, "lost", format!("{at}: {payload:?} not read back")),
                Some(read) if read != payload => violation(
                    found,
                    "changed",
                    format!("{at}: acknowledged {payload:?}, read back {read:?}"),
                ),
                Some(_) => {}
            },
        }
    }
}

/// An acknowledgement received after a recovery of the same ledger had fenced and closed it,
/// of an entry beyond the last entry that recovery closed at: the fence did not stop the old
/// writer. Returns how many acknowledgements arrived after such a close for entries within it:
/// those are not violations — a bookie stopped (SIGSTOP) after storing an entry and before
/// answering can answer after the recovery read the entry from another bookie of its write
/// quorum and closed the ledger past it, and the old writer then rightly counts the entry as
/// acknowledged (it is in the ledger, at its id, with its payload, which the other checks
/// verify).
fn acks_after_fencing(history: &[Event], found: &mut Vec<Violation>) -> usize {
    let mut closed_at: HashMap<LedgerId, (u64, Option<EntryId>)> = HashMap::new();
    for e in history {
        if let What::Recovered { ledger, last } = e.what {
            closed_at.entry(ledger).or_insert((e.time_ns, last));
        }
    }
    let mut late_within = 0;
    for (ledger, entry, _, _, t) in acks(history) {
        let Some(&(closed, last)) = closed_at.get(&ledger) else {
            continue;
        };
        if t <= closed {
            continue;
        }
        if last.is_some_and(|last| entry <= last) {
            late_within += 1;
            continue;
        }
        let detail = format!(
            "ledger {ledger} entry {entry} acknowledged at {:.3} s, after a recovery fenced \
             the ledger and closed it at last entry {last:?} at {:.3} s",
            secs(t),
            secs(closed)
        );
        violation(found, "ack-after-fencing", detail);
    }
    late_within
}

/// Every close the clients saw names the last entry the ledger finally has.
fn closes_agree(history: &[Event], fin: &Final, found: &mut Vec<Violation>) {
    for e in history {
        let (ledger, last, who) = match e.what {
            What::WriterClosed { ledger, last } => (ledger, last, "its writer"),
            What::Recovered { ledger, last } => (ledger, last, "a recovery"),
            _ => continue,
        };
        let finally = fin.ledgers.get(&ledger).and_then(|l| l.closed);
        if finally != Some(last) {
            let detail = format!(
                "ledger {ledger}: {who} closed it at {last:?} ({:.3} s), it is finally {finally:?}",
                secs(e.time_ns)
            );
            violation(found, "close-disagrees", detail);
        }
    }
}

/// The log reads as one sequence: each acknowledged log entry exactly once, where it was
/// acknowledged, in acknowledgement order.
fn log_sequence(history: &[Event], fin: &Final, found: &mut Vec<Violation>) {
    let log = match &fin.log {
        Ok(log) => log,
        Err(why) => return violation(found, "log-unreadable", why.clone()),
    };
    let mut position: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, _, payload)) in log.iter().enumerate() {
        position.entry(payload.as_str()).or_default().push(i);
    }
    let mut previous: Option<(usize, &str)> = None;
    for (ledger, entry, payload, _, t) in acks(history).filter(|a| a.3) {
        let at = format!(
            "log entry {payload:?} (ledger {ledger} entry {entry}, {:.3} s)",
            secs(t)
        );
        let Some(places) = position.get(payload) else {
            violation(found, "log-lost", format!("{at}: not in the log"));
            continue;
        };
        if places.len() > 1 {
            violation(
                found,
                "log-duplicate",
                format!("{at}: at positions {places:?}"),
            );
        }
        let here = places[0];
        if (log[here].0, log[here].1) != (ledger, entry) {
            let (l, e) = (log[here].0, log[here].1);
            violation(
                found,
                "log-moved",
                format!("{at}: read at ledger {l} entry {e}"),
            );
        }
        if let Some((before, what)) = previous.filter(|(before, _)| *before >= here) {
            let detail = format!("{at}: at position {here}, not after {what:?} at {before}");
            violation(found, "log-order", detail);
        }
        previous = Some((here, payload));
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time_ms: u64, what: What) -> Event {
        Event {
            time_ns: time_ms * 1_000_000,
            what,
        }
    }

    fn ack(ledger: LedgerId, entry: EntryId, payload: &str, log: bool) -> What {
        What::Acked {
            ledger,
            entry,
            payload: payload.into(),
            log,
        }
    }

    /// Ledger 1 written 0..=2 and recovered at 2; ledger 2 (the log's) written 0..=1.
    fn clean() -> (Vec<Event>, Final) {
        let history = vec![
            at(1, ack(1, 0, "a", false)),
            at(2, ack(1, 1, "b", false)),
            at(3, ack(1, 2, "c", false)),
            at(4, What::RecoveryStarted { ledger: 1 }),
            at(
                5,
                What::Recovered {
                    ledger: 1,
                    last: Some(2),
                },
            ),
            at(6, ack(2, 0, "x", true)),
            at(7, ack(2, 1, "y", true)),
        ];
        let entries = |e: &[&str]| {
            Ok(e.iter()
                .enumerate()
                .map(|(i, p)| (i as EntryId, p.to_string()))
                .collect())
        };
        let mut fin = Final {
            ledgers: BTreeMap::new(),
            log: Ok(vec![(2, 0, "x".into()), (2, 1, "y".into())]),
        };
        fin.ledgers.insert(
            1,
            FinalLedger {
                closed: Some(Some(2)),
                entries: entries(&["a", "b", "c"]),
            },
        );
        fin.ledgers.insert(
            2,
            FinalLedger {
                closed: Some(Some(1)),
                entries: entries(&["x", "y"]),
            },
        );
        (history, fin)
    }

    fn kinds(report: &Report) -> Vec<&'static str> {
        report.violations.iter().map(|v| v.kind).collect()
    }

    #[test]
    fn a_clean_history_passes() {
        let (history, fin) = clean();
        assert_eq!(kinds(&check(&history, &fin)), Vec::<&str>::new());
    }

    #[test]
    fn a_lost_acknowledged_entry_is_caught() {
        let (history, mut fin) = clean();
        if let Ok(entries) = &mut fin.ledgers.get_mut(&1).unwrap().entries {
            entries.remove(&1);
        }
        assert_eq!(kinds(&check(&history, &fin)), vec!["lost"]);
    }

    #[test]
    fn a_changed_payload_is_caught() {
        let (history, mut fin) = clean();
        if let Ok(entries) = &mut fin.ledgers.get_mut(&1).unwrap().entries {
            entries.insert(2, "C".into());
        }
        assert_eq!(kinds(&check(&history, &fin)), vec!["changed"]);
    }

    #[test]
    fn a_last_entry_below_an_ack_is_caught() {
        let (mut history, mut fin) = clean();
        // Recovery closed early (at 1): the ledger's last entry is below acknowledged entry 2.
        history[4] = at(
            5,
            What::Recovered {
                ledger: 1,
                last: Some(1),
            },
        );
        fin.ledgers.get_mut(&1).unwrap().closed = Some(Some(1));
        assert_eq!(kinds(&check(&history, &fin)), vec!["last-below-ack"]);
    }

    #[test]
    fn an_ack_after_fencing_is_caught() {
        let (mut history, mut fin) = clean();
        // The recovery fenced ledger 1 and closed it at entry 1 (at 5 ms); the old writer
        // still got entry 2 acknowledged afterwards (at 6 ms).
        history[2] = at(6, ack(1, 2, "c", false));
        history[4] = at(
            5,
            What::Recovered {
                ledger: 1,
                last: Some(1),
            },
        );
        let ledger = fin.ledgers.get_mut(&1).unwrap();
        ledger.closed = Some(Some(1));
        if let Ok(entries) = &mut ledger.entries {
            entries.remove(&2);
        }
        let found = kinds(&check(&history, &fin));
        assert!(found.contains(&"ack-after-fencing"), "{found:?}");
    }

    #[test]
    fn a_late_ack_of_an_entry_the_recovery_kept_is_counted_not_flagged() {
        let (mut history, fin) = clean();
        // Entry 2's last answer came after the recovery had closed the ledger at 2.
        history[2].time_ns = 6_000_000;
        let report = check(&history, &fin);
        assert_eq!(kinds(&report), Vec::<&str>::new());
        assert_eq!(report.late_acks_within, 1);
    }

    #[test]
    fn a_close_that_disagrees_is_caught() {
        let (mut history, fin) = clean();
        history.push(at(
            9,
            What::WriterClosed {
                ledger: 1,
                last: Some(1),
            },
        ));
        assert_eq!(kinds(&check(&history, &fin)), vec!["close-disagrees"]);
    }

    #[test]
    fn a_log_that_loses_duplicates_or_reorders_is_caught() {
        let (history, mut fin) = clean();
        fin.log = Ok(vec![(2, 0, "x".into())]);
        assert_eq!(kinds(&check(&history, &fin)), vec!["log-lost"]);
        fin.log = Ok(vec![
            (2, 0, "x".into()),
            (2, 1, "y".into()),
            (3, 0, "y".into()),
        ]);
        assert_eq!(kinds(&check(&history, &fin)), vec!["log-duplicate"]);
        fin.log = Ok(vec![(2, 1, "y".into()), (2, 0, "x".into())]);
        assert_eq!(kinds(&check(&history, &fin)), vec!["log-order"]);
        fin.log = Ok(vec![(2, 0, "x".into()), (2, 2, "y".into())]);
        assert_eq!(kinds(&check(&history, &fin)), vec!["log-moved"]);
    }
}
