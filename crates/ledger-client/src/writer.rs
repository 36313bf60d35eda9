//! Writing a ledger: the driver of `ledger::writer::Writer` over real bookies and Quorum.
//!
//! [`LedgerWriter::spawn`] runs the state machine in a task; the returned handle appends
//! entries (each answered when acknowledged — Qa bookies of its write set have it and every
//! earlier entry is acknowledged) and closes the ledger. Appends pipeline: many can be in
//! flight, bounded by `max_pending_entries`, beyond which [`LedgerWriter::append`] waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::bug::Injected;
use ledger::cas::CasResult;
use ledger::writer::{Writer, WriterAction, WriterConfig, WriterError, WriterInput};
use ledger::{BookieId, EntryId, LedgerId, LedgerMetadata, LedgerState, Request};
use tokio::sync::{mpsc, oneshot};

use crate::bookies::{BookiePool, Event, EventKind, Failure};
use crate::meta::{MetaError, MetaStore, Versioned};
use crate::watchdog::Watchdog;

/// How a writer behaves.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// A bookie that leaves a request unanswered this long is judged failed and replaced.
    pub request_timeout: Duration,
    /// Appends not yet acknowledged; more wait.
    pub max_pending_entries: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            request_timeout: Duration::from_secs(3),
            max_pending_entries: 10_000,
        }
    }
}

/// Why an entry (or the close) did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("the ledger was fenced: a recovery superseded this writer")]
    Fenced,
    #[error("the ledger is no longer open (recovered or closed by someone else)")]
    NotOpen,
    #[error("cannot reach Quorum to change the ledger's metadata: {0}")]
    Metadata(String),
    #[error("the writer has stopped")]
    Stopped,
    #[error("an entry of {bytes} bytes is over the limit of {max} bytes")]
    TooLarge { bytes: usize, max: usize },
}

/// Largest entry a writer sends. A bookie with its default limits takes add frames up to
/// `wire::DEFAULT_MAX_FRAME_BYTES` and closes a connection that sends a larger one, which the
/// writer could only take for a failed bookie and replace, again and again; so a larger entry is
/// refused here, alone, and the ledger goes on.
pub const MAX_ENTRY_BYTES: usize =
    (bookie::wire::DEFAULT_MAX_FRAME_BYTES - bookie::wire::ADD_HEADER_BYTES) as usize;

impl From<WriterError> for WriteError {
    fn from(why: WriterError) -> Self {
        match why {
            WriterError::Fenced => WriteError::Fenced,
            WriterError::NotOpen => WriteError::NotOpen,
        }
    }
}

type AckSender = oneshot::Sender<Result<EntryId, WriteError>>;

enum Command {
    Append(Vec<u8>, AckSender),
    Close(oneshot::Sender<Result<Option<EntryId>, WriteError>>),
}

/// The handle of a running writer.
pub struct LedgerWriter {
    ledger: LedgerId,
    commands: mpsc::Sender<Command>,
    /// Why the driver stopped, left for appends that come after it is gone.
    why: Arc<Mutex<Option<WriteError>>>,
}

impl LedgerWriter {
    /// Starts writing ledger `ledger`, whose metadata (OPEN, claimed by us) is `versioned`.
    pub fn spawn(
        ledger: LedgerId,
        versioned: Versioned,
        meta: Arc<MetaStore>,
        bookies: BTreeMap<BookieId, String>,
        options: WriteOptions,
    ) -> Result<LedgerWriter, WriteError> {
        if versioned.metadata.state != LedgerState::Open {
            return Err(WriteError::NotOpen);
        }
        let config = WriterConfig {
            ledger,
            max_pending_entries: options.max_pending_entries.max(1),
            injected: Injected::NONE,
        };
        let machine = Writer::new(config, versioned.metadata, versioned.version as u64);
        let (pool, events) = BookiePool::new(bookies);
        let (commands, receiver) = mpsc::channel(options.max_pending_entries.max(1));
        let why = Arc::new(Mutex::new(None));
        let driver = Driver {
            ledger,
            machine,
            meta,
            pool,
            watchdog: Watchdog::new(options.request_timeout),
            waiting: BTreeMap::new(),
            unassigned: Vec::new(),
            close: None,
            max_pending: options.max_pending_entries.max(1),
            stopped: None,
            why: why.clone(),
        };
        tokio::spawn(driver.run(receiver, events));
        Ok(LedgerWriter {
            ledger,
            commands,
            why,
        })
    }

    pub fn ledger(&self) -> LedgerId {
        self.ledger
    }

    /// Appends `payload`; the returned receiver answers with its entry id once acknowledged.
    /// Waits while `max_pending_entries` appends are unacknowledged.
    pub async fn append(&self, payload: Vec<u8>) -> oneshot::Receiver<Result<EntryId, WriteError>> {
        let (tx, rx) = oneshot::channel();
        if payload.len() > MAX_ENTRY_BYTES {
            let too_large = WriteError::TooLarge {
                bytes: payload.len(),
                max: MAX_ENTRY_BYTES,
            };
            let _ = tx.send(Err(too_large));
            return rx;
        }
        if let Err(mpsc::error::SendError(Command::Append(_, tx))) =
            self.commands.send(Command::Append(payload, tx)).await
        {
            let _ = tx.send(Err(self.why()));
        }
        rx
    }

    /// Closes the ledger once every append is acknowledged; returns its last entry.
    pub async fn close(self) -> Result<Option<EntryId>, WriteError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Close(tx))
            .await
            .map_err(|_| self.why())?;
        rx.await.map_err(|_| self.why())?
    }

    /// Why the writer stopped (`Stopped` if it never said).
    fn why(&self) -> WriteError {
        let why = self.why.lock().unwrap_or_else(|e| e.into_inner());
        why.clone().unwrap_or(WriteError::Stopped)
    }
}

struct Driver {
    ledger: LedgerId,
    machine: Writer,
    meta: Arc<MetaStore>,
    pool: BookiePool,
    watchdog: Watchdog,
    /// Appends assigned an entry id, waiting for its acknowledgement.
    waiting: BTreeMap<EntryId, AckSender>,
    /// The append just fed to the machine, until it is assigned an id.
    unassigned: Vec<AckSender>,
    close: Option<oneshot::Sender<Result<Option<EntryId>, WriteError>>>,
    /// The machine's own bound: appends are fed only below it, so it never refuses one.
    max_pending: usize,
    /// Why the writer stopped, told to every append that comes after.
    stopped: Option<WriteError>,
    /// The same, for the handle once this driver is gone.
    why: Arc<Mutex<Option<WriteError>>>,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<Event>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            if self.machine.stopped() && self.close.is_none() {
                break;
            }
            let room = self.machine.pending() < self.max_pending && self.close.is_none();
            tokio::select! {
                command = commands.recv(), if room => match command {
                    Some(Command::Append(payload, ack)) => {
                        self.unassigned.push(ack);
                        self.step(WriterInput::Append(payload)).await;
                    }
                    Some(Command::Close(done)) => {
                        self.close = Some(done);
                        self.step(WriterInput::Close).await;
                    }
                    None => break,
                },
                Some(event) = events.recv() => self.event(event).await,
                _ = tick.tick() => {
                    for bookie in self.watchdog.expired(Instant::now()) {
                        self.bookie_failed(bookie).await;
                    }
                }
            }
            if self.close.is_some() && self.machine.stopped() {
                break;
            }
        }
        let why = self.stopped.clone().unwrap_or(WriteError::Stopped);
        *self.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        // Appends queued behind the stop learn why too, not only that the writer is gone.
        commands.close();
        while let Ok(command) = commands.try_recv() {
            match command {
                Command::Append(_, ack) => drop(ack.send(Err(why.clone()))),
                Command::Close(done) => drop(done.send(Err(why.clone()))),
            }
        }
        self.fail_all(why);
    }

    async fn event(&mut self, event: Event) {
        match event.kind {
            EventKind::Response(response) => {
                self.watchdog.answered(event.bookie, response.tag());
                self.pool.answered(event.bookie);
                let input = WriterInput::Response {
                    from: event.bookie,
                    response,
                };
                self.step(input).await;
            }
            EventKind::Failed(why) => {
                match self.pool.connection_failed(event.bookie, event.connection) {
                    Failure::Stale => return,
                    Failure::Outage => {
                        tracing::warn!(ledger = self.ledger, bookie = event.bookie, %why, "bookie connection failed")
                    }
                    Failure::Again => {
                        tracing::debug!(ledger = self.ledger, bookie = event.bookie, %why, "bookie connection failed again")
                    }
                }
                self.bookie_failed(event.bookie).await;
            }
        }
    }

    async fn bookie_failed(&mut self, bookie: BookieId) {
        self.watchdog.forget(bookie);
        self.pool.disconnect(bookie);
        self.pool.refresh_addresses(&self.meta).await;
        let candidates = self.pool.registered();
        self.step(WriterInput::BookieFailed { bookie, candidates })
            .await;
    }

    /// Feeds `input` and carries out the actions, including those that follow CAS results.
    async fn step(&mut self, input: WriterInput) {
        let mut inputs = vec![input];
        while let Some(input) = inputs.pop() {
            for action in self.machine.step(input) {
                if let Some(next) = self.act(action).await {
                    inputs.push(next);
                }
            }
        }
    }

    async fn act(&mut self, action: WriterAction) -> Option<WriterInput> {
        match action {
            WriterAction::Send { to, request } => {
                self.send(to, request);
                None
            }
            WriterAction::Cas { expected, metadata } => {
                Some(WriterInput::Cas(self.cas(expected, metadata).await))
            }
            WriterAction::Assigned { entry } => {
                if let Some(ack) = self.unassigned.pop() {
                    self.waiting.insert(entry, ack);
                }
                None
            }
            WriterAction::AppendRefused { .. } => {
                if let Some(ack) = self.unassigned.pop() {
                    let why = self.stopped.clone().unwrap_or(WriteError::Stopped);
                    let _ = ack.send(Err(why));
                }
                None
            }
            WriterAction::Acknowledged { entry } => {
                if let Some(ack) = self.waiting.remove(&entry) {
                    let _ = ack.send(Ok(entry));
                }
                None
            }
            WriterAction::Failed { why, .. } => {
                let why = WriteError::from(why);
                self.stopped.get_or_insert(why.clone());
                self.fail_all(why);
                None
            }
            WriterAction::Closed { last_entry } => {
                if let Some(done) = self.close.take() {
                    let _ = done.send(Ok(last_entry));
                }
                None
            }
        }
    }

    fn send(&mut self, to: BookieId, request: Request) {
        self.watchdog.sent(to, request.tag(), Instant::now());
        self.pool.send(to, request);
    }

    /// Runs a CAS until its outcome is known. An outcome that stays unknown (Quorum out of
    /// reach past the store's retries) stops the writer: guessing either way could fork the
    /// metadata's history.
    async fn cas(&mut self, expected: u64, metadata: LedgerMetadata) -> CasResult {
        let Ok(expected_version) = i32::try_from(expected) else {
            return self.unreachable("version out of range".into());
        };
        match self
            .meta
            .cas(self.ledger, &metadata, expected_version)
            .await
        {
            Ok(done) => CasResult::Done {
                version: done.version as u64,
            },
            Err(MetaError::Conflict(now)) => CasResult::Conflict {
                metadata: now.metadata,
                version: now.version as u64,
            },
            Err(e) => self.unreachable(e.to_string()),
        }
    }

    fn unreachable(&mut self, why: String) -> CasResult {
        tracing::error!(ledger = self.ledger, %why, "cannot change the ledger's metadata; the writer stops");
        let why = WriteError::Metadata(why);
        self.stopped.get_or_insert(why.clone());
        self.fail_all(why);
        // Tell the machine the ledger moved on so that it stops too.
        let mut metadata = self.machine.metadata().clone();
        metadata.state = LedgerState::InRecovery;
        CasResult::Conflict {
            metadata,
            version: u64::MAX,
        }
    }

    fn fail_all(&mut self, why: WriteError) {
        for (_, ack) in std::mem::take(&mut self.waiting) {
            let _ = ack.send(Err(why.clone()));
        }
        for ack in self.unassigned.drain(..) {
            let _ = ack.send(Err(why.clone()));
        }
        if let Some(done) = self.close.take() {
            let _ = done.send(Err(why));
        }
    }
}
