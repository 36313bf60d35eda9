//! The transaction id every layer speaks: Zab orders by it, the log files are named and indexed
//! by it, the data tree stamps nodes with it and the server answers clients with it.
//!
//! One type for all of them, because three (a struct in the protocol, a `u64` in storage and
//! ZooKeeper's signed `i64` in the tree) needed a cast at every boundary, and a cast in the wrong
//! place (a sign, a swapped half) is a silent reordering. The packed forms exist only at the
//! edges: [`Zxid::as_u64`] for our files, [`Zxid::as_i64`] for ZooKeeper's wire and snapshots.

use std::fmt;

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
/// Field order matters: the derived `Ord` compares the epoch first, exactly as ZooKeeper's packed
/// `epoch << 32 | counter` does. A new epoch starts its counter at 0, and the first transaction of
/// an epoch has counter 1, so `(e, 0)` is never the id of a transaction; it marks "before
/// everything of epoch e".
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

    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid {
            epoch: Epoch(epoch),
            counter,
        }
    }

    /// Whether this is [`Zxid::ZERO`], "no transaction yet".
    pub fn is_zero(self) -> bool {
        self == Zxid::ZERO
    }

    /// The packed form of our own files: epoch in the high 32 bits, counter in the low 32.
    pub const fn as_u64(self) -> u64 {
        ((self.epoch.0 as u64) << 32) | self.counter as u64
    }

    pub const fn from_u64(packed: u64) -> Zxid {
        Zxid::new((packed >> 32) as u32, packed as u32)
    }

    /// ZooKeeper's wire and snapshot form: the same bits as [`Zxid::as_u64`] in a signed long.
    /// Epochs at or above 2^31 (never reached by a real ensemble) read as negative there, as
    /// they do in ZooKeeper.
    pub const fn as_i64(self) -> i64 {
        self.as_u64() as i64
    }

    pub const fn from_i64(packed: i64) -> Zxid {
        Zxid::from_u64(packed as u64)
    }

    pub fn to_le_bytes(self) -> [u8; 8] {
        self.as_u64().to_le_bytes()
    }

    pub fn from_le_bytes(bytes: [u8; 8]) -> Zxid {
        Zxid::from_u64(u64::from_le_bytes(bytes))
    }

    /// The next zxid of the same epoch. Panics when the counter would wrap: ZooKeeper forces a
    /// new epoch before that, and wrapping would reorder history.
    pub fn next(self) -> Zxid {
        let counter = self.counter.checked_add(1).expect("zxid counter exhausted");
        Zxid {
            epoch: self.epoch,
            counter,
        }
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.as_u64())
    }
}

/// `{:x}` / `{:#x}` print the packed form, as ZooKeeper's logs and file names do.
impl fmt::LowerHex for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.as_u64(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn packed_forms_round_trip_and_keep_the_order(a: (u32, u32), b: (u32, u32)) {
            let (x, y) = (Zxid::new(a.0, a.1), Zxid::new(b.0, b.1));
            prop_assert_eq!(Zxid::from_u64(x.as_u64()), x);
            prop_assert_eq!(Zxid::from_i64(x.as_i64()), x);
            prop_assert_eq!(Zxid::from_le_bytes(x.to_le_bytes()), x);
            prop_assert_eq!(x.cmp(&y), x.as_u64().cmp(&y.as_u64()));
        }
    }

    #[test]
    fn hex_is_the_packed_form() {
        let z = Zxid::new(4, 0x30a6);
        assert_eq!(format!("{z}"), "0x4000030a6");
        assert_eq!(format!("{z:#x}"), "0x4000030a6");
        assert_eq!(format!("{z:016x}"), "00000004000030a6");
    }
}
