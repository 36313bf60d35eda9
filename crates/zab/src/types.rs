//! The protocol's small value types: server ids, epochs, zxids, transactions, snapshots.

use std::fmt;

use bytes::Bytes;

/// A server's id in the ensemble (ZooKeeper's `myid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ServerId(pub u64);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

pub use zxid::{Epoch, Zxid};

/// A transaction: an opaque payload at a zxid. The core never looks inside the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub zxid: Zxid,
    pub data: Bytes,
}

/// The application's state at a zxid, as opaque bytes. Used by SNAP synchronization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Every transaction up to and including this zxid is reflected in `data`.
    pub zxid: Zxid,
    pub data: Bytes,
}
