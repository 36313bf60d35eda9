//! Recovering a ledger: the driver of `ledger::recovery::Recovery` over real bookies and Quorum.
//!
//! Any client may recover a ledger whose writer it suspects gone: the recovery fences the
//! ledger so the old writer can add nothing more, finds the last entry that may have been
//! acknowledged, writes the recovered entries back to their write quorums and closes the ledger
//! there. Recovering a CLOSED ledger returns its last entry at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::bug::Injected;
use ledger::cas::CasResult;
use ledger::recovery::{Recovery, RecoveryAction, RecoveryInput};
use ledger::{BookieId, EntryId, LedgerId, LedgerMetadata};

use crate::bookies::{BookiePool, EventKind, Failure};
use crate::meta::{MetaError, MetaStore};
use crate::watchdog::Watchdog;

/// Why a recovery did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Metadata(#[from] MetaError),
    #[error(
        "recovery of ledger {ledger} did not finish within {deadline:?} (bookies not answering?)"
    )]
    Deadline {
        ledger: LedgerId,
        deadline: Duration,
    },
}

/// Recovers ledger `ledger`; returns its last entry (`None`: closed empty). Gives up after
/// `deadline` (a recovery that cannot reach enough bookies waits rather than guess).
pub async fn recover(
    meta: Arc<MetaStore>,
    ledger: LedgerId,
    request_timeout: Duration,
    deadline: Duration,
) -> Result<Option<EntryId>, RecoverError> {
    recover_running(meta, ledger, request_timeout, deadline, Injected::NONE).await
}

/// [`recover`] running the recovery variant `injected`: always the correct one, except in test
/// builds with the `ledger/bugs` feature, where a chaos run shows its checker catches a broken
/// recovery on real processes.
pub async fn recover_running(
    meta: Arc<MetaStore>,
    ledger: LedgerId,
    request_timeout: Duration,
    deadline: Duration,
    injected: Injected,
) -> Result<Option<EntryId>, RecoverError> {
    let start = Instant::now();
    let versioned = meta.read(ledger).await?;
    let (mut pool, mut events) = BookiePool::new(meta.bookies().await?);
    let mut watchdog = Watchdog::new(request_timeout);
    let (mut machine, actions) = Recovery::start(
        ledger,
        versioned.metadata,
        versioned.version as u64,
        injected,
    );
    let mut pending: VecDeque<RecoveryAction> = actions.into();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        while let Some(action) = pending.pop_front() {
            match action {
                RecoveryAction::Send { to, request } => {
                    watchdog.sent(to, request.tag(), Instant::now());
                    pool.send(to, request);
                }
                RecoveryAction::Cas { expected, metadata } => {
                    let result = cas(&meta, ledger, expected, metadata).await?;
                    pending.extend(machine.step(RecoveryInput::Cas(result)));
                }
                RecoveryAction::FencingComplete => {
                    tracing::info!(ledger, "fenced: the old writer can add nothing more");
                }
                RecoveryAction::Closed { last_entry } => return Ok(last_entry),
            }
        }
        if start.elapsed() >= deadline {
            return Err(RecoverError::Deadline { ledger, deadline });
        }
        tokio::select! {
            Some(event) = events.recv() => match event.kind {
                EventKind::Response(response) => {
                    watchdog.answered(event.bookie, response.tag());
                    pool.answered(event.bookie);
                    pending.extend(machine.step(RecoveryInput::Response { from: event.bookie, response }));
                }
                EventKind::Failed(why) => {
                    match pool.connection_failed(event.bookie, event.connection) {
                        Failure::Stale => continue,
                        Failure::Outage => tracing::warn!(ledger, bookie = event.bookie, %why, "bookie connection failed; retrying with backoff"),
                        Failure::Again => tracing::debug!(ledger, bookie = event.bookie, %why, "bookie connection failed again"),
                    }
                    pool.refresh_addresses(&meta).await;
                    pending.extend(failed(&mut machine, &mut pool, &mut watchdog, event.bookie));
                }
            },
            _ = tick.tick() => {
                for bookie in watchdog.expired(Instant::now()) {
                    pending.extend(failed(&mut machine, &mut pool, &mut watchdog, bookie));
                }
            }
        }
    }
}

fn failed(
    machine: &mut Recovery,
    pool: &mut BookiePool,
    watchdog: &mut Watchdog,
    bookie: BookieId,
) -> Vec<RecoveryAction> {
    watchdog.forget(bookie);
    pool.disconnect(bookie);
    machine.step(RecoveryInput::BookieFailed { bookie })
}

async fn cas(
    meta: &MetaStore,
    ledger: LedgerId,
    expected: u64,
    metadata: LedgerMetadata,
) -> Result<CasResult, MetaError> {
    let expected = i32::try_from(expected).map_err(|_| MetaError::NoLedger(ledger))?;
    match meta.cas(ledger, &metadata, expected).await {
        Ok(done) => Ok(CasResult::Done {
            version: done.version as u64,
        }),
        Err(MetaError::Conflict(now)) => Ok(CasResult::Conflict {
            metadata: now.metadata,
            version: now.version as u64,
        }),
        Err(e) => Err(e),
    }
}
