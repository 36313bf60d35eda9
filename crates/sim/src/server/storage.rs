//! A server's storage in the simulator: the replica's [`Storage`] over the storage crate's
//! simulated disk ([`SimDisk`]: unsynced log bytes lost or torn on a crash), with the work the
//! real server does on threads (fsyncs, periodic snapshots) done when the world says.

use server_core::replica::{FrozenSnapshot, Storage, StorageEvent};
use storage::sim::{SimDisk, SimEpochStore, SimLog, SimSnapshotStore};
use storage::{EpochStore, SnapshotStore, StorageError, TxnLog};
use zab::{Epoch, ServerId, Snapshot, Txn, Zxid};

/// Snapshots kept on a simulated disk (as autopurge.snapRetainCount).
const SNAPSHOTS_KEPT: usize = 3;
/// A log read's page: small, so that reads for DIFFs take several.
const READ_PAGE_BYTES: usize = 256;

/// The replica's storage over a simulated disk.
#[derive(Debug)]
pub struct SimStorage {
    log: SimLog,
    epochs: SimEpochStore,
    snapshots: SimSnapshotStore,
    /// Appended since the last fsync: the world schedules one.
    unsynced: bool,
    /// A periodic snapshot handed over and not yet written.
    pending_snapshot: Option<FrozenSnapshot>,
    /// Snapshots for followers' SNAP not yet serialized (the server's peer snapshot thread).
    pending_for_peers: Vec<(ServerId, FrozenSnapshot)>,
    /// Log reads for followers' DIFFs not yet done (for whom, after, up to).
    pending_reads: Vec<(ServerId, Zxid, Zxid)>,
    /// The first error of background work, reported at the next fsync.
    failed: Option<StorageError>,
    /// The zxid of the newest snapshot on the disk (recovered, saved or installed).
    snapshot_on_disk: Zxid,
}

impl SimStorage {
    /// Handles on `disk` (open the log first: [`SimDisk::open_log`] runs its recovery).
    pub fn new(disk: &SimDisk, log: SimLog) -> SimStorage {
        let snapshots = disk.snapshots();
        let snapshot_on_disk = snapshots
            .list()
            .ok()
            .and_then(|zxids| zxids.into_iter().max())
            .unwrap_or(Zxid::ZERO);
        SimStorage {
            log,
            epochs: disk.epochs(),
            snapshots,
            unsynced: false,
            pending_snapshot: None,
            pending_for_peers: Vec::new(),
            pending_reads: Vec::new(),
            failed: None,
            snapshot_on_disk,
        }
    }

    /// The end of the history a crash now would keep: the log's fsynced records, or the
    /// newest snapshot if it reaches further.
    pub fn durable_end(&self) -> Zxid {
        self.log.durable_zxid().max(self.snapshot_on_disk)
    }

    /// Whether records were appended since the last fsync.
    pub fn wants_fsync(&self) -> bool {
        self.unsynced
    }

    /// Whether a periodic snapshot waits to be written, one for a follower to be serialized,
    /// or the log to be read for a follower.
    pub fn wants_snapshot_write(&self) -> bool {
        self.pending_snapshot.is_some()
            || !self.pending_for_peers.is_empty()
            || !self.pending_reads.is_empty()
    }

    /// Reads the log for followers' DIFFs, as the server's log writer does between its group
    /// commits, a page at a time.
    pub fn read_for_peers(&mut self) -> Vec<StorageEvent> {
        let reads = std::mem::take(&mut self.pending_reads);
        reads
            .into_iter()
            .map(|(for_server, after, up_to)| StorageEvent::PeerLog {
                for_server,
                after,
                up_to,
                txns: self.read(after, up_to),
            })
            .collect()
    }

    fn read(&mut self, after: Zxid, up_to: Zxid) -> Result<Vec<Txn>, StorageError> {
        let mut txns: Vec<Txn> = Vec::new();
        loop {
            let from = txns.last().map_or(after, |t| t.zxid);
            let page = self.log.read_range(from, up_to, READ_PAGE_BYTES)?;
            if page.is_empty() {
                return Ok(txns);
            }
            txns.extend(page.into_iter().map(|e| Txn {
                zxid: e.zxid,
                data: e.payload.into(),
            }));
        }
    }

    /// Serializes the snapshots asked for followers, as the server's peer snapshot thread
    /// does, dropping each frozen state before its report.
    pub fn serialize_for_peers(&mut self) -> Vec<StorageEvent> {
        let mut events = Vec::new();
        for (for_server, frozen) in std::mem::take(&mut self.pending_for_peers) {
            let data = frozen.to_bytes().expect("writing to memory cannot fail");
            let zxid = frozen.zxid;
            drop(frozen);
            let snapshot = Snapshot { zxid, data };
            events.push(StorageEvent::PeerSnapshot {
                for_server,
                snapshot,
            });
        }
        events
    }

    /// The group commit: makes everything appended durable.
    pub fn fsync(&mut self) -> StorageEvent {
        self.unsynced = false;
        if let Some(error) = self.failed.take() {
            return StorageEvent::Fatal(error);
        }
        match self.log.sync() {
            Ok(zxid) => StorageEvent::Durable(zxid),
            Err(error) => StorageEvent::Fatal(error),
        }
    }

    /// Writes the pending periodic snapshot and purges old ones, as the snapshot writer does;
    /// `None` when there was none. A failed save is skipped, as in the server.
    pub fn write_snapshot(&mut self) -> Option<StorageEvent> {
        let snapshot = self.pending_snapshot.take()?;
        let zxid = snapshot.zxid;
        if self
            .snapshots
            .save(zxid, &mut |w| snapshot.state.write_to(w))
            .is_err()
        {
            return None;
        }
        self.snapshot_on_disk = self.snapshot_on_disk.max(zxid);
        match self.snapshots.purge(SNAPSHOTS_KEPT) {
            Ok(oldest) => Some(StorageEvent::SnapshotSaved {
                zxid,
                oldest_kept: oldest,
            }),
            Err(error) => Some(StorageEvent::Fatal(error)),
        }
    }
}

impl Storage for SimStorage {
    fn store_accepted_epoch(&mut self, epoch: Epoch, leader: ServerId) -> Result<(), StorageError> {
        self.epochs.store_accepted_epoch(epoch.0, leader.0)
    }

    fn store_current_epoch(&mut self, epoch: Epoch) -> Result<(), StorageError> {
        self.epochs.store_current_epoch(epoch.0)
    }

    fn append(&mut self, txns: Vec<Txn>) {
        for txn in &txns {
            if let Err(error) = self.log.append(txn.zxid, &txn.data) {
                self.failed.get_or_insert(error);
                return;
            }
        }
        self.unsynced |= !txns.is_empty();
    }

    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        if self.unsynced {
            // Records before the truncation point become durable with it (as the log writer
            // syncs them before truncating).
            self.log.sync()?;
        }
        self.log.truncate_after(zxid)
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let data = snapshot.data.clone();
        self.snapshots
            .save(snapshot.zxid, &mut |w| w.write_all(&data))?;
        self.snapshot_on_disk = snapshot.zxid;
        self.unsynced = false;
        self.log.reset(snapshot.zxid)
    }

    fn save_snapshot(&mut self, snapshot: FrozenSnapshot) {
        // The newest replaces an older one not yet written (the snapshot writer does the same).
        self.pending_snapshot = Some(snapshot);
    }

    fn serialize_for_peer(&mut self, for_server: ServerId, snapshot: FrozenSnapshot) {
        self.pending_for_peers.push((for_server, snapshot));
    }

    fn read_for_peer(&mut self, for_server: ServerId, after: Zxid, up_to: Zxid) {
        self.pending_reads.push((for_server, after, up_to));
    }

    fn purge_through(&mut self, zxid: Zxid) {
        if let Err(error) = self.log.purge_through(zxid) {
            self.failed.get_or_insert(error);
        }
    }
}
