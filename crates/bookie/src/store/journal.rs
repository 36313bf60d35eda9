//! The journal's group commit: a dedicated thread owns the `FileTxnLog` and makes records
//! durable in batches.
//!
//! The core task hands records over without waiting. The thread takes every record that is
//! queued, appends them all, and covers them with one fdatasync; records that arrive while
//! that sync runs wait in the queue and are covered together by the next one. Under load one
//! sync therefore covers many records, and with one writer it costs one sync per record, as
//! it must. Durability is published through a `watch` channel (the latest value is all that
//! matters, so it never queues).
//!
//! A failed write or sync poisons the journal (see `storage::StorageError::Fatal`): the state
//! says so, the thread stops, and the bookie must stop too — records it was told about may
//! or may not be on disk.

use std::sync::mpsc;
use std::thread::JoinHandle;

use storage::{FileTxnLog, TxnLog, Zxid};
use tokio::sync::watch;

/// What the journal thread has achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalState {
    /// Every record up to this number is durable.
    pub durable_seq: u64,
    /// fdatasyncs (or, with fsync off, write-outs) done.
    pub syncs: u64,
    /// Records made durable.
    pub records: u64,
    /// Set when the journal failed; the bookie must stop.
    pub failed: Option<String>,
}

enum Command {
    Append {
        seq: u64,
        payload: Vec<u8>,
    },
    /// Purge segments wholly at or before this record number (a checkpoint covers them).
    Purge(u64),
}

/// The handle the core task holds.
pub struct Journal {
    tx: Option<mpsc::Sender<Command>>,
    state: watch::Receiver<JournalState>,
    thread: Option<JoinHandle<()>>,
}

impl Journal {
    /// Starts the group-commit thread over `log`, whose records up to `durable_seq` are durable.
    /// With `fsync` false, records are written to the file system but not synced.
    pub fn start(log: FileTxnLog, durable_seq: u64, fsync: bool) -> Result<Journal, String> {
        let (tx, rx) = mpsc::channel();
        let (state_tx, state) = watch::channel(JournalState {
            durable_seq,
            ..JournalState::default()
        });
        let thread = std::thread::Builder::new()
            .name("bookie-journal".into())
            .spawn(move || run(log, rx, state_tx, fsync))
            .map_err(|e| format!("cannot start the journal thread: {e}"))?;
        Ok(Journal {
            tx: Some(tx),
            state,
            thread: Some(thread),
        })
    }

    /// Queues record `seq` (numbers must increase). Not durable until the state says so.
    pub fn append(&self, seq: u64, payload: Vec<u8>) -> Result<(), String> {
        self.send(Command::Append { seq, payload })
    }

    /// Asks for segments wholly at or before `seq` to be removed.
    pub fn purge_through(&self, seq: u64) -> Result<(), String> {
        self.send(Command::Purge(seq))
    }

    fn send(&self, command: Command) -> Result<(), String> {
        let stopped = || {
            self.state
                .borrow()
                .failed
                .clone()
                .unwrap_or_else(|| "the journal thread stopped".into())
        };
        match &self.tx {
            Some(tx) => tx.send(command).map_err(|_| stopped()),
            None => Err(stopped()),
        }
    }

    /// A receiver of the journal's progress.
    pub fn state(&self) -> watch::Receiver<JournalState> {
        self.state.clone()
    }

    /// Stops accepting records, lets the thread finish what was queued, and waits for it.
    pub fn close(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(
    mut log: FileTxnLog,
    rx: mpsc::Receiver<Command>,
    state: watch::Sender<JournalState>,
    fsync: bool,
) {
    let mut purge = None;
    while let Ok(first) = rx.recv() {
        let mut appended = 0u64;
        let mut last = None;
        let mut result = Ok(());
        for command in std::iter::once(first).chain(rx.try_iter()) {
            match command {
                Command::Append { seq, payload } => {
                    result = log.append(Zxid::from_u64(seq), &payload);
                    if result.is_err() {
                        break;
                    }
                    appended += 1;
                    last = Some(seq);
                }
                Command::Purge(seq) => purge = purge.max(Some(seq)),
            }
        }
        if result.is_ok() && last.is_some() {
            result = if fsync {
                log.sync().map(|_| ())
            } else {
                log.write_out()
            };
        }
        if result.is_ok() {
            if let Some(seq) = purge.take() {
                result = log.purge_through(Zxid::from_u64(seq));
            }
        }
        match result {
            Ok(()) => {
                if let Some(seq) = last {
                    state.send_modify(|s| {
                        s.durable_seq = seq;
                        s.syncs += 1;
                        s.records += appended;
                    });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "journal failed; the bookie must stop");
                state.send_modify(|s| s.failed = Some(e.to_string()));
                return;
            }
        }
    }
}
