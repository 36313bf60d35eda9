//! One ledger run: a writer, recoveries and readers running the real `ledger` state machines
//! against simulated bookies and a simulated metadata store, driven by a queue of timed events
//! drawn from one seed.
//!
//! Every message (client ↔ bookie, client ↔ store) is delayed `1..=delay_max` units (so they
//! reorder), and during the faulty phase may be lost or duplicated; cut links drop messages on
//! arrival. The metadata store is the linearizable Quorum: a CAS applies atomically when its
//! request arrives, but its reply can be lost after it applied. A client that gets no answer
//! from a bookie within its timeout reports the bookie failed to its state machine (right or
//! wrong); one that gets no answer from the store re-reads the metadata and reports a conflict
//! with what it read. A paused client (a long GC pause) handles nothing until the pause ends,
//! while what it sent before keeps flying. After the faulty phase everything heals, a recovery
//! starts if the ledger is not closed, and the ledger must be closed and read back whole by a
//! final reader within `liveness_units`.

use std::collections::BTreeMap;

use ledger::bookie::{Action as BookieAction, Record};
use ledger::{BookieId, EntryId, LedgerId, LedgerMetadata, Request, Response};

use super::bookies::{ClientId, SimBookie};
use super::checks::{DurableEntries, LedgerChecker, Violation};
use super::clients::{Client, ClientInput};
use super::options::LedgerOptions;
use crate::queue::EventQueue;
use crate::rng::Rng;

/// The run's ledger.
pub const LEDGER: LedgerId = 1;
/// The writer's client id; recoveries and readers get the next ones.
pub const WRITER: ClientId = 0;

/// An end of a link a partition can cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Bookie(BookieId),
    Store,
}

#[derive(Clone, Debug)]
pub enum StoreRequest {
    Read,
    Cas {
        expected: u64,
        metadata: LedgerMetadata,
    },
}

#[derive(Clone, Debug)]
pub enum StoreReply {
    Read {
        metadata: LedgerMetadata,
        version: u64,
    },
    CasOk {
        version: u64,
    },
    BadVersion,
}

/// Something scheduled to happen.
#[derive(Clone, Debug)]
pub enum Task {
    ToBookie {
        client: ClientId,
        bookie: BookieId,
        request: Request,
    },
    ToClient {
        client: ClientId,
        bookie: BookieId,
        response: Response,
    },
    ToStore {
        client: ClientId,
        op: u64,
        request: StoreRequest,
    },
    FromStore {
        client: ClientId,
        op: u64,
        reply: StoreReply,
    },
    Durable {
        bookie: BookieId,
        life: u64,
        seq: u64,
    },
    RequestTimeout {
        client: ClientId,
        tag: u64,
    },
    StoreTimeout {
        client: ClientId,
        op: u64,
    },
    Append,
    StartRecovery,
    StartReader,
    RestartBookie {
        bookie: BookieId,
    },
    Fault,
    HealCut {
        id: u64,
    },
    EndFaults,
    Deadline,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct LedgerReport {
    pub seed: u64,
    /// (E, Qw, Qa) and bookies in the cluster.
    pub shape: (usize, usize, usize),
    pub bookies: usize,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub pauses: u64,
    pub appended: u64,
    /// The largest entry acknowledged to the writer's application.
    pub acknowledged: Option<EntryId>,
    /// Ensemble changes the metadata store applied.
    pub ensemble_changes: u64,
    pub recoveries: u64,
    /// Recoveries started while another was still at work.
    pub concurrent_recoveries: u64,
    /// Recoveries that completed their fence while the writer was still writing.
    pub writer_fenced: bool,
    /// The last entry of the closed ledger (outer `None`: never closed).
    pub closed_last: Option<Option<EntryId>>,
    /// Units from the heal until the final reader had read the closed ledger back.
    pub done_after_heal: Option<u64>,
    /// Entries returned to readers.
    pub entries_read: u64,
    pub violation: Option<Violation>,
}

/// A run in progress.
pub struct LedgerWorld {
    pub(super) opts: LedgerOptions,
    pub(super) rng: Rng,
    pub(super) now: u64,
    queue: EventQueue<Task>,
    pub(super) bookies: Vec<SimBookie>,
    pub(super) clients: BTreeMap<ClientId, Client>,
    pub(super) next_client: ClientId,
    /// The metadata znode and its version.
    pub(super) store: (LedgerMetadata, u64),
    pub(super) checker: LedgerChecker,
    /// Cut links and the id of the cut that made them.
    pub(super) cuts: BTreeMap<(ClientId, Endpoint), u64>,
    pub(super) cut_id: u64,
    pub(super) faulty: bool,
    pub(super) healed_at: Option<u64>,
    pub(super) next_op: u64,
    /// The payload of the append being handed to the writer.
    pub(super) appending: Option<Vec<u8>>,
    pub(super) final_reader: Option<ClientId>,
    pub(super) done: bool,
    pub(super) report: LedgerReport,
    pub(super) log: Option<Vec<(u64, String)>>,
}

/// The bookies' durable entries of the run's ledger, for the checker.
pub(super) struct Durables<'a>(pub(super) &'a [SimBookie]);

impl DurableEntries for Durables<'_> {
    fn durable_payload(&self, bookie: BookieId, entry: EntryId) -> Option<&[u8]> {
        self.0
            .get((bookie as usize).wrapping_sub(1))
            .and_then(|b| b.durable_payload(LEDGER, entry))
    }
}

impl LedgerWorld {
    /// A run of `opts`; `traced` keeps a readable line per event.
    pub fn new(opts: LedgerOptions, traced: bool) -> LedgerWorld {
        let ensemble: Vec<BookieId> = (1..=opts.ensemble as BookieId).collect();
        let metadata = LedgerMetadata::new(ensemble, opts.write_quorum, opts.ack_quorum)
            .expect("the shapes are valid");
        let report = LedgerReport {
            seed: opts.seed,
            shape: (opts.ensemble, opts.write_quorum, opts.ack_quorum),
            bookies: opts.bookies,
            ..LedgerReport::default()
        };
        let mut world = LedgerWorld {
            rng: Rng::new(opts.seed),
            now: 0,
            queue: EventQueue::default(),
            bookies: (0..opts.bookies).map(|_| SimBookie::new()).collect(),
            clients: BTreeMap::new(),
            next_client: WRITER + 1,
            store: (metadata.clone(), 0),
            checker: LedgerChecker::new(opts.fence_check),
            cuts: BTreeMap::new(),
            cut_id: 0,
            faulty: true,
            healed_at: None,
            next_op: 0,
            appending: None,
            final_reader: None,
            done: false,
            report,
            log: traced.then(Vec::new),
            opts,
        };
        let writer = Client::writer(&world.opts, metadata);
        world.clients.insert(WRITER, writer);
        world
    }

    pub(super) fn schedule(&mut self, delay: u64, task: Task) {
        self.queue.push(self.now + delay, task);
    }

    pub(super) fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(log) = &mut self.log {
            log.push((self.now, line()));
        }
    }

    pub(super) fn fail(&mut self, v: Violation) {
        if self.report.violation.is_none() {
            self.note(|| format!("VIOLATION of {}: {}", v.invariant, v.detail));
            self.report.violation = Some(v);
        }
    }

    pub(super) fn check(&mut self, result: Result<(), Violation>) {
        if let Err(v) = result {
            self.fail(v);
        }
    }

    /// Runs to the end: the ledger read back after the heal, a violation, or the deadline.
    pub fn run(mut self) -> (LedgerReport, Vec<(u64, String)>) {
        self.schedule(1, Task::Append);
        for _ in 0..self.opts.recoveries {
            let at = self.rng.between(1, self.opts.fault_units);
            self.schedule(at, Task::StartRecovery);
        }
        for _ in 0..self.opts.readers {
            let at = self.rng.between(1, self.opts.fault_units);
            self.schedule(at, Task::StartReader);
        }
        let first_fault = self.rng.between(1, self.opts.fault_interval);
        self.schedule(first_fault, Task::Fault);
        self.schedule(self.opts.fault_units, Task::EndFaults);
        while let Some((next_at, next_task)) = self.queue.pop() {
            self.now = next_at;
            self.report.events += 1;
            self.handle(next_task);
            if self.report.violation.is_some() || self.done {
                break;
            }
            self.maybe_start_final_reader();
        }
        self.report.acknowledged = self.checker.acked_max();
        self.report.closed_last = self.checker.closed_last();
        (self.report, self.log.unwrap_or_default())
    }

    fn handle(&mut self, task: Task) {
        if let Some(client) = task_client(&task) {
            let paused_until = self.clients.get(&client).map_or(0, |c| c.paused_until);
            if paused_until > self.now {
                // A paused client handles nothing until its pause ends.
                let wait = paused_until - self.now;
                self.schedule(wait, task);
                return;
            }
        }
        match task {
            Task::ToBookie {
                client,
                bookie,
                request,
            } => self.at_bookie(client, bookie, request),
            Task::ToClient {
                client,
                bookie,
                response,
            } => {
                if self.cut(client, Endpoint::Bookie(bookie)) {
                    return;
                }
                if let Some(c) = self.clients.get_mut(&client) {
                    // An answer to a request still awaited: the bookie keeps up.
                    if c.outstanding.remove(&response.tag()).is_some() {
                        c.backoff.remove(&bookie);
                    }
                }
                self.step(
                    client,
                    ClientInput::Response {
                        from: bookie,
                        response,
                    },
                );
            }
            Task::ToStore {
                client,
                op,
                request,
            } => self.at_store(client, op, request),
            Task::FromStore { client, op, reply } => self.store_reply(client, op, reply),
            Task::Durable { bookie, life, seq } => {
                let actions = self.bookies[bookie as usize - 1].completed(life, seq);
                self.bookie_actions(bookie, actions);
            }
            Task::RequestTimeout { client, tag } => self.request_timeout(client, tag),
            Task::StoreTimeout { client, op } => {
                let current = self.clients.get(&client).and_then(|c| c.store.as_ref());
                if current.is_some_and(|s| s.op == op) {
                    self.reread(client);
                }
            }
            Task::Append => self.append(),
            Task::StartRecovery => self.start_recovery(),
            Task::StartReader => self.start_reader(),
            Task::RestartBookie { bookie } => self.restart_bookie(bookie),
            Task::Fault => self.fault(),
            Task::HealCut { id } => self.cuts.retain(|_, c| *c != id),
            Task::EndFaults => self.heal(),
            Task::Deadline => {
                let detail = format!(
                    "{} units after the heal the ledger is {} and not read back (closed at {:?})",
                    self.opts.liveness_units,
                    self.store.0.state.name(),
                    self.checker.closed_last()
                );
                self.fail(Violation {
                    invariant: "liveness",
                    detail,
                });
            }
        }
    }

    pub(super) fn cut(&self, client: ClientId, end: Endpoint) -> bool {
        self.cuts.contains_key(&(client, end))
    }

    /// Sends a message: lost or duplicated in the faulty phase, delayed always.
    pub(super) fn send(&mut self, task: Task) {
        self.report.messages += 1;
        if self.faulty && self.rng.chance(self.opts.drop_rate) {
            self.report.dropped += 1;
            self.note(|| format!("lost {task:?}"));
            return;
        }
        if self.faulty && self.rng.chance(self.opts.duplicate_rate) {
            let delay = self.rng.between(1, self.opts.delay_max);
            self.schedule(delay, task.clone());
        }
        let delay = self.rng.between(1, self.opts.delay_max);
        self.schedule(delay, task);
    }

    fn at_bookie(&mut self, client: ClientId, bookie: BookieId, request: Request) {
        let index = bookie as usize - 1;
        if self.cut(client, Endpoint::Bookie(bookie)) || !self.bookies[index].up() {
            return;
        }
        self.note(|| format!("B{bookie} <- C{client} {request:?}"));
        let ordinary = match &request {
            Request::Add {
                entry,
                recovery: false,
                ..
            } => Some(*entry),
            _ => None,
        };
        let actions = self.bookies[index].handle(client, request);
        let accepted = actions.iter().any(|a| {
            matches!(
                a,
                BookieAction::Persist {
                    record: Record::Entry { .. },
                    ..
                }
            )
        });
        if let (Some(entry), true) = (ordinary, accepted) {
            let result = self.checker.ordinary_add_accepted(bookie, entry);
            self.check(result);
        }
        self.bookie_actions(bookie, actions);
    }

    fn bookie_actions(&mut self, bookie: BookieId, actions: Vec<BookieAction<ClientId>>) {
        for action in actions {
            match action {
                BookieAction::Persist { seq, record } => {
                    let latency = self.rng.between(1, self.opts.fsync_max);
                    let b = &mut self.bookies[bookie as usize - 1];
                    b.write(seq, record);
                    let done = b.busy_until.max(self.now) + latency;
                    b.busy_until = done;
                    let life = b.life;
                    self.schedule(done - self.now, Task::Durable { bookie, life, seq });
                }
                BookieAction::Reply { to, response } => self.send(Task::ToClient {
                    client: to,
                    bookie,
                    response,
                }),
            }
        }
    }

    /// The metadata store: atomic, linearizable; its reply may still be lost.
    fn at_store(&mut self, client: ClientId, op: u64, request: StoreRequest) {
        if self.cut(client, Endpoint::Store) {
            return;
        }
        let reply = match request {
            StoreRequest::Read => StoreReply::Read {
                metadata: self.store.0.clone(),
                version: self.store.1,
            },
            StoreRequest::Cas { expected, metadata } if expected == self.store.1 => {
                let old = std::mem::replace(&mut self.store.0, metadata);
                self.store.1 += 1;
                if old.fragments != self.store.0.fragments {
                    self.report.ensemble_changes += 1;
                }
                let stored = self.log.is_some().then(|| self.store.clone());
                self.note(|| format!("store: C{client} CAS -> {stored:?}"));
                let result =
                    self.checker
                        .metadata_changed(&old, &self.store.0, &Durables(&self.bookies));
                self.check(result);
                StoreReply::CasOk {
                    version: self.store.1,
                }
            }
            StoreRequest::Cas { .. } => StoreReply::BadVersion,
        };
        self.send(Task::FromStore { client, op, reply });
    }

    fn store_reply(&mut self, client: ClientId, op: u64, reply: StoreReply) {
        if self.cut(client, Endpoint::Store) {
            return;
        }
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let Some(pending) = c.store.as_ref().filter(|s| s.op == op) else {
            return;
        };
        let rereading = pending.rereading;
        let input = match (reply, rereading) {
            (StoreReply::CasOk { version }, false) => {
                ClientInput::Cas(ledger::CasResult::Done { version })
            }
            (StoreReply::Read { metadata, version }, true) => {
                ClientInput::Cas(ledger::CasResult::Conflict { metadata, version })
            }
            (StoreReply::BadVersion, false) => return self.reread(client),
            _ => return,
        };
        c.store = None;
        self.step(client, input);
    }

    /// The store's answer did not come, or said the version moved: read the metadata again.
    fn reread(&mut self, client: ClientId) {
        self.next_op += 1;
        let op = self.next_op;
        let Some(store) = self.clients.get_mut(&client).and_then(|c| c.store.as_mut()) else {
            return;
        };
        store.op = op;
        store.rereading = true;
        self.send(Task::ToStore {
            client,
            op,
            request: StoreRequest::Read,
        });
        let timeout = self.opts.timeout;
        self.schedule(timeout, Task::StoreTimeout { client, op });
    }

    fn request_timeout(&mut self, client: ClientId, tag: u64) {
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let Some(bookie) = c.outstanding.remove(&tag) else {
            return;
        };
        c.outstanding.retain(|_, b| *b != bookie);
        *c.backoff.entry(bookie).or_default() += 1;
        self.note(|| format!("C{client}: bookie {bookie} timed out"));
        self.step(client, ClientInput::BookieFailed(bookie));
    }

    /// Feeds `input` to a client's state machine and carries out what it asks.
    pub(super) fn step(&mut self, client: ClientId, input: ClientInput) {
        let candidates: Vec<BookieId> = (1..=self.opts.bookies as BookieId).collect();
        let Some(c) = self.clients.get_mut(&client) else {
            return;
        };
        let outs = c.step(input, &candidates);
        for out in outs {
            if self.report.violation.is_some() {
                return;
            }
            self.carry_out(client, out);
        }
    }

    pub(super) fn new_client_id(&mut self) -> ClientId {
        let id = self.next_client;
        self.next_client += 1;
        id
    }
}

/// The client a task is delivered to or fires for (paused clients defer it).
fn task_client(task: &Task) -> Option<ClientId> {
    match task {
        Task::ToClient { client, .. }
        | Task::FromStore { client, .. }
        | Task::RequestTimeout { client, .. }
        | Task::StoreTimeout { client, .. } => Some(*client),
        Task::Append => Some(WRITER),
        _ => None,
    }
}
