//! One partition's disk thread: appends with group commit, truncations, and fetch reads.
//!
//! Commands arrive in the order the replica issued them. The thread applies every command
//! already queued, then makes the appends durable with one fdatasync (policy `every-batch`) or
//! hands them to the file system (`never`), and only then reports the new durable end to the
//! core — the replica counts (and lets others count) only what that report covers. Fetch reads
//! are served here, from the store, straight onto the asking connection, so the core never
//! touches record bytes. A store error is fatal for the broker: it is reported and the thread
//! stops (nothing acknowledged may be lost, so nothing is skipped).

use partition::{Batch, Offset, Response, TopicPartition};
use tokio::sync::mpsc;

use super::conn::ConnHandle;
use super::core::CoreMsg;
use crate::store::{FsyncPolicy, PartitionStore};
use crate::wire::BrokerResponse;

/// What the core asks of a partition's disk thread.
pub enum DiskCmd {
    Append(Batch),
    Truncate(Offset),
    /// Answer a fetch on `conn` under `tag` with the batches in (from, up_to].
    Read {
        conn: ConnHandle,
        tag: u64,
        from: Offset,
        up_to: Offset,
        max_bytes: u32,
        high_watermark: Offset,
        log_end: Offset,
    },
}

/// Runs the disk thread of `tp` until the core drops its sender.
pub fn run(
    tp: TopicPartition,
    mut store: PartitionStore,
    fsync: FsyncPolicy,
    mut commands: mpsc::Receiver<DiskCmd>,
    core: mpsc::Sender<CoreMsg>,
) {
    while let Some(first) = commands.blocking_recv() {
        let mut appended = false;
        let mut next = Some(first);
        let outcome = loop {
            let Some(cmd) = next.take() else {
                break Ok(());
            };
            if let Err(e) = apply(&mut store, cmd, &mut appended) {
                break Err(e);
            }
            next = commands.try_recv().ok();
        };
        let outcome = outcome.and_then(|()| {
            if !appended {
                return Ok(None);
            }
            match fsync {
                FsyncPolicy::EveryBatch => store.sync().map(Some),
                FsyncPolicy::Never => store.flush().map(|()| Some(store.log_end())),
            }
            .map_err(|e| e.to_string())
        });
        let msg = match outcome {
            Ok(None) => continue,
            Ok(Some(end)) => CoreMsg::Appended {
                tp: tp.clone(),
                end,
            },
            Err(error) => CoreMsg::DiskFailed {
                tp: tp.clone(),
                error,
            },
        };
        let failed = matches!(msg, CoreMsg::DiskFailed { .. });
        if core.blocking_send(msg).is_err() || failed {
            return;
        }
    }
}

fn apply(store: &mut PartitionStore, cmd: DiskCmd, appended: &mut bool) -> Result<(), String> {
    match cmd {
        DiskCmd::Append(batch) => {
            store.append(&batch).map_err(|e| e.to_string())?;
            *appended = true;
        }
        DiskCmd::Truncate(to) => store.truncate(to).map_err(|e| e.to_string())?,
        DiskCmd::Read {
            conn,
            tag,
            from,
            up_to,
            max_bytes,
            high_watermark,
            log_end,
        } => {
            let batches = store
                .read(from, up_to, max_bytes as usize)
                .map_err(|e| e.to_string())?;
            let response = Response::Fetched {
                high_watermark,
                log_end,
                batches,
            };
            conn.answer(&BrokerResponse::Partition { tag, response });
        }
    }
    Ok(())
}
