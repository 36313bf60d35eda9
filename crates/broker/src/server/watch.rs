//! Following znodes: a one-shot watch re-armed after every event, plus a re-read at least every
//! [`RESYNC`] in case an event was missed (a watch set on a server that then lost its session
//! state, or a znode that did not exist yet). Each loop ends when its receiver is gone or the
//! session fails.

use std::time::Duration;

use client::zk;
use tokio::sync::mpsc;

/// The longest a follower of a znode goes without reading it again.
pub const RESYNC: Duration = Duration::from_secs(2);

/// Wait after a failed read before trying again.
const RETRY: Duration = Duration::from_millis(200);

/// Sends `map(data, stat)` for znode `path` now and after every change (nothing while it does
/// not exist). Returns when `tx` is closed or the session has expired.
pub async fn data<T, F>(zk: zk::Client, path: String, tx: mpsc::Sender<T>, map: F)
where
    F: Fn(&[u8], &zk::Stat) -> Option<T>,
{
    loop {
        let watcher = match zk.get_and_watch_data(&path).await {
            Ok((data, stat, watcher)) => {
                if let Some(item) = map(&data, &stat) {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                Some(watcher)
            }
            Err(zk::Error::NoNode) => None,
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            Err(e) => {
                tracing::debug!(%path, error = %e, "reading a znode failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        wait(watcher).await;
    }
}

/// Sends `map(children)` for znode `path` now and after every change of its children.
pub async fn children<T, F>(zk: zk::Client, path: String, tx: mpsc::Sender<T>, map: F)
where
    F: Fn(Vec<String>) -> Option<T>,
{
    loop {
        let watcher = match zk.get_and_watch_children(&path).await {
            Ok((children, _, watcher)) => {
                if let Some(item) = map(children) {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                Some(watcher)
            }
            Err(zk::Error::NoNode) => {
                if let Some(item) = map(Vec::new()) {
                    if tx.send(item).await.is_err() {
                        return;
                    }
                }
                None
            }
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            Err(e) => {
                tracing::debug!(%path, error = %e, "listing a znode failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        wait(watcher).await;
    }
}

async fn wait(watcher: Option<zk::OneshotWatcher>) {
    match watcher {
        Some(w) => {
            let _ = tokio::time::timeout(RESYNC, w.changed()).await;
        }
        None => tokio::time::sleep(RESYNC.min(Duration::from_millis(500))).await,
    }
}
