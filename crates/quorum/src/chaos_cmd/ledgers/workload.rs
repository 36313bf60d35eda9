//! The ledger workload, through `ledger-client` as any application would use it: writers that
//! create ledgers claimed by themselves and append unique payloads, and recoveries that pick
//! ledgers still being written and recover them, fencing their writers. Everything a client
//! learns is recorded in the history with the time it learned it.

use super::super::workload::connect;
use super::super::workload::Rng;
use super::super::SESSION_TIMEOUT;
use super::history::{Recorder, What};
use client::zk;
use ledger::bug::Injected;
use ledger::LedgerId;
use ledger_client::recovery::recover_running;
use ledger_client::{open, LedgerWriter, MetaStore, WriteError, WriteOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A bookie that leaves a request unanswered this long is replaced (or, for a recovery,
/// counted as failed): short, so that a paused bookie is noticed within a fault.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one recovery may take before it gives up.
pub(super) const RECOVERY_DEADLINE: Duration = Duration::from_secs(20);
/// Appends a writer keeps in flight.
const WINDOW: usize = 16;
/// Alternating ledger shapes (E, Qw, Qa).
const SHAPES: [(usize, usize, usize); 2] = [(3, 3, 2), (3, 2, 2)];

/// What the workload's tasks share.
pub(super) struct Shared {
    pub(super) rec: Recorder,
    pub(super) stop: AtomicBool,
    pub(super) connect: String,
    /// Ledgers whose writer is appending now: what the recoveries pick from.
    pub(super) active: Mutex<Vec<LedgerId>>,
    /// The variant the workload's recoveries run (broken only in `--unsafe-ledger-bug` runs).
    pub(super) injected: Injected,
}

impl Shared {
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A metadata store on a fresh session; `None` once the workload stops.
pub(super) async fn session(shared: &Shared) -> Option<Arc<MetaStore>> {
    while !shared.stopped() {
        if let Some(zk) = connect(&shared.connect).await {
            let store = tokio::time::timeout(SESSION_TIMEOUT, MetaStore::new(zk)).await;
            if let Ok(Ok(store)) = store {
                return Some(Arc::new(store));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Whether `meta`'s session is over for good (a new one is needed).
pub(super) fn ended(meta: &MetaStore) -> bool {
    use zk::SessionState as S;
    matches!(
        meta.session().state(),
        S::Expired | S::Closed | S::AuthFailed
    )
}

/// Writer task `me`: ledger after ledger until the workload stops.
pub(super) async fn writer(shared: Arc<Shared>, me: usize, mut rng: Rng) {
    let mut meta = None;
    let mut round = me;
    while !shared.stopped() {
        let store = match meta.take().filter(|m: &Arc<MetaStore>| !ended(m)) {
            Some(store) => store,
            None => match session(&shared).await {
                Some(store) => store,
                None => return,
            },
        };
        let shape = SHAPES[round % SHAPES.len()];
        round += 1;
        if write_one(&shared, &store, me, shape, &mut rng)
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        meta = Some(store);
    }
}

/// Creates one ledger claimed by writer `me`, appends to it until done or stopped, and closes
/// it when every append was acknowledged.
async fn write_one(
    shared: &Arc<Shared>,
    meta: &Arc<MetaStore>,
    me: usize,
    (e, w, a): (usize, usize, usize),
    rng: &mut Rng,
) -> Result<(), String> {
    let token = open::new_writer_token();
    let (ledger, versioned) = open::create(meta, e, w, a, Some(token))
        .await
        .map_err(|e| e.to_string())?;
    let writer = me;
    shared.rec.record(What::Created {
        ledger,
        writer,
        shape: (e, w, a),
    });
    let bookies = meta.bookies().await.map_err(|e| e.to_string())?;
    let options = WriteOptions {
        request_timeout: REQUEST_TIMEOUT,
        max_pending_entries: WINDOW,
    };
    let handle = LedgerWriter::spawn(ledger, versioned, meta.clone(), bookies, options)
        .map_err(|e| e.to_string())?;
    shared.active.lock().unwrap().push(ledger);
    let count = 20 + rng.below(200);
    let clean = append_all(shared, &handle, me, count, rng).await;
    shared.active.lock().unwrap().retain(|&l| l != ledger);
    if clean && !shared.stopped() {
        close(shared, handle).await;
    }
    Ok(())
}

/// Appends `count` unique payloads, a few milliseconds apart; returns whether every one was
/// acknowledged. Acknowledgements are recorded by a collector task as they arrive.
async fn append_all(
    shared: &Arc<Shared>,
    handle: &LedgerWriter,
    me: usize,
    count: usize,
    rng: &mut Rng,
) -> bool {
    let ledger = handle.ledger();
    let failed = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(collect(shared.clone(), ledger, rx, failed.clone(), false));
    for n in 0..count {
        if shared.stopped() || failed.load(Ordering::Relaxed) {
            break;
        }
        let payload = format!("w{me}-L{ledger}-{n}");
        let ack = handle.append(payload.clone().into_bytes()).await;
        let _ = tx.send((payload, ack));
        tokio::time::sleep(Duration::from_millis(rng.below(8) as u64)).await;
    }
    drop(tx);
    let _ = collector.await;
    !failed.load(Ordering::Relaxed)
}

type Ack = oneshot::Receiver<Result<u64, WriteError>>;

/// Records each acknowledgement (or failure) of `ledger` the moment it arrives, in order.
pub(super) async fn collect(
    shared: Arc<Shared>,
    ledger: LedgerId,
    mut acks: mpsc::UnboundedReceiver<(String, Ack)>,
    failed: Arc<AtomicBool>,
    log: bool,
) {
    while let Some((payload, ack)) = acks.recv().await {
        match ack.await {
            Ok(Ok(entry)) => shared.rec.record(What::Acked {
                ledger,
                entry,
                payload,
                log,
            }),
            Ok(Err(e)) => {
                if !failed.swap(true, Ordering::Relaxed) {
                    shared.rec.record(What::AppendFailed {
                        ledger,
                        error: e.to_string(),
                    });
                }
            }
            Err(_) => failed.store(true, Ordering::Relaxed),
        }
    }
}

/// Closes the ledger of `handle`, recording its last entry.
pub(super) async fn close(shared: &Shared, handle: LedgerWriter) {
    let ledger = handle.ledger();
    if let Ok(Ok(last)) = tokio::time::timeout(Duration::from_secs(10), handle.close()).await {
        shared.rec.record(What::WriterClosed { ledger, last });
    }
}

/// Recovery task: every so often, recover a ledger some writer is writing.
pub(super) async fn recoverer(shared: Arc<Shared>, mut rng: Rng) {
    let mut meta: Option<Arc<MetaStore>> = None;
    while !shared.stopped() {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1200) as u64)).await;
        let pick = {
            let active = shared.active.lock().unwrap();
            (!active.is_empty()).then(|| active[rng.below(active.len())])
        };
        let Some(ledger) = pick else { continue };
        let store = match meta.take().filter(|m| !ended(m)) {
            Some(store) => store,
            None => match session(&shared).await {
                Some(store) => store,
                None => return,
            },
        };
        recover_one(&shared, &store, ledger, shared.injected).await;
        meta = Some(store);
    }
}

/// Recovers `ledger`, recording the start and the outcome.
pub(super) async fn recover_one(
    shared: &Shared,
    meta: &Arc<MetaStore>,
    ledger: LedgerId,
    injected: Injected,
) {
    shared.rec.record(What::RecoveryStarted { ledger });
    let (timeout, deadline) = (REQUEST_TIMEOUT, RECOVERY_DEADLINE);
    match recover_running(meta.clone(), ledger, timeout, deadline, injected).await {
        Ok(last) => shared.rec.record(What::Recovered { ledger, last }),
        Err(e) => shared.rec.record(What::RecoveryFailed {
            ledger,
            error: e.to_string(),
        }),
    }
}
