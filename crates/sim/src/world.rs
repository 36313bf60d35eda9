//! One simulated run: servers running the real Zab core over a simulated network and disk,
//! with clients, faults, and the checker watching every step.

use bytes::Bytes;
use zab::{Action, Config, Input, Message, Peer, ServerId, Zxid};

use crate::app::App;
use crate::checker::{Checker, Violation};
use crate::disk::Disk;
use crate::options::{Options, UNITS_PER_TICK};
use crate::queue::EventQueue;
use crate::report::Report;
use crate::rng::Rng;
use crate::rules::{self, Rules};
use crate::trace::{Interrupted, Restored, TraceEvent, Tracer};

mod actions;
mod clients;
mod faults;
mod net;
mod partitions;
mod reconfigure;
mod recovery;

/// What happens at a point of simulated time.
enum Event {
    Tick(usize),
    Message {
        from: usize,
        to: usize,
        message: Message,
    },
    /// A group-commit fsync of server `.0`'s log, for incarnation `.1`.
    Fsync(usize, u32),
    /// Server `server` (incarnation `incarnation`) reads its log for a follower's DIFF
    /// (`Action::ReadLog`) and answers its core; with an error if `fails`.
    LogRead {
        server: usize,
        incarnation: u32,
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
        fails: bool,
    },
    Client(usize),
    Fault,
    Restart(usize),
    /// Partition `.0` heals.
    HealPartition(u64),
    /// Server `.0` notices that its connection to server `.1` broke.
    Disconnected(usize, usize),
    /// The faulty phase ends: heal everything.
    HealAll,
    /// The scripted isolation of a follower begins ([`Options::isolation`]).
    Isolate,
}

struct Node {
    id: ServerId,
    peer: Option<Peer>,
    disk: Disk,
    app: App,
    /// Bumped at each crash, so fsyncs scheduled before it are void.
    incarnation: u32,
    fsync_pending: bool,
    /// This server's clock: time between its ticks, and when its next tick is due, both in
    /// thousandths of a time unit (a tick is nominally [`UNITS_PER_TICK`] units).
    tick_period: u64,
    next_tick: u64,
}

/// A tick of a clock that does not drift, in thousandths of a time unit.
const NOMINAL_TICK: u64 = UNITS_PER_TICK * 1000;

pub struct World {
    opts: Options,
    rng: Rng,
    now: u64,
    queue: EventQueue<Event>,
    nodes: Vec<Node>,
    /// `blocked[from * n + to]`: messages from → to are lost (some partition cuts the link).
    blocked: Vec<bool>,
    /// The partitions in force, and the last partition id handed out.
    partitions: Vec<partitions::Partition>,
    next_partition: u64,
    /// Per directed link (`from * n + to`): its current silent spell, as `to` sees it.
    silence: Vec<recovery::Silence>,
    /// When the partition being recovered from healed.
    recovering_since: Option<u64>,
    /// Earliest delivery time per link, to keep links FIFO unless reordering is on.
    fifo: Vec<u64>,
    faults_on: bool,
    checker: Checker,
    /// The per-step protocol rules.
    rules: Rules,
    /// Per client: the server it believes leads.
    clients: Vec<usize>,
    /// Per client: a transaction refused by a non-leader, retried at the next attempt.
    retry: Vec<Option<Bytes>>,
    next_payload: u64,
    /// Liveness probe: (payload, time submitted), and per server whether it delivered it.
    probe: Option<(Bytes, u64)>,
    probe_seen: Vec<bool>,
    healed_at: Option<u64>,
    live: bool,
    /// Leadership confirmations asked for: (server, round) → (time asked, epoch led).
    confirmations: std::collections::HashMap<(usize, u64), (u64, zab::Epoch)>,
    tracer: Option<Tracer>,
    scratch: Vec<Action>,
    report: Report,
}

impl World {
    pub fn new(opts: Options, tracer: Option<Tracer>) -> World {
        let n = opts.servers + opts.observers + opts.spares;
        let mut rng = Rng::new(opts.seed);
        let nodes = (0..n)
            .map(|i| Node {
                id: ServerId(i as u64 + 1),
                peer: None,
                disk: Disk::default(),
                app: App::default(),
                incarnation: 0,
                fsync_pending: false,
                tick_period: NOMINAL_TICK,
                next_tick: 0,
            })
            .collect::<Vec<Node>>();
        let clients: Vec<usize> = (0..opts.clients)
            .map(|_| rng.below(n as u64) as usize)
            .collect();
        let mut report = Report {
            seed: opts.seed,
            servers: n,
            ..Default::default()
        };
        let mut nodes = nodes;
        let drift = opts.clock_drift_permille;
        if drift > 0 {
            // Each clock runs at its own rate, within ± drift per mille of the nominal tick.
            for node in &mut nodes {
                let permille = rng.between(0, 2 * drift) as i64 - drift as i64;
                node.tick_period = (NOMINAL_TICK as i64 + permille * UNITS_PER_TICK as i64) as u64;
                if permille != 0 {
                    report.faults.drifting_servers += 1;
                    report.faults.drift_permille_max = report
                        .faults
                        .drift_permille_max
                        .max(permille.unsigned_abs());
                }
            }
        }
        World {
            rng,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            blocked: vec![false; n * n],
            partitions: Vec::new(),
            next_partition: 0,
            silence: vec![Default::default(); n * n],
            recovering_since: None,
            fifo: vec![0; n * n],
            faults_on: true,
            checker: Checker::new(),
            rules: Rules::new(
                zab::Membership::new(
                    (1..=opts.servers as u64).map(ServerId).collect(),
                    (1..=opts.observers as u64)
                        .map(|o| ServerId(opts.servers as u64 + o))
                        .collect(),
                ),
                n,
                opts.step_rules,
            ),
            retry: vec![None; clients.len()],
            clients,
            next_payload: 0,
            probe: None,
            probe_seen: vec![false; n],
            healed_at: None,
            live: false,
            confirmations: Default::default(),
            tracer,
            scratch: Vec::new(),
            report,
            opts,
        }
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.queue.push(self.now + delay, event);
    }

    fn trace(&mut self, event: TraceEvent<'_>) {
        if let Some(tracer) = self.tracer.as_mut() {
            tracer.record(self.now, event);
        }
    }

    pub fn tracer(&self) -> Option<&Tracer> {
        self.tracer.as_ref()
    }

    /// Runs to the end: the faulty phase, then healing and the liveness check.
    pub fn run(mut self) -> (Report, Option<Tracer>) {
        let result = self.run_inner();
        if let Err(violation) = result {
            let detail = violation.detail.clone();
            self.trace(TraceEvent::Violation {
                invariant: violation.invariant,
                detail: &detail,
            });
            self.report.violation = Some(violation);
        }
        self.report.ticks = self.now / UNITS_PER_TICK;
        self.report.deliveries = self.checker.deliveries;
        self.report.committed = self.checker.canonical_len();
        for node in &self.nodes {
            if let Some(peer) = &node.peer {
                let s = peer.stats();
                self.report.elections += s.elections;
                self.report.established += s.established;
                self.report.syncs_diff += s.sync_diff;
                self.report.syncs_trunc += s.sync_trunc;
                self.report.syncs_snap += s.sync_snap;
                self.report.log_reads += s.log_reads;
                self.report.log_reads_refused += s.log_reads_refused;
            }
        }
        if let Some(t) = self.tracer.as_mut() {
            t.flush();
        }
        (self.report, self.tracer)
    }

    fn run_inner(&mut self) -> Result<(), Violation> {
        for i in 0..self.nodes.len() {
            self.boot(i)?;
            let offset = self.rng.below(UNITS_PER_TICK);
            self.nodes[i].next_tick = (offset + 1) * 1000;
            self.schedule(offset + 1, Event::Tick(i));
        }
        for c in 0..self.clients.len() {
            let delay = self.client_delay();
            self.schedule(delay, Event::Client(c));
        }
        let first_fault = self.fault_delay();
        self.schedule(first_fault, Event::Fault);
        if let Some(isolation) = self.opts.isolation {
            self.schedule(isolation.at_tick * UNITS_PER_TICK, Event::Isolate);
        }
        self.schedule(self.opts.fault_ticks * UNITS_PER_TICK, Event::HealAll);
        let deadline = (self.opts.fault_ticks + self.opts.liveness_ticks) * UNITS_PER_TICK;
        while let Some((next_time, next_event)) = self.queue.pop() {
            if next_time > deadline || self.live {
                break;
            }
            self.now = next_time;
            self.report.events += 1;
            self.handle(next_event)?;
            self.check_recovered();
        }
        if !self.live {
            let leaders: Vec<String> = self
                .nodes
                .iter()
                .map(|n| {
                    n.peer.as_ref().map_or("down".into(), |p| {
                        let configs = if self.opts.reconfig {
                            let ids = |m: &zab::Membership| {
                                m.voters.iter().map(|v| v.0.to_string()).collect::<Vec<_>>()
                            };
                            let pending = p.pending_membership().map(ids);
                            format!(
                                " voters {:?} pending {pending:?}",
                                ids(p.active_membership())
                            )
                        } else {
                            String::new()
                        };
                        format!("{}:{}{configs}", n.id, p.phase().name())
                    })
                })
                .collect();
            return Err(Violation {
                invariant: "liveness",
                detail: format!(
                    "no new transaction committed on every server within {} ticks of healing ({})",
                    self.opts.liveness_ticks,
                    leaders.join(", ")
                ),
            });
        }
        Ok(())
    }

    fn client_delay(&mut self) -> u64 {
        self.rng
            .between(1, 2 * self.opts.client_interval * UNITS_PER_TICK)
    }

    fn fault_delay(&mut self) -> u64 {
        self.rng
            .between(1, 2 * self.opts.fault_interval * UNITS_PER_TICK)
    }

    fn handle(&mut self, event: Event) -> Result<(), Violation> {
        match event {
            Event::Tick(i) => {
                let node = &mut self.nodes[i];
                node.next_tick += node.tick_period;
                let delay = node.next_tick / 1000 - self.now;
                self.schedule(delay, Event::Tick(i));
                if self.nodes[i].peer.is_some() {
                    self.maybe_compact(i)?;
                    self.step(i, Input::Tick)?;
                    self.check_link_silence(i)?;
                }
                if self.healed_at.is_some() && i == 0 {
                    self.probe_liveness()?;
                }
            }
            Event::Message { from, to, message } => self.receive(from, to, message)?,
            Event::Fsync(i, incarnation) => {
                let node = &mut self.nodes[i];
                if node.incarnation == incarnation && node.peer.is_some() {
                    node.fsync_pending = false;
                    if let Some(zxid) = node.disk.fsync() {
                        let server = node.id;
                        self.trace(TraceEvent::Durable { server, zxid });
                        self.step(i, Input::LogDurable(zxid))?;
                    }
                }
            }
            Event::LogRead {
                server,
                incarnation,
                for_server,
                after,
                up_to,
                fails,
            } => {
                let node = &self.nodes[server];
                if node.incarnation == incarnation && node.peer.is_some() {
                    let txns = if fails {
                        Err("simulated read error".to_string())
                    } else {
                        Ok(node.disk.read(after, up_to))
                    };
                    let input = Input::LogRead {
                        for_server,
                        after,
                        up_to,
                        txns,
                    };
                    self.step(server, input)?;
                }
            }
            Event::Client(c) => {
                if self.healed_at.is_none() {
                    self.client_submit(c)?;
                    let delay = self.client_delay();
                    self.schedule(delay, Event::Client(c));
                }
            }
            Event::Fault => {
                if self.faults_on {
                    self.inject_fault()?;
                    let delay = self.fault_delay();
                    self.schedule(delay, Event::Fault);
                }
            }
            Event::Restart(i) => {
                if self.nodes[i].peer.is_none() {
                    self.boot(i)?;
                }
            }
            Event::Disconnected(i, peer) => {
                let peer_id = self.nodes[peer].id;
                self.step(i, Input::PeerDisconnected(peer_id))?;
            }
            Event::Isolate => self.isolate_a_follower(),
            Event::HealPartition(id) => self.heal_partition(id),
            Event::HealAll => {
                self.faults_on = false;
                self.healed_at = Some(self.now);
                self.heal_all_partitions();
                self.trace(TraceEvent::Fault {
                    kind: "heal",
                    detail: "all faults end".into(),
                });
                for i in 0..self.nodes.len() {
                    if self.nodes[i].peer.is_none() {
                        self.boot(i)?;
                    }
                }
            }
        }
        Ok(())
    }

    // ---- servers ----

    /// Server `i`'s static configuration: the initial voters and observers, plus itself as an
    /// observer if it is a spare.
    fn config(&self, i: usize) -> Config {
        let (voters, rest) = self.nodes.split_at(self.opts.servers);
        let mut cfg = Config::new(self.nodes[i].id, voters.iter().map(|n| n.id).collect());
        cfg.observers = rest[..self.opts.observers].iter().map(|n| n.id).collect();
        if i >= self.opts.servers + self.opts.observers {
            cfg.observers.push(self.nodes[i].id);
        }
        cfg.decoder = crate::reconfig::decode;
        #[cfg(feature = "bugs")]
        {
            cfg.bug = self.opts.bug;
        }
        #[cfg(not(feature = "bugs"))]
        assert!(
            self.opts.bug.is_none(),
            "a broken variant needs a build with the bugs feature"
        );
        cfg.diff_batch_max = 64;
        cfg.history_tail_txns = self.opts.history_tail_txns;
        cfg
    }

    fn boot(&mut self, i: usize) -> Result<(), Violation> {
        let nonce = self.rng.next_u64();
        let cfg = self.config(i);
        let node = &mut self.nodes[i];
        let (boot, app) = node.disk.boot(nonce);
        node.app = app;
        node.fsync_pending = false;
        let id = node.id;
        let restored = Restored {
            snapshot: app.zxid,
            count: app.count,
            digest: app.hash,
            log_end: node.disk.durable_end(),
            accepted_epoch: boot.accepted_epoch,
            accepted_leader: boot.accepted_leader,
            current_epoch: boot.current_epoch,
        };
        self.trace(TraceEvent::Restart {
            server: id,
            restored,
        });
        let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
        self.rules.on_restart(rules::Server { id, disk, app })?;
        self.checker.on_state(id, app, "restarted with")?;
        let mut peer = Peer::new(cfg, boot);
        let mut out = std::mem::take(&mut self.scratch);
        peer.start(&mut out);
        self.nodes[i].peer = Some(peer);
        self.apply(i, out)
    }

    /// Server `i` crashes (if it is up): its unsynced writes are lost or torn, and `during` is
    /// a write it was in the middle of, whose disk effect the caller has already made.
    pub(super) fn crash(&mut self, i: usize, during: Option<Interrupted>) {
        let torn = self.opts.torn_writes;
        let node = &mut self.nodes[i];
        if node.peer.take().is_none() {
            return;
        }
        node.disk.crash(&mut self.rng, torn);
        node.incarnation += 1;
        self.recovering_since = None;
        node.fsync_pending = false;
        self.report.crashes += 1;
        // The others' connections to it break; each notices a little later (a TCP reset).
        for other in 0..self.nodes.len() {
            if other != i {
                let delay = self.rng.between(1, UNITS_PER_TICK);
                self.schedule(delay, Event::Disconnected(other, i));
            }
        }
        let id = self.nodes[i].id;
        let epoch_write = match during {
            Some(Interrupted::Epoch { what, .. }) => Some(what),
            _ => None,
        };
        self.rules.on_crash(id, epoch_write);
        let log_end = self.nodes[i].disk.durable_end();
        self.trace(TraceEvent::Crash {
            server: id,
            log_end,
            during,
        });
    }

    fn step(&mut self, i: usize, input: Input) -> Result<(), Violation> {
        let mut out = std::mem::take(&mut self.scratch);
        match self.nodes[i].peer.as_mut() {
            Some(peer) => peer.step(input, &mut out),
            None => return Ok(()),
        }
        self.apply(i, out)
    }
}
