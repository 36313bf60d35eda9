//! Snapshots for followers' SNAP, serialized on their own thread: a leader whose follower is
//! too far behind for a DIFF freezes its tree in O(1) and goes on leading, and the bytes come
//! back as [`StorageEvent::PeerSnapshot`] (226 MiB for a million znodes took the core task
//! 1.5–2 s to serialize). Requests queued together for the same frozen state are serialized
//! once and the bytes shared.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
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
    thread: Option<JoinHandle<()>>,
}

impl PeerSnapshots {
    /// Starts the thread; `report` is called from it.
    pub fn start(report: impl Fn(StorageEvent) + Send + 'static) -> PeerSnapshots {
        let (tx, rx) = mpsc::sync_channel(PEER_SNAPSHOT_QUEUE_REQUESTS);
        let thread = std::thread::Builder::new()
            .name("peer-snapshots".into())
            .spawn(move || run(&rx, &report))
            .expect("spawn the peer snapshot thread");
        PeerSnapshots {
            requests: Some(tx),
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
            // The thread is gone only while the server stops.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Drop for PeerSnapshots {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(requests: &Receiver<(ServerId, FrozenSnapshot)>, report: &impl Fn(StorageEvent)) {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        batch.extend(requests.try_iter());
        let mut serialized: Vec<(Zxid, Bytes)> = Vec::new();
        for (for_server, frozen) in batch {
            let zxid = frozen.zxid;
            let data = match serialized.iter().find(|(z, _)| *z == zxid) {
                Some((_, data)) => data.clone(),
                None => {
                    let mut buf = Vec::with_capacity(frozen.size_hint);
                    if let Err(error) = frozen.state.write_to(&mut buf) {
                        tracing::error!(%zxid, %error, "could not serialize a snapshot for a follower");
                        continue;
                    }
                    let data = Bytes::from(buf);
                    serialized.push((zxid, data.clone()));
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
}
