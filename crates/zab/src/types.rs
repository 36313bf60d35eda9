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

/// An epoch: the ballot that fences every decision of one primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Epoch(pub u32);

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// A transaction id: (epoch, counter), ordered lexicographically.
///
/// Field order matters: the derived `Ord` compares the epoch first. A new epoch starts its
/// counter at 0, and the first transaction of an epoch has counter 1, so `(e, 0)` is never the
/// id of a transaction; it marks "before everything of epoch e".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Zxid {
    pub epoch: Epoch,
    pub counter: u32,
}

impl Zxid {
    /// The zxid before every transaction.
    pub const ZERO: Zxid = Zxid {
        epoch: Epoch(0),
        counter: 0,
    };
    /// The zxid after every transaction.
    pub const MAX: Zxid = Zxid {
        epoch: Epoch(u32::MAX),
        counter: u32::MAX,
    };

    pub fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid {
            epoch: Epoch(epoch),
            counter,
        }
    }

    /// ZooKeeper's packed form: epoch in the high 32 bits, counter in the low 32.
    pub fn as_u64(self) -> u64 {
        (u64::from(self.epoch.0) << 32) | u64::from(self.counter)
    }

    pub fn from_u64(packed: u64) -> Zxid {
        Zxid::new((packed >> 32) as u32, packed as u32)
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.as_u64())
    }
}

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
