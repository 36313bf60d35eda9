//! Harnesses that let one test suite drive both implementations.

#![allow(dead_code)]

use std::path::PathBuf;

use storage::sim::{SimDisk, SimEpochStore, SimLog, SimSnapshotStore};
use storage::{
    EpochStore, FileEpochStore, FileSnapshotStore, FileTxnLog, LogOptions, Preallocate,
    SnapshotStore, TxnLog,
};

/// Opens stores over some persistent state and simulates crashes of it.
pub trait Harness {
    type Log: TxnLog;
    type Snaps: SnapshotStore;
    type Epochs: EpochStore;
    fn new() -> Self;
    /// Opens (recovers) the log.
    fn log(&mut self) -> Self::Log;
    fn snaps(&mut self) -> Self::Snaps;
    fn epochs(&mut self) -> Self::Epochs;
    /// Crash after the handles were dropped: what was not synced is gone.
    fn crash(&mut self);
    /// Damages the snapshot at `zxid`.
    fn damage_snapshot(&mut self, zxid: storage::Zxid);
    /// Damages the acceptedEpoch file.
    fn damage_accepted_epoch(&mut self);
}

pub struct FileHarness {
    pub dir: tempfile::TempDir,
}

pub fn small_options() -> LogOptions {
    LogOptions {
        segment_size: 1024,
        max_payload: 256,
        preallocate: Preallocate::ZeroFill,
        ..LogOptions::default()
    }
}

impl FileHarness {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn flip(&self, name: &str, byte: usize) {
        let p = self.path(name);
        let mut b = std::fs::read(&p).unwrap();
        b[byte] ^= 0x10;
        std::fs::write(&p, b).unwrap();
    }
}

impl Harness for FileHarness {
    type Log = FileTxnLog;
    type Snaps = FileSnapshotStore;
    type Epochs = FileEpochStore;
    fn new() -> Self {
        FileHarness {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn log(&mut self) -> FileTxnLog {
        FileTxnLog::open(self.dir.path().join("log"), small_options()).unwrap()
    }
    fn snaps(&mut self) -> FileSnapshotStore {
        FileSnapshotStore::open(self.dir.path().join("data")).unwrap()
    }
    fn epochs(&mut self) -> FileEpochStore {
        FileEpochStore::open(self.dir.path().join("data")).unwrap()
    }
    fn crash(&mut self) {
        // Unsynced appends live in the dropped handle's memory: they are gone already.
    }
    fn damage_snapshot(&mut self, zxid: storage::Zxid) {
        self.flip(&format!("data/snapshot.{zxid:016x}"), 40);
    }
    fn damage_accepted_epoch(&mut self) {
        self.flip("data/acceptedEpoch", 9);
    }
}

pub struct SimHarness {
    pub disk: SimDisk,
}

impl Harness for SimHarness {
    type Log = SimLog;
    type Snaps = SimSnapshotStore;
    type Epochs = SimEpochStore;
    fn new() -> Self {
        SimHarness {
            disk: SimDisk::new(),
        }
    }
    fn log(&mut self) -> SimLog {
        self.disk.open_log().unwrap()
    }
    fn snaps(&mut self) -> SimSnapshotStore {
        self.disk.snapshots()
    }
    fn epochs(&mut self) -> SimEpochStore {
        self.disk.epochs()
    }
    fn crash(&mut self) {
        self.disk.crash_keeping(0);
    }
    fn damage_snapshot(&mut self, zxid: storage::Zxid) {
        self.disk.flip_snapshot_bit(zxid, 40 * 8 + 4);
    }
    fn damage_accepted_epoch(&mut self) {
        self.disk.flip_epoch_bit(true, 9 * 8 + 4);
    }
}
