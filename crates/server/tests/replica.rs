//! The Zab driver over real files: a single-server ensemble commits through the log writer,
//! and a restart recovers exactly what was committed, from snapshot and log.

use std::sync::mpsc;

use bytes::Bytes;
use server::replica::{
    Application, FileStorage, NoPeers, Replica, ReplicaOptions, StorageEvent as LogEvent,
};
use storage::LogOptions;
use zab::{ServerId, Snapshot, Txn, Zxid};

#[derive(Default)]
struct Counter {
    applied: Vec<Zxid>,
    sum: u64,
    /// At the last restart: transactions the snapshot held, and the logged ones after it.
    restored: Option<(usize, Vec<Zxid>)>,
}

impl Application for Counter {
    fn deliver(&mut self, txn: &Txn) {
        self.applied.push(txn.zxid);
        self.sum += txn.data.len() as u64;
    }
    fn snapshot(&self) -> Snapshot {
        let zxid = self.applied.last().copied().unwrap_or(Zxid::ZERO);
        let mut data = self.sum.to_be_bytes().to_vec();
        data.extend_from_slice(&(self.applied.len() as u64).to_be_bytes());
        Snapshot {
            zxid,
            data: Bytes::from(data),
        }
    }
    fn leadership_confirmed(&mut self, _round: u64) {}
    fn install(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        let bytes: [u8; 16] = snapshot.data[..]
            .try_into()
            .map_err(|_| "bad snapshot".to_string())?;
        self.sum = u64::from_be_bytes(bytes[..8].try_into().unwrap());
        let count = u64::from_be_bytes(bytes[8..].try_into().unwrap());
        self.applied = vec![snapshot.zxid; count as usize];
        Ok(())
    }
    fn restore(&mut self, snapshot: &Snapshot, logged: &[Txn]) -> Result<(), String> {
        self.install(snapshot)?;
        let logged = logged.iter().map(|t| t.zxid).collect();
        self.restored = Some((self.applied.len(), logged));
        Ok(())
    }
}

fn open(
    dir: &std::path::Path,
    snap_count: u64,
) -> (
    Replica<Counter, FileStorage, NoPeers>,
    mpsc::Receiver<LogEvent>,
) {
    let (tx, rx) = mpsc::channel();
    let options = ReplicaOptions {
        activated: zab::Zxid::ZERO,
        zab: zab::Config::new(ServerId(1), vec![ServerId(1)]),
        snap_count,
        snap_retain: 3,
        log_options: LogOptions {
            segment_size: 4 << 20,
            max_payload: 1 << 20,
            ..LogOptions::default()
        },
        nonce: 7,
    };
    let replica = server::replica::open(dir, dir, options, Counter::default(), NoPeers, move |e| {
        let _ = tx.send(e);
    })
    .unwrap();
    (replica, rx)
}

fn commit(
    replica: &mut Replica<Counter, FileStorage, NoPeers>,
    events: &mpsc::Receiver<LogEvent>,
    n: usize,
) {
    let before = replica.app.applied.len();
    for i in 0..n {
        replica
            .propose(Bytes::from(vec![1u8; i % 7 + 1]))
            .unwrap()
            .unwrap();
    }
    while replica.app.applied.len() < before + n {
        let event = events
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        replica.on_storage_event(event).unwrap();
    }
}

#[test]
fn a_single_server_commits_and_recovers_everything_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 1_000_000);
    assert!(replica.peer().is_leading(), "a single server leads itself");
    commit(&mut replica, &events, 500);
    let (sum, count) = (replica.app.sum, replica.app.applied.len());
    let epoch = replica.peer().current_epoch();
    drop(replica);

    let (mut replica, events) = open(dir.path(), 1_000_000);
    assert!(replica.peer().is_leading());
    assert!(
        replica.peer().current_epoch() > epoch,
        "each start is a new epoch"
    );
    assert_eq!((replica.app.sum, replica.app.applied.len()), (sum, count));
    commit(&mut replica, &events, 10);
    assert_eq!(replica.app.applied.len(), count + 10);
}

#[test]
fn snapshots_bound_the_log_and_restore_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 100);
    commit(&mut replica, &events, 1000);
    let (sum, count) = (replica.app.sum, replica.app.applied.len());
    drop(replica);
    let snapshots = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("snapshot.")
        })
        .count();
    assert!((1..=3).contains(&snapshots), "{snapshots} snapshots kept");
    let (replica, _events) = open(dir.path(), 100);
    assert_eq!((replica.app.sum, replica.app.applied.len()), (sum, count));
}

/// A restart tells the application which logged transactions follow its snapshot (the server
/// sizes its node table for their creates), and delivers exactly those.
#[test]
fn the_restore_is_told_of_the_logged_transactions_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 100);
    commit(&mut replica, &events, 300);
    drop(replica);
    let (mut replica, events) = open(dir.path(), 1_000_000);
    commit(&mut replica, &events, 20);
    let count = replica.app.applied.len();
    drop(replica);
    let (replica, _events) = open(dir.path(), 1_000_000);
    let (in_snapshot, logged) = replica
        .app
        .restored
        .clone()
        .expect("restored from a snapshot");
    assert!(logged.len() >= 20, "{} logged", logged.len());
    assert_eq!(in_snapshot + logged.len(), count);
    assert_eq!(logged, replica.app.applied[in_snapshot..]);
}

fn error_of(
    result: Result<Replica<Counter, FileStorage, NoPeers>, server::replica::ReplicaError>,
) -> String {
    match result {
        Ok(_) => panic!("the replica started"),
        Err(e) => e.to_string(),
    }
}

fn try_open(
    dir: &std::path::Path,
) -> Result<Replica<Counter, FileStorage, NoPeers>, server::replica::ReplicaError> {
    let options = ReplicaOptions {
        activated: zab::Zxid::ZERO,
        zab: zab::Config::new(ServerId(1), vec![ServerId(1)]),
        snap_count: 1_000_000,
        snap_retain: 3,
        log_options: LogOptions::default(),
        nonce: 7,
    };
    server::replica::open(dir, dir, options, Counter::default(), NoPeers, |_| {})
}

/// Two servers on one dataDir would append to one log and rename over each other's
/// snapshots. The second must refuse to start, naming the directory, until the first is gone.
#[test]
fn a_second_server_on_the_same_folders_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 1_000_000);
    commit(&mut replica, &events, 5);
    let why = error_of(try_open(dir.path()));
    assert!(why.contains("in use by another process"), "{why}");
    assert!(why.contains(&dir.path().display().to_string()), "{why}");
    commit(&mut replica, &events, 5);
    drop(replica);
    let replica = try_open(dir.path()).unwrap();
    assert_eq!(replica.app.applied.len(), 10);
}

/// With its epoch files deleted a server used to start "healthy" and panic on the first
/// write (it reused zxids of its old epoch). It must refuse to start, naming what is missing.
#[test]
fn a_server_whose_epoch_files_are_gone_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 1_000_000);
    commit(&mut replica, &events, 20);
    drop(replica);
    for name in ["acceptedEpoch", "currentEpoch"] {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    let why = error_of(try_open(dir.path()));
    assert!(why.contains("epoch files are missing"), "{why}");
}

/// A damaged newest snapshot used to fall back to an older one without checking that the
/// log reaches back to it. Here the log continues after the damaged snapshot only (as after
/// a snapshot installed from the leader), so falling back would silently lose history.
#[test]
fn a_fallback_snapshot_the_log_does_not_reach_is_refused() {
    use storage::{FileSnapshotStore, FileTxnLog, SnapshotStore, TxnLog};
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, events) = open(dir.path(), 1_000_000);
    commit(&mut replica, &events, 5);
    drop(replica);
    let zxid = |c: u32| Zxid::new(1, c);
    let mut snapshots = FileSnapshotStore::open(dir.path()).unwrap();
    let counter = |sum: u64, count: u64| {
        let mut b = sum.to_be_bytes().to_vec();
        b.extend_from_slice(&count.to_be_bytes());
        b
    };
    snapshots
        .save(zxid(3), &mut |w| w.write_all(&counter(3, 3)))
        .unwrap();
    snapshots
        .save(zxid(100), &mut |w| w.write_all(&counter(100, 100)))
        .unwrap();
    let mut log = FileTxnLog::open(dir.path(), LogOptions::default()).unwrap();
    log.reset(zxid(100)).unwrap();
    log.append(zxid(101), b"x").unwrap();
    log.sync().unwrap();
    drop(log);
    assert!(try_open(dir.path()).is_ok(), "whole as it is");
    // Damage the newest snapshot.
    let newest = dir.path().join(format!("snapshot.{:016x}", zxid(100)));
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&newest, bytes).unwrap();
    let why = error_of(try_open(dir.path()));
    assert!(why.contains("continues after"), "{why}");
}
