//! The history of a log chaos run: every record a producer sent with its outcome, and every
//! record a consumer read, in the order it read them. The checker ([`super::check`]) judges it
//! against the partitions' final logs.

use partition::Offset;
use std::sync::Mutex;

/// What a producer learned of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Acknowledged (acks=all) at this offset: it must be in the log there, once.
    Acked(Offset),
    /// Refused or timed out: it may or may not be in the log, at most once.
    Failed(String),
    /// No answer before the run ended: the same as failed for the checker.
    Unknown,
}

/// One record sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) partition: u32,
    /// Unique in the run: `p{producer}-{n}`.
    pub(super) record: String,
    pub(super) outcome: Outcome,
}

/// One consumer session: it started at offset 0 and yielded these records, in this order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Read {
    pub(super) partition: u32,
    pub(super) records: Vec<(Offset, String)>,
    /// Why the session ended early, if it did.
    pub(super) error: Option<String>,
}

/// The history as recorded.
#[derive(Clone, Debug, Default)]
pub(super) struct History {
    pub(super) sent: Vec<Sent>,
    pub(super) reads: Vec<Read>,
}

/// The history being recorded, shared by every task.
#[derive(Default)]
pub(super) struct Recorder {
    sent: Mutex<Vec<Sent>>,
    reads: Mutex<Vec<Read>>,
}

impl Recorder {
    /// Records that `record` is being sent to `partition`; returns its index for [`settle`].
    ///
    /// [`settle`]: Recorder::settle
    pub(super) fn sending(&self, partition: u32, record: &str) -> usize {
        let mut sent = self.sent.lock().unwrap();
        sent.push(Sent {
            partition,
            record: record.to_string(),
            outcome: Outcome::Unknown,
        });
        sent.len() - 1
    }

    pub(super) fn settle(&self, index: usize, outcome: Outcome) {
        self.sent.lock().unwrap()[index].outcome = outcome;
    }

    /// Starts a consumer session on `partition`; returns its index for [`read`].
    ///
    /// [`read`]: Recorder::read
    pub(super) fn session(&self, partition: u32) -> usize {
        let mut reads = self.reads.lock().unwrap();
        reads.push(Read {
            partition,
            ..Read::default()
        });
        reads.len() - 1
    }

    pub(super) fn read(&self, session: usize, offset: Offset, record: String) {
        self.reads.lock().unwrap()[session]
            .records
            .push((offset, record));
    }

    pub(super) fn ended(&self, session: usize, error: String) {
        self.reads.lock().unwrap()[session].error = Some(error);
    }

    pub(super) fn history(&self) -> History {
        History {
            sent: self.sent.lock().unwrap().clone(),
            reads: self.reads.lock().unwrap().clone(),
        }
    }
}
