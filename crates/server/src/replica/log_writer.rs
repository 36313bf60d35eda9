//! The log writer: one thread owns the transaction log, appends what the Zab core emits and
//! fsyncs in batches (group commit). While one fdatasync runs, further appends queue up in the
//! channel and the next loop makes all of them durable with a single fdatasync.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use storage::{FileTxnLog, StorageError, TxnLog};
use zab::{Txn, Zxid};

pub use super::storage::StorageEvent;

enum Command {
    Append(Vec<Txn>),
    /// Durable on reply.
    Truncate(Zxid, SyncSender<Result<(), StorageError>>),
    /// Drop every record and continue after the zxid; durable on reply.
    Reset(Zxid, SyncSender<Result<(), StorageError>>),
    /// Drop records at or below the zxid (a snapshot covers them).
    Purge(Zxid),
}

/// A handle on the writer thread.
pub struct LogWriter {
    commands: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// Starts the writer over an open log. `report` is called from the writer thread.
    pub fn start(mut log: FileTxnLog, report: impl Fn(StorageEvent) + Send + 'static) -> LogWriter {
        let (tx, rx) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                if let Err(error) = run(&mut log, &rx, &report) {
                    report(StorageEvent::Fatal(error));
                }
            })
            .expect("spawn the log writer thread");
        LogWriter {
            commands: Some(tx),
            thread: Some(thread),
        }
    }

    fn send(&self, command: Command) {
        // If the writer died it already reported why; the driver is stopping.
        if let Some(commands) = &self.commands {
            let _ = commands.send(command);
        }
    }

    pub fn append(&self, txns: Vec<Txn>) {
        self.send(Command::Append(txns));
    }

    /// Truncates after `zxid`; returns once the truncation is durable.
    pub fn truncate(&self, zxid: Zxid) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Command::Truncate(zxid, tx));
        rx.recv().unwrap_or_else(|_| {
            Err(StorageError::InvalidArgument(
                "the log writer has stopped".into(),
            ))
        })
    }

    /// Drops every record and continues the log after `zxid` (a snapshot installed from the
    /// leader holds everything before); returns once that is durable.
    pub fn reset(&self, zxid: Zxid) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Command::Reset(zxid, tx));
        rx.recv().unwrap_or_else(|_| {
            Err(StorageError::InvalidArgument(
                "the log writer has stopped".into(),
            ))
        })
    }

    pub fn purge_through(&self, zxid: Zxid) {
        self.send(Command::Purge(zxid));
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    log: &mut FileTxnLog,
    commands: &Receiver<Command>,
    report: &impl Fn(StorageEvent),
) -> Result<(), StorageError> {
    while let Ok(first) = commands.recv() {
        let mut pending = false;
        let mut next = Some(first);
        while let Some(command) = next {
            match command {
                Command::Append(txns) => {
                    for txn in &txns {
                        log.append(txn.zxid, &txn.data)?;
                    }
                    pending |= !txns.is_empty();
                }
                Command::Truncate(zxid, reply) => {
                    // Records before the truncation point stay pending; sync them first so the
                    // report below stays truthful.
                    if pending {
                        report(StorageEvent::Durable(log.sync()?));
                        pending = false;
                    }
                    let result = log.truncate_after(zxid);
                    let fatal = result.as_ref().is_err_and(|e| e.is_fatal());
                    let _ = reply.send(result);
                    if fatal {
                        return Err(StorageError::InvalidArgument("truncation failed".into()));
                    }
                }
                Command::Reset(zxid, reply) => {
                    // What was appended before is dropped with the rest: nothing to report.
                    pending = false;
                    let result = log.reset(zxid);
                    let fatal = result.as_ref().is_err_and(|e| e.is_fatal());
                    let _ = reply.send(result);
                    if fatal {
                        return Err(StorageError::InvalidArgument("log reset failed".into()));
                    }
                }
                Command::Purge(zxid) => log.purge_through(zxid)?,
            }
            next = commands.try_recv().ok();
        }
        if pending {
            report(StorageEvent::Durable(log.sync()?));
        }
    }
    Ok(())
}
