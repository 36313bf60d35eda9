//! The storage contracts the server and the simulator program against.
//!
//! Both the file implementation and the simulated one satisfy the same contracts and pass
//! the same conformance suite (`tests/conformance.rs`).

use std::io::Write;

use crate::error::Result;
use crate::Zxid;

/// One record of the transaction log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The record's zxid (epoch << 32 | counter), never 0.
    pub zxid: Zxid,
    /// The opaque transaction bytes.
    pub payload: Vec<u8>,
}

/// The append-only transaction log.
///
/// # Contract
/// - `append` only buffers: nothing is durable until a later `sync` returns `Ok`.
/// - `sync` makes **every** record appended so far durable with one fdatasync (group
///   commit: append many, sync once) and returns the durable zxid, which is then the last
///   appended zxid. Acknowledge a proposal only after `sync` covering it returned.
/// - Zxids must increase strictly; a non-increasing zxid is `InvalidArgument`.
/// - `truncate_after` is durable when it returns (including the removal).
/// - Any `Fatal` error poisons the log: every later call returns `Fatal`; the server must
///   stop and recover by reopening.
/// - After a crash, reopening yields exactly the records appended before some point at or
///   after the last successful `sync` (records appended but not synced may or may not
///   survive, always as a prefix), or a `Corrupt` error. Never a shorter history.
pub trait TxnLog {
    /// Buffers one record. Not durable until [`TxnLog::sync`] returns.
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<()>;

    /// Makes every appended record durable (one fdatasync per call, none if nothing is
    /// pending) and returns the durable zxid (0 for an empty log).
    fn sync(&mut self) -> Result<Zxid>;

    /// The zxid up to which the log is durable (0 for an empty log).
    fn durable_zxid(&self) -> Zxid;

    /// The last appended zxid, durable or not (0 for an empty log).
    fn last_zxid(&self) -> Zxid;

    /// The zxid of the oldest record still in the log (`None` if empty). Older records were
    /// purged because a snapshot covers them.
    fn first_zxid(&self) -> Option<Zxid>;

    /// The zxid the log continues after: every transaction after it, up to `last_zxid()`, is
    /// in the log. 0 for a log that holds the history from its start; the last purged record
    /// once old records were purged; the `base` of [`TxnLog::reset`]. Recovery checks that a
    /// snapshot at or after it exists, or transactions are missing. A log reset and reopened
    /// before its first new record reopens empty, with base 0.
    fn base_zxid(&self) -> Zxid;

    /// Removes every record, durably, and continues the log after `base`: the next record
    /// must have a greater zxid (a snapshot at `base`, installed from the leader, holds the
    /// history before it).
    fn reset(&mut self, base: Zxid) -> Result<()>;

    /// The records with `after < zxid <= up_to`, in order, stopping once their payloads add
    /// up to `max_bytes` or more (at least one record is returned if any matches), so the
    /// caller can page through a long range. Includes appended records not yet synced.
    fn read_range(&mut self, after: Zxid, up_to: Zxid, max_bytes: usize) -> Result<Vec<LogEntry>>;

    /// Removes every record with a zxid greater than `zxid` (Zab's TRUNC), durably, pending
    /// records included. A no-op if `zxid >= last_zxid()`.
    fn truncate_after(&mut self, zxid: Zxid) -> Result<()>;

    /// Drops whole segments all of whose records have zxids `<= zxid` (retention after a
    /// snapshot). Never drops the newest segment, never a record above `zxid`.
    fn purge_through(&mut self, zxid: Zxid) -> Result<()>;
}

/// A snapshot loaded from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The zxid of the last transaction reflected in the state.
    pub zxid: Zxid,
    /// The opaque state-machine bytes: a slice of the file as stored (the file store maps
    /// it), not a copy of it (a million-znode snapshot is a few hundred MB).
    pub data: bytes::Bytes,
}

/// Snapshots of the state machine.
///
/// # Contract
/// - `save` returns only once the snapshot is durable and complete (written to a temporary
///   name, fsynced, renamed, directory fsynced); a crash during `save` leaves no trace a
///   later `load_newest` would pick up.
/// - `load_newest` returns the newest snapshot whose checksum is valid. If newer ones are
///   damaged it logs a warning and falls back to an older one: the caller then replays the
///   log from that older zxid. It fails with `Corrupt` if snapshots exist but none is valid.
pub trait SnapshotStore {
    /// Writes a snapshot at `zxid` by streaming it through `write`.
    fn save(
        &mut self,
        zxid: Zxid,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()>;

    /// The newest valid snapshot, or `None` if there is none at all.
    fn load_newest(&mut self) -> Result<Option<Snapshot>>;

    /// Zxids of the stored snapshots (by name, not validated), oldest first.
    fn list(&self) -> Result<Vec<Zxid>>;

    /// Deletes all but the newest `keep` snapshots (`keep >= 1`). Returns the zxid of the
    /// oldest snapshot kept, so the caller can purge log records at or below it.
    fn purge(&mut self, keep: usize) -> Result<Option<Zxid>>;
}

/// The two epoch values Zab persists, plus the leader that proposed the accepted epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Epochs {
    /// The last epoch this server accepted in a NEWEPOCH (Zab's acceptedEpoch).
    pub accepted_epoch: u32,
    /// The id of the leader that proposed `accepted_epoch` (0 if none).
    pub accepted_leader: u64,
    /// The epoch of the last NEWLEADER this server acknowledged (Zab's currentEpoch).
    pub current_epoch: u32,
}

/// acceptedEpoch and currentEpoch.
///
/// # Contract
/// Each store is atomic and durable on return: after a crash `load` returns either the old
/// or the new value, never a mix. Absent values load as 0. A damaged file is `Corrupt`,
/// never silently 0 (that would let the server vote in an epoch it already left).
pub trait EpochStore {
    /// Loads both epochs (absent = 0, leader 0).
    fn load(&mut self) -> Result<Epochs>;
    /// Durably records acceptedEpoch and the leader that proposed it.
    fn store_accepted_epoch(&mut self, epoch: u32, leader: u64) -> Result<()>;
    /// Durably records currentEpoch.
    fn store_current_epoch(&mut self, epoch: u32) -> Result<()>;
}
