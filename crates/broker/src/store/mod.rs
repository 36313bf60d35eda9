//! One partition's log on disk: batches as records of a [`FileTxnLog`].
//!
//! Each batch is one record, keyed by the batch's end offset (base + count: always ≥ 1 and
//! strictly increasing, as the log's keys must be) and holding the batch encoded by
//! [`crate::batch_codec`]. The file log supplies segments, checksums, group commit, a sparse
//! index and torn-tail truncation; this layer adds what a partition log needs on top: batches
//! must be contiguous, and opening rebuilds what `partition::Replica` needs to start
//! ([`Recovered`]: log end, leader-epoch cache, the last batch headers for the producer table).

mod layout;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use partition::{Batch, BatchHeader, EpochCache, Offset, Recovered};
use storage::{FileTxnLog, LogOptions, StorageError, TxnLog, Zxid};

use crate::batch_codec::{check_batch, decode_batch, encode_batch, validate_batch};

pub use layout::{list_partitions, parse_dir_name, partition_dir, PARTITIONS_DIR};

/// Payload bytes read per step while scanning the log at open.
const SCAN_BYTES: usize = 4 << 20;

/// When the driver makes appended batches durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `sync` after each group of appends, before they count as appended (`"every-batch"`).
    EveryBatch,
    /// Never fdatasync except at shutdown (`"never"`): a machine crash may lose acknowledged
    /// batches; replication is what protects them.
    Never,
}

impl FsyncPolicy {
    /// From its configuration name: `every-batch` or `never`.
    pub fn parse(s: &str) -> Result<FsyncPolicy, String> {
        match s {
            "every-batch" => Ok(FsyncPolicy::EveryBatch),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(format!(
                "unknown fsync policy {other:?} (expected every-batch or never)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::EveryBatch => "every-batch",
            FsyncPolicy::Never => "never",
        }
    }
}

/// How partition stores are set up.
#[derive(Clone, Copy, Debug)]
pub struct StoreConfig {
    /// Read by the driver (the store itself syncs only when asked).
    pub fsync: FsyncPolicy,
    /// Segment size, largest batch (encoded), preallocation.
    pub log: LogOptions,
    /// Batch headers kept in [`Recovered::tail`]: enough for the producer table's windows.
    pub tail_headers: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            fsync: FsyncPolicy::EveryBatch,
            log: LogOptions::default(),
            tail_headers: 1024,
        }
    }
}

/// What went wrong in a partition store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// From the file log; [`StoreError::is_fatal`] says whether the broker must stop.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Records that the file log accepted but that are not a valid partition log. Nothing was
    /// skipped or repaired.
    #[error("corrupt partition log {dir}: record with end offset {end}: {reason}")]
    Corrupt {
        dir: PathBuf,
        end: Offset,
        reason: String,
    },
    /// A caller's mistake (a batch that does not follow the log end, a bad topic name).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("I/O error: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// True when durability can no longer be promised: the broker must stop.
    pub fn is_fatal(&self) -> bool {
        matches!(self, StoreError::Storage(e) if e.is_fatal())
    }

    /// True when data on disk is damaged (by the file log's checks or by this layer's).
    pub fn is_corrupt(&self) -> bool {
        match self {
            StoreError::Storage(e) => e.is_corrupt(),
            StoreError::Corrupt { .. } => true,
            _ => false,
        }
    }
}

/// One partition's log. Appends are buffered until [`PartitionStore::sync`].
#[derive(Debug)]
pub struct PartitionStore {
    dir: PathBuf,
    log: FileTxnLog,
    /// End offset of the last appended batch, durable or not.
    log_end: Offset,
    /// Reused encoding buffer.
    scratch: Vec<u8>,
}

impl PartitionStore {
    /// Opens (creating if needed) the log in `dir` and scans every batch once. A torn tail of
    /// the newest segment is cleared by the file log; any other damage, a record that does not
    /// decode, or batches that are not contiguous from offset 0 refuse the open.
    pub fn open(
        dir: &Path,
        config: &StoreConfig,
    ) -> Result<(PartitionStore, Recovered), StoreError> {
        let mut log = FileTxnLog::open(dir, config.log)?;
        let recovered = recover(&mut log, dir, config.tail_headers)?;
        let store = PartitionStore {
            dir: dir.to_path_buf(),
            log,
            log_end: recovered.log_end,
            scratch: Vec::new(),
        };
        Ok((store, recovered))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The end of the last appended batch (durable or not).
    pub fn log_end(&self) -> Offset {
        self.log_end
    }

    /// The end of the last batch made durable by [`PartitionStore::sync`] (or found at open).
    pub fn durable_end(&self) -> Offset {
        self.log.durable_zxid().as_u64()
    }

    /// Buffers `batch`, which must start at the log end. Not durable until `sync`.
    pub fn append(&mut self, batch: &Batch) -> Result<(), StoreError> {
        check_batch(batch).map_err(|why| StoreError::InvalidArgument(why.into()))?;
        if batch.header.base_offset != self.log_end {
            return Err(StoreError::InvalidArgument(format!(
                "batch at offset {} does not follow the log end {}",
                batch.header.base_offset, self.log_end
            )));
        }
        let end = batch.end_offset();
        self.scratch.clear();
        encode_batch(&mut self.scratch, batch);
        self.log.append(Zxid::from_u64(end), &self.scratch)?;
        self.log_end = end;
        Ok(())
    }

    /// Makes every appended batch durable with one fdatasync; returns the durable end.
    pub fn sync(&mut self) -> Result<Offset, StoreError> {
        Ok(self.log.sync()?.as_u64())
    }

    /// Writes appended batches to the file system without fdatasync, so that a killed process
    /// (not a crashed machine) finds them on restart: for the `never` policy.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        Ok(self.log.write_out()?)
    }

    /// The batches whose end is in `(from, up_to]`, in order: at least one if any, stopping
    /// once their encoded sizes add up to `max_bytes`. The first may start before `from` (a
    /// consumer asking from the middle of a batch gets the whole batch). Unsynced batches are
    /// included; the caller bounds `up_to` by what it may serve.
    pub fn read(
        &mut self,
        from: Offset,
        up_to: Offset,
        max_bytes: usize,
    ) -> Result<Vec<Batch>, StoreError> {
        let entries =
            self.log
                .read_range(Zxid::from_u64(from), Zxid::from_u64(up_to), max_bytes)?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let end = entry.zxid.as_u64();
            let batch = decode_batch(&entry.payload).map_err(|e| self.corrupt(end, e))?;
            if batch.end_offset() != end {
                return Err(self.corrupt(end, "batch end does not match its record's key"));
            }
            out.push(batch);
        }
        Ok(out)
    }

    /// Removes every batch that ends after `to`, durably. `to` must be a batch boundary (the
    /// end of a batch, or 0); `to >= log_end` removes nothing.
    pub fn truncate(&mut self, to: Offset) -> Result<(), StoreError> {
        if to >= self.log_end {
            return Ok(());
        }
        let next = self
            .log
            .read_range(Zxid::from_u64(to), Zxid::from_u64(self.log_end), 1)?;
        let Some(first) = next.first() else {
            return Err(self.corrupt(self.log_end, "log ends before its recorded end"));
        };
        let header =
            validate_batch(&first.payload).map_err(|e| self.corrupt(first.zxid.as_u64(), e))?;
        if header.base_offset != to {
            return Err(StoreError::InvalidArgument(format!(
                "truncation point {to} is inside the batch [{}, {})",
                header.base_offset,
                header.end_offset()
            )));
        }
        self.log.truncate_after(Zxid::from_u64(to))?;
        self.log_end = self.log.last_zxid().as_u64();
        Ok(())
    }

    fn corrupt(&self, end: Offset, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            dir: self.dir.clone(),
            end,
            reason: reason.to_string(),
        }
    }
}

/// Scans every batch once: checks each decodes, matches its key and follows the previous one,
/// and rebuilds the log end, the epoch cache and the tail of headers.
fn recover(log: &mut FileTxnLog, dir: &Path, tail_headers: usize) -> Result<Recovered, StoreError> {
    let last = log.last_zxid().as_u64();
    let corrupt = |end: Offset, reason: String| StoreError::Corrupt {
        dir: dir.to_path_buf(),
        end,
        reason,
    };
    let mut epochs = EpochCache::default();
    let mut tail: VecDeque<BatchHeader> = VecDeque::new();
    let mut log_end: Offset = 0;
    while log_end < last {
        let entries = log.read_range(Zxid::from_u64(log_end), Zxid::from_u64(last), SCAN_BYTES)?;
        if entries.is_empty() {
            return Err(corrupt(
                log_end,
                format!("log ends at {log_end}, before {last}"),
            ));
        }
        for entry in entries {
            let end = entry.zxid.as_u64();
            let h = validate_batch(&entry.payload).map_err(|e| corrupt(end, e.to_string()))?;
            check_follows(&h, end, log_end, epochs.latest()).map_err(|why| corrupt(end, why))?;
            epochs.assign(h.epoch, h.base_offset);
            if tail.len() == tail_headers {
                tail.pop_front();
            }
            if tail_headers > 0 {
                tail.push_back(h);
            }
            log_end = end;
        }
    }
    Ok(Recovered {
        log_end,
        epochs,
        tail: tail.into(),
    })
}

/// Whether a batch read back at key `end` may follow a log ending at `log_end` whose latest
/// epoch is `latest` (checked before `EpochCache::assign`, which insists epochs only grow).
fn check_follows(
    h: &BatchHeader,
    end: Offset,
    log_end: Offset,
    latest: Option<u32>,
) -> Result<(), String> {
    if h.end_offset() != end {
        return Err(format!(
            "batch [{}, {}) stored under end offset {end}",
            h.base_offset,
            h.end_offset()
        ));
    }
    if h.base_offset != log_end {
        return Err(format!(
            "batch starts at {} but the previous batch ends at {log_end}: the log is not contiguous",
            h.base_offset
        ));
    }
    if latest.is_some_and(|latest| h.epoch < latest) {
        return Err(format!(
            "batch of leader epoch {} after a batch of epoch {latest:?}: epochs went back",
            h.epoch
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
