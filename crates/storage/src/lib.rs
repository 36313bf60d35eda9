//! Durable storage for Quorum: the transaction log, snapshots and epoch files.
//!
//! Zab's promises hold only if what a server acknowledged survives its crash. This crate
//! defines the contracts ([`TxnLog`], [`SnapshotStore`], [`EpochStore`]) with a file
//! implementation for the server and a simulated one ([`sim`]) for the deterministic
//! simulator. The on-disk format and recovery rules are in `docs/storage.md`.
//!
//! Errors: [`StorageError::Fatal`] means the server must stop (an fsync failed; retrying
//! could report lost data as durable). [`StorageError::Corrupt`] names a file and offset.

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
mod traits;

pub use epoch::FileEpochStore;
pub use error::{Result, StorageError};
pub use file_log::{FileTxnLog, LogOptions, Preallocate};
/// Bytes a log record adds to its payload (length, zxid, CRCs, end marker).
pub use record::OVERHEAD as RECORD_OVERHEAD;
pub use retention::purge;
pub use snapshot::FileSnapshotStore;
pub use traits::{EpochStore, Epochs, LogEntry, Snapshot, SnapshotStore, TxnLog};

/// A Zab transaction id: `epoch << 32 | counter`. 0 means "none".
pub type Zxid = u64;

/// Builds a zxid from an epoch and a counter.
pub fn zxid(epoch: u32, counter: u32) -> Zxid {
    (u64::from(epoch) << 32) | u64::from(counter)
}

/// The epoch of a zxid.
pub fn zxid_epoch(zxid: Zxid) -> u32 {
    (zxid >> 32) as u32
}

/// The counter of a zxid.
pub fn zxid_counter(zxid: Zxid) -> u32 {
    zxid as u32
}
