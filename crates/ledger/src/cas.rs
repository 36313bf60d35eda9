//! The outcome of a compare-and-swap on a ledger's metadata znode, as the client state machines
//! are told it.
//!
//! The metadata store (Quorum) is linearizable, but the client only sees its replies: a reply
//! can be lost after the change was applied. The driver therefore reports anything but a clear
//! success as [`CasResult::Conflict`] with the metadata and version it re-read; a machine that
//! finds there exactly what it tried to write knows its own change was applied.

use crate::metadata::LedgerMetadata;

/// What became of a CAS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasResult {
    /// Applied; the znode now has `version`.
    Done { version: u64 },
    /// Not known to be applied (a version conflict, or no reply): the driver re-read the znode
    /// and found `metadata` at `version`.
    Conflict {
        metadata: LedgerMetadata,
        version: u64,
    },
}
