//! The log writer: one thread owns the transaction log, appends what the Zab core emits and
//! fsyncs in batches (group commit). While one fdatasync runs, further appends queue up in the
//! channel and the next loop makes all of them durable with a single fdatasync.
//!
//! It also reads the log for followers' DIFFs older than the payloads the core keeps in
//! memory, a page between two group commits, so a read of tens of MB never holds up an fsync
//! for long and never runs on the core task.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::thread::JoinHandle;

use storage::{FileTxnLog, StorageError, TxnLog};
use zab::{ServerId, Txn, Zxid};

pub use super::storage::StorageEvent;

enum Command {
    Append(Vec<Txn>),
    /// Durable on reply.
    Truncate(Zxid, SyncSender<Result<(), StorageError>>),
    /// Drop every record and continue after the zxid; durable on reply.
    Reset(Zxid, SyncSender<Result<(), StorageError>>),
    /// Drop records at or below the zxid (a snapshot covers them).
    Purge(Zxid),
    /// Read records for a follower's DIFF; reported as [`StorageEvent::PeerLog`].
    Read(LogRead),
}

/// Bytes of payload read per page of a follower's log read, between two group commits.
const READ_PAGE_BYTES: usize = 1 << 20;

/// A log read under way: the records with `after < zxid <= up_to`, those read so far in
/// `txns`.
struct LogRead {
    for_server: ServerId,
    after: Zxid,
    up_to: Zxid,
    txns: Vec<Txn>,
}

impl LogRead {
    /// Reads the next page; true once the read is complete.
    fn next_page(&mut self, log: &mut FileTxnLog) -> Result<bool, StorageError> {
        let from = self.txns.last().map_or(self.after, |t| t.zxid);
        let page = log.read_range(from, self.up_to, READ_PAGE_BYTES)?;
        let done = page.is_empty();
        self.txns.extend(page.into_iter().map(|e| Txn {
            zxid: e.zxid,
            data: e.payload.into(),
        }));
        Ok(done)
    }

    fn report(self, txns: Result<Vec<Txn>, StorageError>) -> StorageEvent {
        StorageEvent::PeerLog {
            for_server: self.for_server,
            after: self.after,
            up_to: self.up_to,
            txns,
        }
    }
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

    /// Reads the records with `after < zxid <= up_to` for a follower's DIFF, in pages between
    /// group commits; reported as [`StorageEvent::PeerLog`].
    pub fn read_for_peer(&self, for_server: ServerId, after: Zxid, up_to: Zxid) {
        self.send(Command::Read(LogRead {
            for_server,
            after,
            up_to,
            txns: Vec::new(),
        }));
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
    let mut reads = VecDeque::new();
    loop {
        // Wait for work only when no read is under way.
        let first = if reads.is_empty() {
            match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => return Ok(()),
            }
        } else {
            match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        };
        let pending = execute(log, first, commands, &mut reads, report)?;
        if pending {
            report(StorageEvent::Durable(log.sync()?));
        }
        read_one_page(log, &mut reads, report);
    }
}

/// Carries out `first` and every command already queued behind it; true if records were
/// appended and wait for their fsync.
fn execute(
    log: &mut FileTxnLog,
    first: Option<Command>,
    commands: &Receiver<Command>,
    reads: &mut VecDeque<LogRead>,
    report: &impl Fn(StorageEvent),
) -> Result<bool, StorageError> {
    let mut pending = false;
    let mut next = first;
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
            Command::Read(read) => reads.push_back(read),
        }
        next = commands.try_recv().ok();
    }
    Ok(pending)
}

/// Advances the oldest read under way by one page, and reports it once complete or failed
/// (the core then sends a SNAP instead; a log that failed for good fails appends too).
fn read_one_page(
    log: &mut FileTxnLog,
    reads: &mut VecDeque<LogRead>,
    report: &impl Fn(StorageEvent),
) {
    let Some(read) = reads.front_mut() else {
        return;
    };
    match read.next_page(log) {
        Ok(false) => {}
        Ok(true) => {
            let mut read = reads.pop_front().expect("a read under way");
            let txns = std::mem::take(&mut read.txns);
            report(read.report(Ok(txns)));
        }
        Err(error) => {
            let read = reads.pop_front().expect("a read under way");
            report(read.report(Err(error)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use storage::LogOptions;

    fn zxid(counter: u32) -> Zxid {
        Zxid::new(1, counter)
    }

    #[test]
    fn a_read_for_a_peer_pages_between_appends_and_returns_the_whole_range() {
        let dir = tempfile::tempdir().unwrap();
        let log = FileTxnLog::open(dir.path(), LogOptions::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        let writer = LogWriter::start(log, move |e| {
            let _ = tx.send(e);
        });
        // 3,000 records of 1 KiB: three pages of a read.
        let txns: Vec<Txn> = (1..=3000)
            .map(|i| Txn {
                zxid: zxid(i),
                data: vec![(i % 251) as u8; 1024].into(),
            })
            .collect();
        writer.append(txns.clone());
        writer.read_for_peer(ServerId(7), zxid(5), zxid(2900));
        writer.append(vec![Txn {
            zxid: zxid(3001),
            data: bytes::Bytes::from_static(b"behind the read"),
        }]);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let (mut read, mut durable) = (None, Zxid::ZERO);
        while read.is_none() || durable < zxid(3001) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left).expect("the writer reports") {
                StorageEvent::Durable(z) => durable = durable.max(z),
                StorageEvent::PeerLog {
                    for_server,
                    after,
                    up_to,
                    txns,
                } => {
                    assert_eq!(
                        (for_server, after, up_to),
                        (ServerId(7), zxid(5), zxid(2900))
                    );
                    read = Some(txns.expect("read"));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(read.unwrap(), txns[5..2900]);
    }
}
