//! Durable storage for Quorum: the transaction log, snapshots and epoch files.
//!
//! Zab's promises hold only if what a server acknowledged survives its crash. This crate
//! defines the contracts ([`TxnLog`], [`SnapshotStore`], [`EpochStore`]) with a file
//! implementation for the server and a simulated one ([`sim`]) for the deterministic
//! simulator. The on-disk format and recovery rules are in `docs/storage.md`.
//!
//! Errors: [`StorageError::Fatal`] means the server must stop (an fsync failed; retrying
//! could report lost data as durable). [`StorageError::Corrupt`] names a file and offset.

mod dir_lock;
mod epoch;
mod error;
mod file_log;
mod fsutil;
mod index;
mod record;
mod retention;
mod segment;
pub mod sim;
mod snapshot;
mod spare_segment;
mod traits;

pub use dir_lock::{DirLock, LOCK_FILE_NAME};
pub use epoch::FileEpochStore;
pub use error::{Result, StorageError};
pub use file_log::{FileTxnLog, LogOptions, Preallocate};
/// Bytes a log record adds to its payload (length, zxid, CRCs, end marker).
pub use record::OVERHEAD as RECORD_OVERHEAD;
pub use retention::purge;
pub use snapshot::FileSnapshotStore;
pub use traits::{EpochStore, Epochs, LogEntry, Snapshot, SnapshotStore, TxnLog};

/// The transaction id of every record, snapshot and segment name; `Zxid::ZERO` means "none".
pub use zxid::Zxid;
