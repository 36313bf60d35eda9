//! What the replica asks of its disk, and what the disk reports back.
//!
//! The contract is zab's driver contract (zab::io): persisting an epoch, truncating, resetting
//! and saving an installed snapshot are durable when the call returns; appends and periodic
//! snapshots happen in the background and are reported later as a [`StorageEvent`], which the
//! driver hands back to the replica. The server's implementation runs the log and the periodic
//! snapshots on threads over files (`file_storage`); the simulator's runs on simulated time
//! over a simulated disk.

use bytes::Bytes;
use storage::StorageError;
use zab::{Epoch, ServerId, Snapshot, Txn, Zxid};

/// The state frozen at `zxid`, serialized when the storage gets to it (on the snapshot
/// writer's thread in the server, for a periodic snapshot or a follower's SNAP), so that a big
/// tree never holds up the core task.
pub struct FrozenSnapshot {
    /// Every transaction up to and including this one is in the state.
    pub zxid: Zxid,
    /// About how many bytes the state writes.
    pub size_hint: usize,
    pub state: Box<dyn WriteSnapshot>,
}

impl FrozenSnapshot {
    /// The state serialized into memory (a follower's SNAP), in one allocation of the hint.
    pub fn to_bytes(&self) -> std::io::Result<Bytes> {
        let mut buf = Vec::with_capacity(self.size_hint);
        self.state.write_to(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}

impl std::fmt::Debug for FrozenSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenSnapshot")
            .field("zxid", &self.zxid)
            .field("size_hint", &self.size_hint)
            .finish_non_exhaustive()
    }
}

/// A frozen state that can write itself, from any thread, as often as asked.
pub trait WriteSnapshot: Send {
    fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
}

/// A state already serialized.
impl WriteSnapshot for Bytes {
    fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        w.write_all(self)
    }
}

impl From<Snapshot> for FrozenSnapshot {
    fn from(snapshot: Snapshot) -> Self {
        FrozenSnapshot {
            zxid: snapshot.zxid,
            size_hint: snapshot.data.len(),
            state: Box::new(snapshot.data),
        }
    }
}

/// What the storage reports back to the replica.
#[derive(Debug)]
pub enum StorageEvent {
    /// Every record appended up to this zxid is durable.
    Durable(Zxid),
    /// The storage failed in a way that forbids going on (a failed fsync may have lost pages).
    Fatal(StorageError),
    /// The periodic snapshot at `zxid` is durable, and snapshots are kept back to
    /// `oldest_kept`: log records at or below it are no longer needed.
    SnapshotSaved {
        zxid: Zxid,
        oldest_kept: Option<Zxid>,
    },
    /// The snapshot asked for with [`Storage::serialize_for_peer`], serialized.
    PeerSnapshot {
        for_server: ServerId,
        snapshot: Snapshot,
    },
    /// The log records asked for with [`Storage::read_for_peer`]: every one with
    /// `after < zxid <= up_to`, in order.
    PeerLog {
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
        txns: Result<Vec<Txn>, StorageError>,
    },
}

/// The disk of one replica.
pub trait Storage {
    /// Durably records acceptedEpoch and the leader that proposed it.
    fn store_accepted_epoch(&mut self, epoch: Epoch, leader: ServerId) -> Result<(), StorageError>;
    /// Durably records currentEpoch.
    fn store_current_epoch(&mut self, epoch: Epoch) -> Result<(), StorageError>;
    /// Appends in the background (group commit); reported as [`StorageEvent::Durable`].
    fn append(&mut self, txns: Vec<Txn>);
    /// Removes every record after `zxid`; durable on return.
    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError>;
    /// Saves a snapshot installed from the leader and makes the log continue after it (every
    /// record dropped); durable on return.
    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError>;
    /// Saves a periodic snapshot in the background; reported as
    /// [`StorageEvent::SnapshotSaved`]. A snapshot that cannot be saved is logged and skipped.
    fn save_snapshot(&mut self, snapshot: FrozenSnapshot);
    /// Serializes a snapshot for a follower's SNAP in the background; reported as
    /// [`StorageEvent::PeerSnapshot`]. Nothing is written to disk.
    fn serialize_for_peer(&mut self, for_server: ServerId, snapshot: FrozenSnapshot);
    /// Reads the log records with `after < zxid <= up_to` for a follower's DIFF in the
    /// background, never on the caller's thread (tens of MB); reported as
    /// [`StorageEvent::PeerLog`].
    fn read_for_peer(&mut self, for_server: ServerId, after: Zxid, up_to: Zxid);
    /// Drops log records at or below `zxid` (a durable snapshot covers them), in the
    /// background.
    fn purge_through(&mut self, zxid: Zxid);
}
