//! The replicated application the simulator runs on every server: a count and a running hash
//! of the delivered transactions. Two replicas with equal (count, hash) delivered the same
//! sequence (with overwhelming probability), so replicas can be compared cheaply.

use bytes::{BufMut, Bytes, BytesMut};
use zab::{Snapshot, Txn, Zxid};

use crate::rng::mix;

/// The state machine: how many transactions were applied and a hash of them, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct App {
    pub count: u64,
    pub hash: u64,
    pub zxid: Zxid,
}

impl App {
    pub fn apply(&mut self, txn: &Txn) {
        assert!(
            txn.zxid > self.zxid,
            "apply {} after {}",
            txn.zxid,
            self.zxid
        );
        self.count += 1;
        self.hash = Self::next_hash(self.hash, txn);
        self.zxid = txn.zxid;
    }

    pub fn next_hash(hash: u64, txn: &Txn) -> u64 {
        mix(mix(hash, &txn.zxid.as_u64().to_be_bytes()), &txn.data)
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut data = BytesMut::with_capacity(16);
        data.put_u64(self.count);
        data.put_u64(self.hash);
        Snapshot {
            zxid: self.zxid,
            data: data.freeze(),
        }
    }

    /// Restores from a snapshot; `None` if the bytes are not one of ours.
    pub fn restore(snapshot: &Snapshot) -> Option<App> {
        let data: &Bytes = &snapshot.data;
        if data.len() != 16 {
            return None;
        }
        let count = u64::from_be_bytes(data[..8].try_into().ok()?);
        let hash = u64::from_be_bytes(data[8..].try_into().ok()?);
        Some(App {
            count,
            hash,
            zxid: snapshot.zxid,
        })
    }
}
