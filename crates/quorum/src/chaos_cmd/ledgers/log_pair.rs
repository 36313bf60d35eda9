//! The log-of-ledgers pair: two tasks taking over the same log in turn, each appending until
//! the other takes the log from it (fencing its ledger) or it has written its share. The
//! checker then reads the log as one sequence.

use super::super::workload::Rng;
use super::history::What;
use super::workload::{close, collect, ended, session, Shared, RECOVERY_DEADLINE, REQUEST_TIMEOUT};
use ledger_client::log::{take_over, LogOptions};
use ledger_client::{LedgerWriter, MetaStore, WriteOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The log both tasks write.
pub(super) const LOG: &str = "chaos-log";

fn options() -> LogOptions {
    LogOptions {
        ensemble: 3,
        write_quorum: 3,
        ack_quorum: 2,
        write: WriteOptions {
            request_timeout: REQUEST_TIMEOUT,
            max_pending_entries: 16,
        },
        recovery_deadline: RECOVERY_DEADLINE,
    }
}

/// Log writer `me`: takes the log over, appends, pauses, and again, until the workload stops.
pub(super) async fn log_writer(shared: Arc<Shared>, me: usize, mut rng: Rng) {
    let mut meta: Option<Arc<MetaStore>> = None;
    let mut next = 0u64;
    while !shared.stopped() {
        tokio::time::sleep(Duration::from_millis(200 + rng.below(1500) as u64)).await;
        let store = match meta.take().filter(|m| !ended(m)) {
            Some(store) => store,
            None => match session(&shared).await {
                Some(store) => store,
                None => return,
            },
        };
        match take_over(store.clone(), LOG, options()).await {
            Ok(handle) => {
                let ledger = handle.ledger();
                shared.rec.record(What::LogTakeOver { writer: me, ledger });
                append(&shared, handle, me, &mut next, &mut rng).await;
            }
            Err(e) => shared.rec.record(What::LogTakeOverFailed {
                writer: me,
                error: e.to_string(),
            }),
        }
        meta = Some(store);
    }
}

/// Appends unique payloads until fenced, stopped, or a random share is written; closes the
/// ledger if nothing failed.
async fn append(
    shared: &Arc<Shared>,
    handle: LedgerWriter,
    me: usize,
    next: &mut u64,
    rng: &mut Rng,
) {
    let failed = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(
        shared.clone(),
        handle.ledger(),
        rx,
        failed.clone(),
        true,
    ));
    for _ in 0..50 + rng.below(300) {
        if shared.stopped() || failed.load(Ordering::Relaxed) {
            break;
        }
        let payload = format!("log{me}-{next}");
        *next += 1;
        let ack = handle.append(payload.clone().into_bytes()).await;
        let _ = tx.send((payload, ack));
        tokio::time::sleep(Duration::from_millis(rng.below(8) as u64)).await;
    }
    drop(tx);
    let _ = collector.await;
    if !failed.load(Ordering::Relaxed) && !shared.stopped() {
        close(shared, handle).await;
    }
}
