//! The core task: the one owner of the protocol state (`ledger::bookie::Bookie`) and of the
//! store's read side.
//!
//! Connections hand it requests through one bounded queue; it runs the bookie's rules, applies
//! `Persist` actions to the store (so later reads see them) and queues them on the journal,
//! feeds the journal's durability back with `Bookie::durable`, and routes replies to the
//! connections' outbound queues under their byte budget. Keeping all of this on one task means
//! no locks around the state and a total order of records, which the rules rely on.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use framing::SendError;
use ledger::bookie::{Action, Bookie};
use ledger::{Request, Response};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::config::Limits;
use super::conn::ConnHandle;
use super::Stats;
use crate::store::journal::Journal;
use crate::store::{journal_record, Store};
use crate::wire;

/// A connection's number, unique for the server's life.
pub type ConnId = u64;

/// What connections tell the core.
pub enum CoreMsg {
    Open { id: ConnId, handle: ConnHandle },
    Request { id: ConnId, request: Request },
    Closed { id: ConnId },
}

/// Where a checkpoint thread reports the record number it made durable.
type CheckpointResult = oneshot::Receiver<Result<u64, String>>;

pub struct Core {
    pub bookie: Bookie<ConnId>,
    pub store: Store,
    pub journal: Journal,
    pub limits: Limits,
    pub stats: Arc<Stats>,
    conns: HashMap<ConnId, ConnHandle>,
    /// (record number, bytes) handed to the journal and not yet durable.
    unsynced: VecDeque<(u64, usize)>,
    unsynced_bytes: usize,
    journal_bytes_since_checkpoint: u64,
    last_checkpoint: Instant,
    /// The checkpoint being made durable on its own thread, if any, and where it reports.
    checkpointing: Option<(JoinHandle<()>, CheckpointResult)>,
}

impl Drop for Core {
    /// Waits for a running checkpoint: it writes into the store's directory, and the store's
    /// lock (released with this task) must not let another bookie in before it is done.
    fn drop(&mut self) {
        if let Some((thread, _)) = self.checkpointing.take() {
            let _ = thread.join();
        }
    }
}

impl Core {
    pub fn new(
        bookie: Bookie<ConnId>,
        store: Store,
        journal: Journal,
        limits: Limits,
        stats: Arc<Stats>,
    ) -> Core {
        Core {
            bookie,
            store,
            journal,
            limits,
            stats,
            conns: HashMap::new(),
            unsynced: VecDeque::new(),
            unsynced_bytes: 0,
            journal_bytes_since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            checkpointing: None,
        }
    }

    /// Runs until every sender of `rx` is gone (`Ok`) or the store fails (`Err`: the bookie
    /// must stop; what it acknowledged is durable, what it did not may or may not be).
    pub async fn run(mut self, mut rx: mpsc::Receiver<CoreMsg>) -> Result<(), String> {
        let mut durable = self.journal.state();
        let mut tick = tokio::time::interval(
            self.limits
                .checkpoint_interval
                .min(std::time::Duration::from_secs(1)),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let accepting = self.unsynced_bytes < self.limits.journal_inflight_bytes;
            tokio::select! {
                biased;
                changed = durable.changed() => {
                    let state = durable.borrow_and_update().clone();
                    if let Some(why) = state.failed {
                        return Err(format!("journal failed: {why}"));
                    }
                    if changed.is_err() {
                        return Err("the journal thread stopped".into());
                    }
                    self.stats.journal_syncs.store(state.syncs, Ordering::Relaxed);
                    self.stats.journal_records.store(state.records, Ordering::Relaxed);
                    self.durable(state.durable_seq);
                }
                msg = rx.recv(), if accepting => match msg {
                    None => return Ok(()),
                    Some(CoreMsg::Open { id, handle }) => {
                        self.conns.insert(id, handle);
                    }
                    Some(CoreMsg::Closed { id }) => {
                        self.conns.remove(&id);
                    }
                    Some(CoreMsg::Request { id, request }) => {
                        let actions = self.bookie.handle(id, request, &self.store);
                        self.execute(actions)?;
                    }
                },
                done = async { (&mut self.checkpointing.as_mut().expect("guarded").1).await },
                    if self.checkpointing.is_some() =>
                {
                    if let Some((thread, _)) = self.checkpointing.take() {
                        let _ = thread.join();
                    }
                    let seq = done.map_err(|_| "the checkpoint thread stopped".to_string())??;
                    self.store.checkpoint_done(seq);
                    self.journal.purge_through(seq)?;
                    self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
                }
                _ = tick.tick() => self.maybe_checkpoint(false)?,
            }
            self.maybe_checkpoint(true)?;
        }
    }

    fn durable(&mut self, seq: u64) {
        while self.unsynced.front().is_some_and(|(s, _)| *s <= seq) {
            let (_, bytes) = self.unsynced.pop_front().expect("checked");
            self.unsynced_bytes -= bytes;
        }
        let actions = self.bookie.durable(seq);
        for action in actions {
            if let Action::Reply { to, response } = action {
                self.route(to, &response);
            }
        }
    }

    fn execute(&mut self, actions: Vec<Action<ConnId>>) -> Result<(), String> {
        for action in actions {
            match action {
                Action::Persist { seq, record } => {
                    self.store.apply(seq, &record)?;
                    let mut bytes = Vec::new();
                    journal_record::encode(&mut bytes, &record);
                    self.unsynced.push_back((seq, bytes.len()));
                    self.unsynced_bytes += bytes.len();
                    self.journal_bytes_since_checkpoint += bytes.len() as u64;
                    self.journal.append(seq, bytes)?;
                }
                Action::Reply { to, response } => self.route(to, &response),
            }
        }
        Ok(())
    }

    /// Queues `response` on its connection, or closes a connection whose unread replies would
    /// exceed its budget. A reply for a connection already gone is dropped.
    fn route(&mut self, to: ConnId, response: &Response) {
        let Some(conn) = self.conns.get(&to) else {
            return;
        };
        let mut frame = Vec::new();
        wire::encode_response(&mut frame, response);
        match conn.send(frame) {
            Ok(()) => {}
            Err(SendError::OverBudget { queued }) => {
                tracing::info!(
                    conn = to,
                    queued_bytes = queued,
                    "closing a connection that does not read its replies"
                );
                self.conns.remove(&to);
            }
            Err(SendError::Closed) => {
                self.conns.remove(&to);
            }
        }
    }

    /// Takes a checkpoint when enough journal was written or, with records since the last one,
    /// enough time passed (`eager`: only the byte trigger, checked after every message).
    fn maybe_checkpoint(&mut self, eager: bool) -> Result<(), String> {
        let bytes_due = self.journal_bytes_since_checkpoint >= self.limits.checkpoint_journal_bytes;
        let time_due = !eager
            && self.journal_bytes_since_checkpoint > 0
            && self.last_checkpoint.elapsed() >= self.limits.checkpoint_interval;
        if !(bytes_due || time_due) || self.checkpointing.is_some() {
            return Ok(());
        }
        // The entry log's fsync can take a while after many megabytes: it runs on its own
        // thread while this task goes on serving; the journal is purged once it is durable.
        let job = self.store.begin_checkpoint()?;
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("bookie-checkpoint".into())
            .spawn(move || {
                let _ = tx.send(job.run());
            })
            .map_err(|e| format!("cannot start a checkpoint thread: {e}"))?;
        self.checkpointing = Some((thread, rx));
        self.journal_bytes_since_checkpoint = 0;
        self.last_checkpoint = Instant::now();
        Ok(())
    }
}
