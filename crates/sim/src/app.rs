//! The replicated application the simulator runs on every server: a count and a running hash
//! of the delivered transactions. Two replicas with equal (count, hash) delivered the same
//! sequence (with overwhelming probability), so replicas can be compared cheaply. It also
//! keeps the configuration the last reconfiguration delivered, as a server's state does: a
//! snapshot carries it, and a restarted server boots with it.

use bytes::{BufMut, Bytes, BytesMut};
use zab::{Membership, Snapshot, Txn, Zxid};

use crate::reconfig;
use crate::rng::mix;

/// The state machine: how many transactions were applied and a hash of them, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct App {
    pub count: u64,
    pub hash: u64,
    pub zxid: Zxid,
    /// The last delivered configuration: (version, voters mask, observers mask); `None`
    /// until a reconfiguration is delivered.
    pub config: Option<(Zxid, u64, u64)>,
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
        if let Some((voters, observers)) = reconfig::masks(&txn.data) {
            self.config = Some((txn.zxid, voters, observers));
        }
    }

    /// The configuration this state holds, for [`zab::Boot::membership`].
    pub fn membership(&self) -> Option<Membership> {
        self.config.map(|(version, voters, observers)| Membership {
            version,
            ..Membership::new(reconfig::ids(voters), reconfig::ids(observers))
        })
    }

    pub fn next_hash(hash: u64, txn: &Txn) -> u64 {
        mix(mix(hash, &txn.zxid.as_u64().to_be_bytes()), &txn.data)
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut data = BytesMut::with_capacity(40);
        data.put_u64(self.count);
        data.put_u64(self.hash);
        if let Some((version, voters, observers)) = self.config {
            data.put_u64(version.as_u64());
            data.put_u64(voters);
            data.put_u64(observers);
        }
        Snapshot {
            zxid: self.zxid,
            data: data.freeze(),
        }
    }

    /// Restores from a snapshot; `None` if the bytes are not one of ours.
    pub fn restore(snapshot: &Snapshot) -> Option<App> {
        let data: &Bytes = &snapshot.data;
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(
                data.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        let config = match data.len() {
            16 => None,
            40 => Some((Zxid::from_u64(word(2)?), word(3)?, word(4)?)),
            _ => return None,
        };
        Some(App {
            count: word(0)?,
            hash: word(1)?,
            zxid: snapshot.zxid,
            config,
        })
    }
}
