//! The end of a run, once every fault is healed: recover every ledger still open (the writers
//! have stopped, so this fences nobody alive), then read every ledger and the log back through
//! the reader, for the checker.

use super::super::workload::connect;
use super::check::{Final, FinalLedger};
use super::history::What;
use super::log_pair::LOG;
use super::workload::{recover_one, Shared, REQUEST_TIMEOUT};
use ledger::bug::Injected;
use ledger::{EntryId, LedgerId, LedgerState};
use ledger_client::{log, reader, MetaStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the final phase may try to reach Quorum, and each final read may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// Attempts at recovering one ledger at the end.
const ATTEMPTS: usize = 3;

/// A metadata store for the final phase (the workload's helper gives up once stopped).
async fn final_session(connect_string: &str) -> Result<Arc<MetaStore>, String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(zk) = connect(connect_string).await {
            if let Ok(store) = MetaStore::new(zk).await {
                return Ok(Arc::new(store));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("cannot reach Quorum for the final check".into())
}

/// Recovers what is open, reads everything back; returns it and how many ledgers the final
/// phase recovered.
pub(super) async fn read_back(shared: &Shared) -> Result<(Final, usize), String> {
    let meta = final_session(&shared.connect).await?;
    let ids = meta.ledgers().await.map_err(|e| e.to_string())?;
    let mut recovered = 0;
    let mut ledgers = BTreeMap::new();
    for id in ids {
        if close(shared, &meta, id).await? {
            recovered += 1;
        }
        ledgers.insert(id, read_ledger(&meta, id).await);
    }
    let log = read_log(&meta).await;
    Ok((Final { ledgers, log }, recovered))
}

/// Recovers ledger `id` unless CLOSED; returns whether it had to.
async fn close(shared: &Shared, meta: &Arc<MetaStore>, id: LedgerId) -> Result<bool, String> {
    for _ in 0..ATTEMPTS {
        let state = match meta.read(id).await {
            Ok(v) => v.metadata.state,
            // Deleted: a log take-over that lost its race removes its unused ledger.
            Err(ledger_client::MetaError::NoLedger(_)) => return Ok(false),
            Err(e) => return Err(e.to_string()),
        };
        if state == LedgerState::Closed {
            return Ok(false);
        }
        // The correct protocol, whatever the workload ran: this closes what is left.
        recover_one(shared, meta, id, Injected::NONE).await;
        let done = shared
            .rec
            .events()
            .into_iter()
            .rev()
            .any(|e| matches!(e.what, What::Recovered { ledger, .. } if ledger == id));
        if done {
            return Ok(true);
        }
    }
    Ok(true)
}

/// Ledger `id`'s final state: its last entry if closed, and every entry read back.
async fn read_ledger(meta: &MetaStore, id: LedgerId) -> FinalLedger {
    let closed = match meta.read(id).await {
        Ok(v) if v.metadata.state == LedgerState::Closed => Some(v.metadata.last_entry),
        _ => None,
    };
    let mut entries = BTreeMap::new();
    let read = reader::read(
        meta,
        id,
        0,
        EntryId::MAX,
        REQUEST_TIMEOUT,
        PATIENCE,
        |e, p| {
            entries.insert(e, String::from_utf8_lossy(&p).into_owned());
        },
    )
    .await;
    FinalLedger {
        closed,
        entries: read.map(|_| entries).map_err(|e| e.to_string()),
    }
}

/// The log of ledgers, in order.
async fn read_log(meta: &MetaStore) -> Result<Vec<(LedgerId, EntryId, String)>, String> {
    let mut seq = Vec::new();
    log::read(meta, LOG, REQUEST_TIMEOUT, PATIENCE, |l, e, p| {
        seq.push((l, e, String::from_utf8_lossy(&p).into_owned()))
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(seq)
}
