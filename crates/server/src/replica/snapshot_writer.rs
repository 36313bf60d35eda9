//! The snapshot writer: one thread saves the periodic snapshots, so that writing and fsyncing
//! tens of megabytes never stalls the core task (which answers reads, routes commits and
//! prepares the next writes). ZooKeeper takes its periodic snapshots off the request path too.
//!
//! The core task only freezes the tree, in O(1), at one applied zxid (that is what makes the
//! snapshot exact); the frozen tree travels here and is serialized straight into the file, while
//! the core task keeps applying. When a snapshot is durable the writer deletes
//! snapshots beyond the retention count and reports [`StorageEvent::SnapshotSaved`], on which the
//! driver purges the log records the oldest kept snapshot covers. Until then nothing the
//! recovery needs has been removed, so a crash at any point recovers from the previous snapshot
//! and the full log. For the same reason a periodic snapshot that fails to save is logged and
//! skipped rather than fatal.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use std::time::Instant;

use storage::{FileSnapshotStore, SnapshotStore, StorageError};

use super::storage::{FrozenSnapshot, StorageEvent};

/// A handle on the writer thread.
pub struct SnapshotWriter {
    snapshots: Option<Sender<FrozenSnapshot>>,
    thread: Option<JoinHandle<()>>,
}

impl SnapshotWriter {
    /// Starts the writer for the snapshot folder `dir`, keeping the newest `retain` snapshots.
    /// `report` is called from the writer thread.
    pub fn start(
        dir: &Path,
        retain: usize,
        report: impl Fn(StorageEvent) + Send + 'static,
    ) -> Result<SnapshotWriter, StorageError> {
        let mut store = FileSnapshotStore::open(dir)?;
        let (tx, rx) = mpsc::channel::<FrozenSnapshot>();
        let thread = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || {
                super::background_priority::lower_this_thread();
                if let Err(error) = run(&mut store, retain.max(1), &rx, &report) {
                    report(StorageEvent::Fatal(error));
                }
            })
            .expect("spawn the snapshot writer thread");
        Ok(SnapshotWriter {
            snapshots: Some(tx),
            thread: Some(thread),
        })
    }

    /// Saves `snapshot` in the background.
    pub fn save(&self, snapshot: FrozenSnapshot) {
        // If the writer died it already reported why; the driver is stopping.
        if let Some(snapshots) = &self.snapshots {
            let _ = snapshots.send(snapshot);
        }
    }
}

impl Drop for SnapshotWriter {
    /// Waits for the snapshot being written, so a clean stop leaves no half-done work behind.
    fn drop(&mut self) {
        self.snapshots.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    store: &mut FileSnapshotStore,
    retain: usize,
    snapshots: &Receiver<FrozenSnapshot>,
    report: &impl Fn(StorageEvent),
) -> Result<(), StorageError> {
    while let Ok(mut snapshot) = snapshots.recv() {
        // Fell behind (a slow disk): only the newest queued snapshot is worth writing.
        while let Ok(newer) = snapshots.try_recv() {
            snapshot = newer;
        }
        let zxid = snapshot.zxid;
        let started = Instant::now();
        let saved = store.save(zxid, &mut |w| snapshot.state.write_to(w));
        // The frozen state goes before the report, so the core's tree is its own again.
        drop(snapshot);
        if let Err(error) = saved {
            // A periodic snapshot that could not be written leaves no trace (it is written
            // under a temporary name) and loses nothing (the log keeps every record until a
            // snapshot is durable): the server goes on and tries again at the next one. Out
            // of descriptors or space must not stop a server that can still serve.
            tracing::error!(%zxid, %error, "could not save a periodic snapshot; the log keeps everything until the next one");
            continue;
        }
        let ms = started.elapsed().as_millis();
        tracing::info!(%zxid, ms, "snapshot saved");
        let oldest_kept = store.purge(retain)?;
        report(StorageEvent::SnapshotSaved { zxid, oldest_kept });
    }
    Ok(())
}
