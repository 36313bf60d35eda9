//! The server's storage: files in `dataDir` (epochs, snapshots) and `dataLogDir` (the
//! transaction log), with the log written by the log writer thread (group commit) and periodic
//! snapshots by the snapshot writer thread, and followers' snapshots serialized on a thread of
//! their own, all reporting through a callback.

use std::path::Path;

use storage::{
    DirLock, EpochStore, FileEpochStore, FileSnapshotStore, FileTxnLog, LogOptions, SnapshotStore,
    StorageError,
};
use zab::{Epoch, ServerId, Snapshot, Txn, Zxid};

use super::log_writer::LogWriter;
use super::peer_snapshots::PeerSnapshots;
use super::recover::{recover, Recovered};
use super::snapshot_writer::SnapshotWriter;
use super::storage::{FrozenSnapshot, Storage, StorageEvent};
use super::ReplicaError;

/// Files, with the log and periodic snapshots written on their own threads.
pub struct FileStorage {
    log: LogWriter,
    epochs: FileEpochStore,
    /// For snapshots installed from a leader, saved on the core task (durable on return).
    snapshots: FileSnapshotStore,
    snapshot_writer: SnapshotWriter,
    peer_snapshots: PeerSnapshots,
    /// `dataDir` and `dataLogDir` locked against a second process; declared last, so released
    /// only after the writer threads above have stopped.
    _locks: Vec<DirLock>,
}

impl FileStorage {
    /// Opens the stores, recovers what they hold, and starts the writer threads. `report` is
    /// called from those threads; the driver hands what it gets to the replica.
    pub fn open(
        data_dir: &Path,
        log_dir: &Path,
        log_options: LogOptions,
        snap_retain: usize,
        report: impl Fn(StorageEvent) + Send + Sync + 'static,
    ) -> Result<(FileStorage, Recovered), ReplicaError> {
        let locks = DirLock::acquire_all(&[data_dir, log_dir])?;
        let mut epochs = FileEpochStore::open(data_dir)?;
        let mut snapshots = FileSnapshotStore::open(data_dir)?;
        let mut log = FileTxnLog::open(log_dir, log_options)?;
        let recovered = recover(&mut log, &mut snapshots, &mut epochs)?;
        let report = std::sync::Arc::new(report);
        let snapshot_report = report.clone();
        let snapshot_writer =
            SnapshotWriter::start(data_dir, snap_retain, move |e| snapshot_report(e))?;
        let peer_report = report.clone();
        let peer_snapshots = PeerSnapshots::start(move |e| peer_report(e));
        let log = LogWriter::start(log, move |e| report(e));
        let storage = FileStorage {
            log,
            epochs,
            snapshots,
            snapshot_writer,
            peer_snapshots,
            _locks: locks,
        };
        Ok((storage, recovered))
    }
}

impl Storage for FileStorage {
    fn store_accepted_epoch(&mut self, epoch: Epoch, leader: ServerId) -> Result<(), StorageError> {
        self.epochs.store_accepted_epoch(epoch.0, leader.0)
    }

    fn store_current_epoch(&mut self, epoch: Epoch) -> Result<(), StorageError> {
        self.epochs.store_current_epoch(epoch.0)
    }

    fn append(&mut self, txns: Vec<Txn>) {
        self.log.append(txns);
    }

    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.log.truncate(zxid)
    }

    fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let data = snapshot.data.clone();
        self.snapshots
            .save(snapshot.zxid, &mut |w| w.write_all(&data))?;
        tracing::info!(zxid = %snapshot.zxid, bytes = data.len(), "snapshot saved");
        self.log.reset(snapshot.zxid)
    }

    fn save_snapshot(&mut self, snapshot: FrozenSnapshot) {
        self.snapshot_writer.save(snapshot);
    }

    fn serialize_for_peer(&mut self, for_server: ServerId, snapshot: FrozenSnapshot) {
        self.peer_snapshots.serialize(for_server, snapshot);
    }

    fn read_for_peer(&mut self, for_server: ServerId, after: Zxid, up_to: Zxid) {
        self.log.read_for_peer(for_server, after, up_to);
    }

    fn purge_through(&mut self, zxid: Zxid) {
        self.log.purge_through(zxid);
    }
}
