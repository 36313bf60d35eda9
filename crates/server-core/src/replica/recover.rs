//! Reading back what a replica stored: its epochs, the newest usable snapshot and the log
//! after it, checked to be a whole history (see [`super::recovery`]). Generic over the
//! storage crate's stores, so the server's files and the simulator's disk recover alike.

use bytes::Bytes;
use storage::{EpochStore, Epochs, SnapshotStore, TxnLog};
use zab::{Snapshot, Txn, Zxid};

use super::recovery;
use super::ReplicaError;

/// A replica's state as found on its disk.
#[derive(Debug, Default)]
pub struct Recovered {
    pub epochs: Epochs,
    /// The newest valid snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot, in order.
    pub log: Vec<Txn>,
}

/// Reads and checks what the stores hold.
pub fn recover(
    log: &mut impl TxnLog,
    snapshots: &mut impl SnapshotStore,
    epochs: &mut impl EpochStore,
) -> Result<Recovered, ReplicaError> {
    let stored = epochs.load()?;
    let snapshot = snapshots.load_newest()?.map(|s| Snapshot {
        zxid: s.zxid,
        data: s.data,
    });
    let snapshot_zxid = snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
    let found = recovery::Found {
        accepted_epoch: stored.accepted_epoch,
        current_epoch: stored.current_epoch,
        snapshot: snapshot_zxid,
        newest_snapshot_file: snapshots.list()?.last().copied(),
        log_base: log.base_zxid(),
        log_last: log.last_zxid(),
    };
    recovery::check(&found).map_err(ReplicaError::Unrecoverable)?;
    let mut txns = Vec::new();
    let last = log.last_zxid();
    let mut after = snapshot_zxid;
    while after < last {
        let page = log.read_range(after, last, 16 << 20)?;
        let Some(end) = page.last().map(|e| e.zxid) else {
            break;
        };
        txns.extend(page.into_iter().map(|e| Txn {
            zxid: e.zxid,
            data: Bytes::from(e.payload),
        }));
        after = end;
    }
    Ok(Recovered {
        epochs: stored,
        snapshot,
        log: txns,
    })
}
