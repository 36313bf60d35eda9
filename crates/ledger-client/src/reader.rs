//! Reading a ledger: the driver of `ledger::reader::Reader`.
//!
//! A reader never returns an entry past what is safe to read: the last entry of a CLOSED
//! ledger, or the last-add-confirmed of an OPEN one. It does not fence: reading never disturbs
//! the writer.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ledger::reader::{Reader, ReaderAction, ReaderInput};
use ledger::{EntryId, LedgerId};

use crate::bookies::{BookiePool, EventKind, Failure};
use crate::meta::{MetaError, MetaStore};
use crate::watchdog::Watchdog;

/// Why a read did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Metadata(#[from] MetaError),
    #[error("entry {entry} of ledger {ledger} is on none of its bookies (lost disks?)")]
    Missing { ledger: LedgerId, entry: EntryId },
    #[error("reading ledger {ledger} did not finish within {deadline:?} (bookies not answering?)")]
    Deadline {
        ledger: LedgerId,
        deadline: Duration,
    },
}

/// Reads entries `from..=to` of `ledger` (stopping at the safe bound), handing each to `sink`
/// in order; returns the last entry read.
pub async fn read(
    meta: &MetaStore,
    ledger: LedgerId,
    from: EntryId,
    to: EntryId,
    request_timeout: Duration,
    deadline: Duration,
    mut sink: impl FnMut(EntryId, Vec<u8>),
) -> Result<Option<EntryId>, ReadError> {
    let start = Instant::now();
    let versioned = meta.read(ledger).await?;
    let (mut pool, mut events) = BookiePool::new(meta.bookies().await?);
    let mut watchdog = Watchdog::new(request_timeout);
    let (mut machine, actions) = Reader::start(ledger, versioned.metadata, from, to);
    let mut pending: VecDeque<ReaderAction> = actions.into();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        while let Some(action) = pending.pop_front() {
            match action {
                ReaderAction::Send { to, request } => {
                    watchdog.sent(to, request.tag(), Instant::now());
                    pool.send(to, request);
                }
                ReaderAction::Entry { entry, payload } => sink(entry, payload),
                ReaderAction::ReadMetadata => {
                    let fresh = meta.read(ledger).await?.metadata;
                    pending.extend(machine.step(ReaderInput::Metadata(fresh)));
                }
                ReaderAction::Missing { entry } => {
                    return Err(ReadError::Missing { ledger, entry })
                }
                ReaderAction::Done { last } => return Ok(last),
            }
        }
        if start.elapsed() >= deadline {
            return Err(ReadError::Deadline { ledger, deadline });
        }
        tokio::select! {
            Some(event) = events.recv() => match event.kind {
                EventKind::Response(response) => {
                    watchdog.answered(event.bookie, response.tag());
                    pool.answered(event.bookie);
                    pending.extend(machine.step(ReaderInput::Response { from: event.bookie, response }));
                }
                EventKind::Failed(_) => {
                    if pool.connection_failed(event.bookie, event.connection) == Failure::Stale {
                        continue;
                    }
                    pool.refresh_addresses(meta).await;
                    watchdog.forget(event.bookie);
                    pending.extend(machine.step(ReaderInput::BookieFailed { bookie: event.bookie }));
                }
            },
            _ = tick.tick() => {
                for bookie in watchdog.expired(Instant::now()) {
                    pool.disconnect(bookie);
                    pending.extend(machine.step(ReaderInput::BookieFailed { bookie }));
                }
            }
        }
    }
}
