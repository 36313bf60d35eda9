//! `quorum bench recovery`: how long a server's restart spends on each step before it can
//! serve, on a copy of a real server's folders. The steps are the server's own functions:
//! reading the stores ([`server_core::replica::recover`]: the epochs, the newest snapshot, the
//! log after it), installing the snapshot into the server's state, and applying the log's
//! records, which a follower does when its leader's COMMIT-LD says they are committed. What it
//! leaves out is the exchange with the leader itself. Last it writes a snapshot of the tree it
//! recovered as the snapshot writer does (frozen, serialized, checksummed, fsynced), in a
//! temporary folder: what each periodic snapshot of such a tree costs a server.
//!
//! It opens the stores as a server does, so a torn log tail is truncated: point it at a copy.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use server_core::limits::Limits;
use server_core::replica::{recover, Application};
use server_core::session::SessionIds;
use server_core::state::ServerState;
use storage::{FileEpochStore, FileSnapshotStore, FileTxnLog, LogOptions, SnapshotStore};

/// Arguments of `quorum bench recovery`.
#[derive(clap::Args)]
pub struct Args {
    /// The server's dataDir (epochs and snapshots), or a copy of it.
    #[arg(long)]
    data_dir: PathBuf,
    /// The server's dataLogDir (the transaction log); the dataDir when not given.
    #[arg(long)]
    log_dir: Option<PathBuf>,
}

/// What one recovery measured.
#[derive(Debug)]
pub struct Figures {
    pub snapshot_bytes: usize,
    pub log_records: usize,
    /// Znodes in the tree at the end.
    pub znodes: usize,
    /// Opening the stores and reading the snapshot and the log after it.
    pub read: Duration,
    /// Building the data tree from the snapshot.
    pub install: Duration,
    /// Applying the log's records to it.
    pub apply: Duration,
    /// Writing a snapshot of the recovered tree (not part of the restart).
    pub snapshot: Duration,
    /// This process's resident memory once the log is applied (the snapshot's bytes freed).
    pub rss_bytes: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| args.data_dir.clone());
    let f = measure(&args.data_dir, &log_dir)?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "snapshot {} MB, {} log records after it, {} znodes: read {:.0} ms, install {:.0} ms, apply {:.0} ms, \
         total {:.0} ms; RSS {} MiB; a snapshot of it written in {:.0} ms",
        f.snapshot_bytes / 1_000_000,
        f.log_records,
        f.znodes,
        ms(f.read),
        ms(f.install),
        ms(f.apply),
        ms(f.read + f.install + f.apply),
        f.rss_bytes >> 20,
        ms(f.snapshot),
    );
    Ok(())
}

/// Recovers the stores in `data_dir` and `log_dir` into a fresh server state, step by step.
pub fn measure(data_dir: &std::path::Path, log_dir: &std::path::Path) -> Result<Figures, String> {
    let err = |e: storage::StorageError| e.to_string();
    // Opening the log truncates a torn tail: never beside a server that is writing it.
    let _locks = storage::DirLock::acquire_all(&[data_dir, log_dir]).map_err(err)?;
    let start = Instant::now();
    let mut epochs = FileEpochStore::open(data_dir).map_err(err)?;
    let mut snapshots = FileSnapshotStore::open(data_dir).map_err(err)?;
    // A server's options with the default jute.maxbuffer.
    let mut log = FileTxnLog::open(log_dir, LogOptions::default()).map_err(err)?;
    let recovered =
        recover(&mut log, &mut snapshots, &mut epochs).map_err(|e| format!("recovery: {e}"))?;
    let read = start.elapsed();

    let mut state = ServerState::new(Limits::defaults(1 << 20), SessionIds::new(1, 0));
    let start = Instant::now();
    let snapshot_bytes = recovered.snapshot.as_ref().map_or(0, |s| s.data.len());
    if let Some(snapshot) = &recovered.snapshot {
        state.restore(snapshot, &recovered.log)?;
    }
    let install = start.elapsed();

    let start = Instant::now();
    for txn in &recovered.log {
        state.deliver(txn);
    }
    let apply = start.elapsed();
    let log_records = recovered.log.len();
    drop(recovered);
    let rss_bytes = crate::bench_tree_memory::resident_bytes()?;
    let snapshot = write_snapshot(&mut state)?;
    Ok(Figures {
        rss_bytes,
        snapshot,
        snapshot_bytes,
        log_records,
        znodes: state.tree.node_count(),
        read,
        install,
        apply,
    })
}

/// Freezes the tree and writes it as the snapshot writer does, into a temporary folder.
fn write_snapshot(state: &mut ServerState) -> Result<Duration, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
    let mut store = FileSnapshotStore::open(dir.path()).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let frozen = state.freeze_for_peer();
    store
        .save(frozen.zxid, &mut |w| frozen.state.write_to(w))
        .map_err(|e| e.to_string())?;
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use storage::{
        EpochStore, FileEpochStore, FileSnapshotStore, FileTxnLog, LogOptions, SnapshotStore,
        TxnLog,
    };
    use tree::{CreateTxn, DataTree, NodeKind, Txn, TxnHeader, TxnRecord, Zxid};

    fn create(n: u32) -> Vec<u8> {
        let header = TxnHeader {
            zxid: Zxid::new(1, n),
            time_ms: 1_000,
            session_id: 0,
            cxid: 0,
        };
        let txn = Txn::Create(CreateTxn {
            path: format!("/n{n}"),
            data: Some(Bytes::from_static(b"value")),
            acl: proto::Acl::open_unsafe(),
            kind: NodeKind::Persistent,
            parent_cversion: n as i32,
            with_stat: false,
        });
        TxnRecord::new(header, txn).encode()
    }

    #[test]
    fn the_snapshot_is_installed_and_the_log_after_it_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = DataTree::new();
        let mut log = FileTxnLog::open(dir.path(), LogOptions::default()).unwrap();
        for n in 1..=20 {
            let record = create(n);
            log.append(Zxid::new(1, n), &record).unwrap();
            if n <= 12 {
                tree.apply(&TxnRecord::decode(&record).unwrap());
            }
        }
        log.sync().unwrap();
        let mut snapshots = FileSnapshotStore::open(dir.path()).unwrap();
        snapshots
            .save(Zxid::new(1, 12), &mut |mut w| tree.snapshot_to(&mut w))
            .unwrap();
        let mut epochs = FileEpochStore::open(dir.path()).unwrap();
        epochs.store_accepted_epoch(1, 1).unwrap();
        epochs.store_current_epoch(1).unwrap();

        let f = super::measure(dir.path(), dir.path()).unwrap();
        assert_eq!(f.log_records, 8);
        assert_eq!(f.znodes, DataTree::new().node_count() + 20);
        assert!(f.snapshot_bytes > 0);
    }
}
