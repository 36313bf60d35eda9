//! The history of a ledger chaos run: what the workload's writers, recoveries and log writers
//! saw, each event stamped when the client learned it. The checker ([`super::check`]) judges
//! the history against what the ledgers hold once everything is healed.

use ledger::{EntryId, LedgerId};
use std::sync::Mutex;
use std::time::Instant;

/// One thing a client learned, and when (nanoseconds since the workload started).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Event {
    pub(super) time_ns: u64,
    pub(super) what: What,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum What {
    /// A writer created (and claimed) `ledger` with E/Qw/Qa = `shape`.
    Created {
        ledger: LedgerId,
        writer: usize,
        shape: (usize, usize, usize),
    },
    /// An append was acknowledged: `payload` is entry `entry` of `ledger`. `log` marks the
    /// log-of-ledgers writers' entries.
    Acked {
        ledger: LedgerId,
        entry: EntryId,
        payload: String,
        log: bool,
    },
    /// An append was answered with an error (fenced, not open, metadata unreachable, stopped).
    AppendFailed { ledger: LedgerId, error: String },
    /// The writer closed its own ledger at `last`.
    WriterClosed {
        ledger: LedgerId,
        last: Option<EntryId>,
    },
    /// A recovery of `ledger` began.
    RecoveryStarted { ledger: LedgerId },
    /// A recovery of `ledger` finished: closed at `last` (fenced before that).
    Recovered {
        ledger: LedgerId,
        last: Option<EntryId>,
    },
    /// A recovery gave up.
    RecoveryFailed { ledger: LedgerId, error: String },
    /// Log writer `writer` took the log over and writes `ledger`.
    LogTakeOver { writer: usize, ledger: LedgerId },
    /// A take-over failed (superseded by the other writer, or faults).
    LogTakeOverFailed { writer: usize, error: String },
}

/// The history being recorded, shared by every task.
pub(super) struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub(super) fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn start(&self) -> Instant {
        self.start
    }

    /// Records `what` now. The timestamp is taken under the lock, so the history's order is
    /// the order of its timestamps.
    pub(super) fn record(&self, what: What) {
        let mut events = self.events.lock().unwrap();
        let time_ns = self.start.elapsed().as_nanos() as u64;
        events.push(Event { time_ns, what });
    }

    pub(super) fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}
