//! One Paxos run: processes running the real [`paxos::Node`] over a simulated network and
//! disk, driven by a queue of timed events drawn from one seed.
//!
//! The network delays each message `1..=delay_max` units (so messages reorder), loses and
//! duplicates some, and cuts the links a partition crosses (checked on arrival). Each process's
//! disk makes writes durable in order, a random latency after one another; a crash loses every
//! write not yet durable, and the process restarts from what is. Up to three proposers compete
//! with their own values and retry timeouts, so ballots duel. After the faulty phase everything
//! heals: crashed processes restart, the network becomes reliable, and only the first proposer
//! keeps its timer — it runs alone and every process must then decide within a bound.

use std::collections::VecDeque;

use paxos::{Action, Ballot, Config, Durable, Input, Message, Node, ProcessId};

use super::checks::{Checker, Violation};
use super::options::PaxosOptions;
use super::trace::Event;
use crate::queue::EventQueue;
use crate::rng::Rng;

/// Something scheduled to happen.
#[derive(Debug)]
enum Task {
    Deliver {
        from: ProcessId,
        to: ProcessId,
        msg: Message,
    },
    Durable {
        server: ProcessId,
        life: u64,
        seq: u64,
    },
    Timeout {
        server: ProcessId,
        life: u64,
    },
    Restart {
        server: ProcessId,
    },
    Fault,
    HealPartition {
        id: u64,
    },
    EndFaults,
    Deadline,
}

/// One simulated process: its node while up, and its disk.
struct Proc {
    node: Option<Node>,
    /// Incarnation: timers and disk completions of an earlier life are ignored.
    life: u64,
    /// What survives a crash.
    disk: Durable,
    /// Writes issued, not yet durable.
    pending: VecDeque<(u64, Durable)>,
    /// When the last issued write becomes durable.
    disk_busy_until: u64,
    /// The value this process proposes, if it is a proposer.
    value: Option<String>,
    /// The highest promise this process ever had durable (for the *promise kept* check).
    ever_promised: Ballot,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct PaxosReport {
    pub seed: u64,
    pub acceptors: usize,
    pub proposers: usize,
    pub events: u64,
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub crashes: u64,
    pub partitions: u64,
    /// The highest ballot round any proposer used.
    pub max_round: u64,
    /// Processes that decided, and the value.
    pub decided: usize,
    pub value: Option<String>,
    /// Units from the heal until every process had decided.
    pub decided_after_heal: Option<u64>,
    pub violation: Option<Violation>,
}

/// A run in progress.
pub struct PaxosWorld {
    opts: PaxosOptions,
    rng: Rng,
    now: u64,
    queue: EventQueue<Task>,
    procs: Vec<Proc>,
    checker: Checker,
    /// Cut links (from, to) of the partition in force, and its id.
    cut: Vec<(ProcessId, ProcessId)>,
    partition_id: u64,
    faulty: bool,
    healed_at: Option<u64>,
    report: PaxosReport,
    trace: Option<Vec<(u64, Event)>>,
}

impl PaxosWorld {
    /// A run of `opts`; `traced` keeps every event (for a replay).
    pub fn new(opts: PaxosOptions, traced: bool) -> PaxosWorld {
        let n = opts.acceptors;
        let values: Vec<String> = (1..=opts.proposers).map(|i| format!("v{i}")).collect();
        let procs = (1..=n)
            .map(|i| Proc {
                node: None,
                life: 0,
                disk: Durable::default(),
                pending: VecDeque::new(),
                disk_busy_until: 0,
                value: values.get(i - 1).cloned(),
                ever_promised: Ballot::ZERO,
            })
            .collect();
        PaxosWorld {
            rng: Rng::new(opts.seed),
            report: PaxosReport {
                seed: opts.seed,
                acceptors: n,
                proposers: opts.proposers,
                ..PaxosReport::default()
            },
            checker: Checker::new(values),
            opts,
            now: 0,
            queue: EventQueue::default(),
            procs,
            cut: Vec::new(),
            partition_id: 0,
            faulty: true,
            healed_at: None,
            trace: traced.then(Vec::new),
        }
    }

    fn schedule(&mut self, delay: u64, task: Task) {
        self.queue.push(self.now + delay, task);
    }

    fn log(&mut self, event: Event) {
        if let Some(trace) = &mut self.trace {
            trace.push((self.now, event));
        }
    }

    fn fail(&mut self, v: Violation) {
        self.log(Event::Violation {
            invariant: v.invariant,
            detail: v.detail.clone(),
        });
        self.report.violation = Some(v);
    }

    /// Runs to the end: every process decided after the heal, a violation, or the deadline.
    pub fn run(mut self) -> (PaxosReport, Vec<(u64, Event)>) {
        for id in 1..=self.opts.acceptors as ProcessId {
            self.boot(id);
        }
        let first_fault = self.rng.between(1, self.opts.fault_interval);
        self.schedule(first_fault, Task::Fault);
        self.schedule(self.opts.fault_units, Task::EndFaults);
        while let Some((next_at, next_task)) = self.queue.pop() {
            self.now = next_at;
            self.report.events += 1;
            self.handle(next_task);
            if self.report.violation.is_some() {
                break;
            }
            if let Some(healed) = self.healed_at {
                if self.checker.decided() == self.opts.acceptors {
                    self.report.decided_after_heal = Some(self.now - healed);
                    break;
                }
            }
        }
        self.report.decided = self.checker.decided();
        self.report.value = self.checker.value().cloned();
        (self.report, self.trace.unwrap_or_default())
    }

    fn config(&self, id: ProcessId) -> Config {
        #[allow(unused_mut)]
        let mut config = Config::new(id, (1..=self.opts.acceptors as ProcessId).collect());
        #[cfg(feature = "bugs")]
        {
            config.bug = self.opts.bug;
        }
        config
    }

    /// Starts (or restarts) a process from its disk; a proposer proposes its value again.
    fn boot(&mut self, id: ProcessId) {
        let config = self.config(id);
        let p = &mut self.procs[id as usize - 1];
        p.life += 1;
        p.node = Some(Node::new(config, Some(p.disk.clone())));
        let state = p.disk.clone();
        let value = p.value.clone();
        let life = p.life;
        if self.now > 0 {
            self.log(Event::Restart { server: id, state });
        }
        if let Some(value) = value {
            if self.proposing(id) {
                self.step(id, Input::Propose(value));
                let t = self.timeout();
                self.schedule(t, Task::Timeout { server: id, life });
            }
        }
    }

    /// Whether `id` runs its proposer: every proposer while faults are on, the first alone after.
    fn proposing(&self, id: ProcessId) -> bool {
        self.procs[id as usize - 1].value.is_some() && (self.faulty || id == 1)
    }

    fn timeout(&mut self) -> u64 {
        self.rng
            .between(self.opts.timeout_min, 2 * self.opts.timeout_min)
    }

    fn handle(&mut self, task: Task) {
        match task {
            Task::Deliver { from, to, msg } => {
                let down = self.procs[to as usize - 1].node.is_none();
                if down || self.cut.contains(&(from, to)) {
                    let reason = if down { "receiver down" } else { "partition" };
                    self.report.dropped += 1;
                    self.log(Event::Drop {
                        from,
                        to,
                        msg,
                        reason,
                    });
                    return;
                }
                self.log(Event::Recv {
                    from,
                    to,
                    msg: msg.clone(),
                });
                self.step(to, Input::Receive { from, msg });
            }
            Task::Durable { server, life, seq } => {
                let p = &mut self.procs[server as usize - 1];
                if p.life != life || p.node.is_none() {
                    return;
                }
                let (s, state) = p.pending.pop_front().expect("writes complete in order");
                debug_assert_eq!(s, seq);
                p.ever_promised = p.ever_promised.max(state.promised);
                p.disk = state;
                self.log(Event::Durable { server, seq });
                self.step(server, Input::Durable { seq });
            }
            Task::Timeout { server, life } => {
                let p = &self.procs[server as usize - 1];
                if p.life != life || p.node.is_none() || !self.proposing(server) {
                    return;
                }
                self.step(server, Input::Timeout);
                let t = self.timeout();
                self.schedule(t, Task::Timeout { server, life });
            }
            Task::Restart { server } => {
                if self.procs[server as usize - 1].node.is_none() {
                    self.boot(server);
                }
            }
            Task::Fault => {
                if self.faulty {
                    self.fault();
                    let next = self.rng.between(1, 2 * self.opts.fault_interval);
                    self.schedule(next, Task::Fault);
                }
            }
            Task::HealPartition { id } => {
                if id == self.partition_id && !self.cut.is_empty() {
                    self.cut.clear();
                    self.log(Event::Fault {
                        kind: "heal",
                        detail: format!("partition {id}"),
                    });
                }
            }
            Task::EndFaults => self.heal(),
            Task::Deadline => {
                let detail = format!(
                    "{} of {} processes decided {} units after the heal, with P1 proposing alone",
                    self.checker.decided(),
                    self.opts.acceptors,
                    self.opts.liveness_units
                );
                self.fail(Violation {
                    invariant: "liveness",
                    detail,
                });
            }
        }
    }

    /// Draws one fault among the enabled kinds.
    fn fault(&mut self) {
        let n = self.opts.acceptors as u64;
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend(["crash", "crash", "crash-proposer", "power-loss"]);
        }
        if self.opts.partitions && self.cut.is_empty() {
            kinds.extend(["split", "split"]);
        }
        if kinds.is_empty() {
            return;
        }
        match self.rng.pick(&kinds) {
            "split" => {
                // Each process on a random side; both sides non-empty.
                let first = self.rng.below(n) as ProcessId + 1;
                let side: Vec<bool> = (1..=n as ProcessId)
                    .map(|i| i == first || self.rng.chance(0.5))
                    .collect();
                if side.iter().all(|s| *s) {
                    return;
                }
                self.partition_id += 1;
                self.report.partitions += 1;
                for a in 1..=n as ProcessId {
                    for b in 1..=n as ProcessId {
                        if side[a as usize - 1] != side[b as usize - 1] {
                            self.cut.push((a, b));
                        }
                    }
                }
                let detail: Vec<String> = (1..=n as ProcessId)
                    .filter(|i| side[*i as usize - 1])
                    .map(|i| format!("P{i}"))
                    .collect();
                self.log(Event::Fault {
                    kind: "split",
                    detail: format!("{{{}}} cut from the rest", detail.join(",")),
                });
                let lasts = self.rng.between(50, 600);
                let id = self.partition_id;
                self.schedule(lasts, Task::HealPartition { id });
            }
            "power-loss" => {
                self.log(Event::Fault {
                    kind: "power-loss",
                    detail: "every process".into(),
                });
                for id in 1..=n as ProcessId {
                    self.crash(id);
                }
            }
            kind => {
                let candidates: Vec<ProcessId> = (1..=n as ProcessId)
                    .filter(|&i| self.procs[i as usize - 1].node.is_some())
                    .filter(|&i| kind == "crash" || self.procs[i as usize - 1].value.is_some())
                    .collect();
                if candidates.is_empty() {
                    return;
                }
                let victim = self.rng.pick(&candidates);
                self.log(Event::Fault {
                    kind: if kind == "crash" {
                        "crash"
                    } else {
                        "crash-proposer"
                    },
                    detail: format!("P{victim}"),
                });
                self.crash(victim);
            }
        }
    }

    /// Crashes `id` (if up): undurable writes are lost; it restarts later (at the heal at the
    /// latest).
    fn crash(&mut self, id: ProcessId) {
        let p = &mut self.procs[id as usize - 1];
        if p.node.take().is_none() {
            return;
        }
        let lost = p.pending.len();
        p.pending.clear();
        p.disk_busy_until = 0;
        self.report.crashes += 1;
        self.log(Event::Crash { server: id, lost });
        // Half the restarts are quick (messages sent before the crash still arrive after it).
        let back = if self.rng.chance(0.5) {
            self.rng.between(1, 2 * self.opts.delay_max)
        } else {
            self.rng.between(10, 400)
        };
        if self.now + back < self.opts.fault_units {
            self.schedule(back, Task::Restart { server: id });
        }
    }

    /// The end of the faulty phase: partitions heal, crashed processes restart, the network
    /// turns reliable, and P1 proposes alone.
    fn heal(&mut self) {
        self.faulty = false;
        self.healed_at = Some(self.now);
        self.cut.clear();
        self.log(Event::Fault {
            kind: "heal",
            detail: "everything; P1 proposes alone".into(),
        });
        for id in 1..=self.opts.acceptors as ProcessId {
            if self.procs[id as usize - 1].node.is_none() {
                self.boot(id);
            }
        }
        let deadline = self.opts.liveness_units;
        self.schedule(deadline, Task::Deadline);
    }

    /// Feeds `input` to process `id` and carries out its actions.
    fn step(&mut self, id: ProcessId, input: Input) {
        let Some(node) = self.procs[id as usize - 1].node.as_mut() else {
            return;
        };
        let actions = node.step(input);
        let round = node.proposer().round;
        self.report.max_round = self.report.max_round.max(round);
        for action in actions {
            if self.report.violation.is_some() {
                return;
            }
            match action {
                Action::Send { to, msg } => self.send(id, to, msg),
                Action::Persist { seq, state } => {
                    self.log(Event::Persist {
                        server: id,
                        seq,
                        state: state.clone(),
                    });
                    let latency = self.rng.between(1, self.opts.fsync_max);
                    let p = &mut self.procs[id as usize - 1];
                    let done = p.disk_busy_until.max(self.now) + latency;
                    p.disk_busy_until = done;
                    p.pending.push_back((seq, state));
                    let life = p.life;
                    let delay = done - self.now;
                    self.schedule(
                        delay,
                        Task::Durable {
                            server: id,
                            life,
                            seq,
                        },
                    );
                }
                Action::Decide { value } => {
                    self.log(Event::Decide {
                        server: id,
                        value: value.clone(),
                    });
                    if let Err(v) = self.checker.decide(id, &value) {
                        self.fail(v);
                    }
                }
            }
        }
    }

    fn send(&mut self, from: ProcessId, to: ProcessId, msg: Message) {
        let p = &self.procs[from as usize - 1];
        if let Err(v) = self.checker.answer(from, &p.disk, p.ever_promised, &msg) {
            self.log(Event::Send { from, to, msg });
            self.fail(v);
            return;
        }
        self.report.messages += 1;
        self.log(Event::Send {
            from,
            to,
            msg: msg.clone(),
        });
        if self.faulty && self.rng.chance(self.opts.drop_rate) {
            self.report.dropped += 1;
            self.log(Event::Drop {
                from,
                to,
                msg,
                reason: "lost",
            });
            return;
        }
        let copies = if self.faulty && self.rng.chance(self.opts.duplicate_rate) {
            self.report.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.rng.between(1, self.opts.delay_max);
            self.schedule(
                delay,
                Task::Deliver {
                    from,
                    to,
                    msg: msg.clone(),
                },
            );
        }
    }
}
