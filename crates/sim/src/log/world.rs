//! One partition-log run: brokers, the Quorum store, producers and consumers, driven by a queue
//! of timed events drawn from one seed.
//!
//! Every message is delayed `1..=delay_max` units (so messages reorder) and, in the faulty
//! phase, may be lost or duplicated; cut links drop messages on arrival. A paused broker handles
//! nothing (not even its timers) until the pause ends, while what it sent keeps flying and its
//! session may expire. After the faulty phase everything heals and every partition must
//! converge — a leader, every replica caught up, every producer done — within
//! `liveness_units`, when the final checks run.

use std::collections::BTreeMap;

use partition::{
    Assignment, BrokerEpoch, BrokerId, IsrRequest, PartitionState, Request, Response,
    TopicPartition, WriteResult,
};

use super::brokers::SimBroker;
use super::checks::{LogChecker, Violation};
use super::clients::{Consumer, Producer};
use super::options::LogOptions;
use super::store::SimStore;
use crate::queue::EventQueue;
use crate::rng::Rng;

/// The run's topic.
pub const TOPIC: &str = "t";
/// Units between a broker's timer ticks.
pub const TICK: u64 = 5;

/// An end of a link a partition can cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Broker(BrokerId),
    Store,
    Client(u32),
}

/// What travels between endpoints.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A follower's request to its leader, and the answer.
    Replicate {
        tp: TopicPartition,
        id: u64,
        request: Request,
    },
    Replicated {
        tp: TopicPartition,
        id: u64,
        response: Response,
    },
    /// The controller refuses a leader's ISR request.
    IsrRefused {
        tp: TopicPartition,
        leader_epoch: u32,
        deposed: bool,
        state_version: u64,
    },
    /// A client's request to a broker, and the answer.
    Client {
        tp: TopicPartition,
        tag: u64,
        request: Request,
    },
    ClientAnswer {
        tp: TopicPartition,
        tag: u64,
        response: Response,
    },
    // Broker → store.
    Heartbeat {
        epoch: BrokerEpoch,
    },
    Register {
        life: u64,
    },
    TryControl {
        epoch: BrokerEpoch,
    },
    ReadState {
        tp: TopicPartition,
    },
    ReadBrokers,
    Write {
        tp: TopicPartition,
        op: u64,
        expected: u64,
        state: PartitionState,
        controller_version: u64,
    },
    AskIsr {
        tp: TopicPartition,
        request: IsrRequest,
    },
    // Store → broker.
    SessionExpired {
        epoch: BrokerEpoch,
    },
    Registered {
        life: u64,
        epoch: BrokerEpoch,
    },
    Elected {
        epoch: BrokerEpoch,
        controller_epoch: u64,
        version: u64,
    },
    StateIs {
        tp: TopicPartition,
        state: PartitionState,
        version: u64,
    },
    BrokersAre(BTreeMap<BrokerId, BrokerEpoch>),
    WriteDone {
        tp: TopicPartition,
        op: u64,
        result: WriteResult,
    },
    IsrAsked {
        tp: TopicPartition,
        request: IsrRequest,
    },
    // Client ↔ store.
    Lookup {
        tp: TopicPartition,
    },
    LeaderIs {
        tp: TopicPartition,
        leader: Option<BrokerId>,
    },
}

/// Something scheduled to happen.
#[derive(Clone, Debug)]
pub enum Task {
    Deliver {
        from: Endpoint,
        to: Endpoint,
        msg: Msg,
    },
    Durable {
        broker: BrokerId,
        life: u64,
        tp: TopicPartition,
        batches: usize,
    },
    Tick {
        broker: BrokerId,
        life: u64,
    },
    StoreTick,
    Produce {
        producer: u32,
    },
    ProduceTimeout {
        producer: u32,
        tag: u64,
    },
    Consume {
        consumer: u32,
    },
    RestartBroker {
        broker: BrokerId,
    },
    Fault,
    HealCut {
        id: u64,
    },
    EndFaults,
    Converged,
    Deadline,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct LogReport {
    pub seed: u64,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub cuts: u64,
    pub pauses: u64,
    pub sessions_expired: u64,
    pub controllers: u64,
    pub leader_elections: u64,
    pub isr_changes: u64,
    pub truncations: u64,
    pub produced_records: u64,
    /// Records acknowledged with acks=all.
    pub acked_all: u64,
    pub acked_leader: u64,
    pub duplicates_refused: u64,
    pub consumed: u64,
    /// Units from the heal until every partition had converged.
    pub converged_after_heal: Option<u64>,
    pub violation: Option<Violation>,
}

/// A run in progress.
pub struct LogWorld {
    pub(super) opts: LogOptions,
    pub(super) rng: Rng,
    pub(super) now: u64,
    queue: EventQueue<Task>,
    pub(super) assignment: Assignment,
    pub(super) brokers: Vec<SimBroker>,
    pub(super) store: SimStore,
    pub(super) producers: Vec<Producer>,
    pub(super) consumers: Vec<Consumer>,
    pub(super) checker: LogChecker,
    /// Cut links (unordered endpoint pairs) and the id of the cut that made them.
    pub(super) cuts: BTreeMap<(Endpoint, Endpoint), u64>,
    pub(super) cut_id: u64,
    pub(super) faulty: bool,
    pub(super) healed_at: Option<u64>,
    pub(super) done: bool,
    pub(super) report: LogReport,
    pub(super) log: Option<Vec<(u64, String)>>,
}

impl LogWorld {
    /// A run of `opts`; `traced` keeps a readable line per event.
    pub fn new(opts: LogOptions, traced: bool) -> LogWorld {
        let ids: Vec<BrokerId> = (1..=opts.brokers).collect();
        let assignment = Assignment::round_robin(&ids, opts.partitions, opts.replication);
        let tps: Vec<TopicPartition> = (0..opts.partitions)
            .map(|p| TopicPartition::new(TOPIC, p))
            .collect();
        let store = SimStore::new(&tps, &assignment);
        let producers = (0..opts.producers)
            .map(|i| Producer::new(i, &tps[i as usize % tps.len()], u64::from(i) + 1))
            .collect();
        let consumers = (0..opts.consumers)
            .map(|i| Consumer::new(i, &tps[i as usize % tps.len()]))
            .collect();
        let mut world = LogWorld {
            rng: Rng::new(opts.seed),
            now: 0,
            queue: EventQueue::default(),
            brokers: ids.iter().map(|&id| SimBroker::new(id)).collect(),
            assignment,
            store,
            producers,
            consumers,
            checker: LogChecker::default(),
            cuts: BTreeMap::new(),
            cut_id: 0,
            faulty: true,
            healed_at: None,
            done: false,
            report: LogReport {
                seed: opts.seed,
                ..LogReport::default()
            },
            log: traced.then(Vec::new),
            opts,
        };
        world.start();
        world
    }

    fn start(&mut self) {
        for id in 1..=self.opts.brokers {
            self.boot(id);
        }
        self.schedule(1, Task::StoreTick);
        for p in 0..self.opts.producers {
            let first = self.rng.between(1, 50);
            self.schedule(first, Task::Produce { producer: p });
        }
        for c in 0..self.opts.consumers {
            self.schedule(10, Task::Consume { consumer: c });
        }
        let first_fault = self.rng.between(1, self.opts.fault_interval);
        self.schedule(first_fault, Task::Fault);
        self.schedule(self.opts.fault_units, Task::EndFaults);
    }

    /// Runs to the end; returns the report and, if traced, the event lines.
    pub fn run(mut self) -> (LogReport, Vec<(u64, String)>) {
        while !self.done && self.report.violation.is_none() {
            let Some((next_at, next_task)) = self.queue.pop() else {
                break;
            };
            self.now = next_at;
            self.report.events += 1;
            self.handle(next_task);
        }
        (self.report, self.log.unwrap_or_default())
    }

    pub(super) fn schedule(&mut self, delay: u64, task: Task) {
        self.queue.push(self.now + delay, task);
    }

    pub(super) fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(log) = &mut self.log {
            log.push((self.now, line()));
        }
    }

    pub(super) fn fail(&mut self, violation: Violation) {
        if self.report.violation.is_none() {
            self.note(|| format!("VIOLATION {}: {}", violation.invariant, violation.detail));
            self.report.violation = Some(violation);
        }
    }

    pub(super) fn check(&mut self, result: Result<(), Violation>) {
        if let Err(v) = result {
            self.fail(v);
        }
    }

    fn handle(&mut self, task: Task) {
        if let Some(broker) = task_broker(&task) {
            let b = &self.brokers[broker as usize - 1];
            if b.paused_until > self.now {
                let wait = b.paused_until - self.now;
                return self.schedule(wait, task);
            }
        }
        match task {
            Task::Deliver { from, to, msg } => self.deliver(from, to, msg),
            Task::Durable {
                broker,
                life,
                tp,
                batches,
            } => self.durable(broker, life, tp, batches),
            Task::Tick { broker, life } => self.tick(broker, life),
            Task::StoreTick => self.store_tick(),
            Task::Produce { producer } => self.produce(producer),
            Task::ProduceTimeout { producer, tag } => self.produce_timeout(producer, tag),
            Task::Consume { consumer } => self.consume(consumer),
            Task::RestartBroker { broker } => self.boot(broker),
            Task::Fault => self.fault(),
            Task::HealCut { id } => self.cuts.retain(|_, c| *c != id),
            Task::EndFaults => self.heal(),
            Task::Converged => self.converged_check(),
            Task::Deadline => {
                let detail = self.unconverged();
                self.fail(Violation {
                    invariant: "liveness",
                    detail,
                });
            }
        }
    }

    pub(super) fn cut(&self, a: Endpoint, b: Endpoint) -> bool {
        let key = if a <= b { (a, b) } else { (b, a) };
        self.cuts.contains_key(&key)
    }

    /// Sends a message: lost or duplicated in the faulty phase, delayed always.
    pub(super) fn send(&mut self, from: Endpoint, to: Endpoint, msg: Msg) {
        self.report.messages += 1;
        if self.faulty && self.rng.chance(self.opts.drop_rate) {
            self.report.dropped += 1;
            return;
        }
        if self.faulty && self.rng.chance(self.opts.duplicate_rate) {
            let delay = self.rng.between(1, self.opts.delay_max);
            let msg = msg.clone();
            self.schedule(delay, Task::Deliver { from, to, msg });
        }
        let delay = self.rng.between(1, self.opts.delay_max);
        self.schedule(delay, Task::Deliver { from, to, msg });
    }

    fn deliver(&mut self, from: Endpoint, to: Endpoint, msg: Msg) {
        if self.cut(from, to) {
            return;
        }
        match to {
            Endpoint::Store => self.at_store(from, msg),
            Endpoint::Broker(id) => self.at_broker(id, from, msg),
            Endpoint::Client(id) => self.at_client(id, msg),
        }
    }
}

/// The broker a task is delivered to or fires for (a paused broker defers it).
fn task_broker(task: &Task) -> Option<BrokerId> {
    match task {
        Task::Deliver {
            to: Endpoint::Broker(id),
            ..
        }
        | Task::Durable { broker: id, .. }
        | Task::Tick { broker: id, .. } => Some(*id),
        _ => None,
    }
}
