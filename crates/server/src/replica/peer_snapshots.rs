//! Snapshots for followers' SNAP, serialized on their own thread: a leader whose follower is
//! too far behind for a DIFF freezes its tree in O(1) and goes on leading, and the bytes come
//! back as [`StorageEvent::PeerSnapshot`] (226 MiB for a million znodes took the core task
//! 1.5–2 s to serialize). A tree stays frozen while it is serialized, and every follower that
//! asks meanwhile gets that same tree (`DataTree::freeze_now`), so the bytes of the last one
//! are kept while requests are queued and serialized once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use zab::{ServerId, Snapshot, Zxid};

use super::storage::{FrozenSnapshot, StorageEvent};

/// Requests waiting for the thread. Each is one follower's sync, and a follower syncs once per
/// connection, so more than a few means followers are reconnecting faster than a snapshot is
/// written; a request beyond this is dropped and that follower's sync times out and retries.
const PEER_SNAPSHOT_QUEUE_REQUESTS: usize = 16;

/// A handle on the thread.
pub struct PeerSnapshots {
    requests: Option<SyncSender<(ServerId, FrozenSnapshot)>>,
    /// Set when the server stops: requests still queued are dropped, not serialized.
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PeerSnapshots {
    /// Starts the thread; `report` is called from it.
    pub fn start(report: impl Fn(StorageEvent) + Send + 'static) -> PeerSnapshots {
        let (tx, rx) = mpsc::sync_channel(PEER_SNAPSHOT_QUEUE_REQUESTS);
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("peer-snapshots".into())
            .spawn(move || run(&rx, &stop, &report))
            .expect("spawn the peer snapshot thread");
        PeerSnapshots {
            requests: Some(tx),
            stopping,
            thread: Some(thread),
        }
    }

    /// Serializes `snapshot` for `for_server` in the background.
    pub fn serialize(&self, for_server: ServerId, snapshot: FrozenSnapshot) {
        let Some(requests) = &self.requests else {
            return;
        };
        match requests.try_send((for_server, snapshot)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::warn!(
                peer = for_server.0,
                "too many snapshots asked for followers at once; this follower's sync will time out and retry"
            ),
            Err(TrySendError::Disconnected(_)) => tracing::error!(
                peer = for_server.0,
                "the peer snapshot thread is gone; this follower cannot be synced by SNAP"
            ),
        }
    }
}

impl Drop for PeerSnapshots {
    /// Waits for the snapshot being serialized, if any, and drops the queued requests.
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    requests: &Receiver<(ServerId, FrozenSnapshot)>,
    stopping: &AtomicBool,
    report: &impl Fn(StorageEvent),
) {
    let mut last: Option<(Zxid, Bytes)> = None;
    loop {
        let (for_server, frozen) = match requests.try_recv() {
            Ok(request) => request,
            Err(TryRecvError::Empty) => {
                // Nobody waits for the last bytes: give them back before waiting.
                last = None;
                match requests.recv() {
                    Ok(request) => request,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => return,
        };
        if stopping.load(Ordering::Relaxed) {
            return;
        }
        let zxid = frozen.zxid;
        let data = match &last {
            Some((z, data)) if *z == zxid => data.clone(),
            _ => {
                last = None;
                let data = match frozen.to_bytes() {
                    Ok(data) => data,
                    Err(error) => {
                        tracing::error!(%zxid, %error, "could not serialize a snapshot for a follower");
                        continue;
                    }
                };
                last = Some((zxid, data.clone()));
                data
            }
        };
        // The frozen state goes before the report, so the tree is the core's own again.
        drop(frozen);
        tracing::info!(peer = for_server.0, %zxid, bytes = data.len(), "snapshot serialized for a follower");
        report(StorageEvent::PeerSnapshot {
            for_server,
            snapshot: Snapshot { zxid, data },
        });
    }
}
