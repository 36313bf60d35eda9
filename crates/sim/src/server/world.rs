//! One server-level run: N real server cores over simulated disks and links, simulated clients,
//! faults, and the checks after every step. Everything comes from one seed, so a run replays
//! bit for bit.

use std::collections::BTreeMap;

use bytes::Bytes;
use server_core::clients::{ClientEvent, ConnId};
use server_core::limits::Limits;
use server_core::peers::codec::PeerFrame;

use super::client::{SimClient, Which};
use super::history::History;
use super::net::Links;
use super::node::Node;
use super::options::{Micros, ServerOptions, MS};
use super::trace::Trace;
use super::watches::ChangeLog;
use super::Report;
use crate::queue::EventQueue;
use crate::rng::Rng;

/// What happens at a point of simulated time.
#[derive(Debug)]
pub(super) enum Event {
    Tick(usize),
    Expiry(usize),
    Frame {
        from: usize,
        to: usize,
        generation: u64,
        frame: PeerFrame,
    },
    /// A partitioned link has been silent long enough for both ends to drop it.
    Silence {
        a: usize,
        b: usize,
        partition: u64,
    },
    /// Server `at` learns that its link to `peer` broke.
    PeerGone {
        at: usize,
        peer: usize,
    },
    Fsync(usize, u32),
    SnapshotWrite(usize, u32),
    Restart(usize),
    /// A client's bytes reach a server.
    ToServer {
        node: usize,
        incarnation: u32,
        event: ClientEvent,
    },
    /// A server's bytes reach a client (connection ids are per server).
    ToClient {
        client: usize,
        which: Which,
        server: usize,
        conn: ConnId,
        frame: Bytes,
    },
    /// A server's writer wrote bytes for a connection.
    Written {
        node: usize,
        incarnation: u32,
        conn: ConnId,
        bytes: u64,
    },
    /// A client learns its connection closed.
    Closed {
        client: usize,
        which: Which,
        server: usize,
        conn: ConnId,
    },
    Burst(usize),
    Ping(usize),
    /// A client whose connection closed comes back.
    Reconnect(usize),
    Fault,
    HealPartition(u64),
    HealAll,
    /// After healing: is everything answered and converged?
    Settle,
}

/// A violated check: which, and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub check: &'static str,
    pub detail: String,
}

pub(super) type Step = Result<(), Violation>;

pub(super) fn violation(check: &'static str, detail: impl Into<String>) -> Violation {
    Violation {
        check,
        detail: detail.into(),
    }
}

/// The world of one run.
pub struct World {
    pub(super) opts: ServerOptions,
    pub(super) limits: Limits,
    pub(super) rng: Rng,
    pub(super) now: Micros,
    queue: EventQueue<Event>,
    pub(super) nodes: Vec<Node>,
    pub(super) links: Links,
    pub(super) clients: Vec<SimClient>,
    /// Which client owns each connection: (server, connection) → (client, which).
    pub(super) owners: BTreeMap<(usize, ConnId), (usize, Which)>,
    pub(super) changes: ChangeLog,
    /// The digest every server must have at each zxid (the first server to reach it says).
    pub(super) digests: BTreeMap<zab::Zxid, u64>,
    pub(super) history: History,
    pub(super) faults_on: bool,
    pub(super) healed_at: Option<Micros>,
    pub(super) settled: bool,
    pub(super) trace: Trace,
    pub(super) report: Report,
    pub(super) frames: Vec<(u64, PeerFrame)>,
    pub(super) effects: Vec<server_core::clients::ClientEffect>,
}

impl World {
    pub fn new(opts: ServerOptions, trace: Trace) -> World {
        let mut rng = Rng::new(opts.seed);
        let nodes = (0..opts.servers)
            .map(|i| {
                let drift = if opts.drift_ppm_max == 0 {
                    0
                } else {
                    rng.below(2 * opts.drift_ppm_max + 1) as i64 - opts.drift_ppm_max as i64
                };
                Node::new(i as u64 + 1, rng.below(10_000_000), drift)
            })
            .collect();
        let clients = (0..opts.clients).map(SimClient::new).collect();
        let limits = limits(&opts);
        let report = Report {
            seed: opts.seed,
            servers: opts.servers,
            ..Report::default()
        };
        World {
            links: Links::new(opts.servers),
            limits,
            rng,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            clients,
            owners: BTreeMap::new(),
            changes: ChangeLog::default(),
            digests: BTreeMap::new(),
            history: History::default(),
            faults_on: true,
            healed_at: None,
            settled: false,
            trace,
            report,
            frames: Vec::new(),
            effects: Vec::new(),
            opts,
        }
    }

    /// A trace note, made only when tracing.
    pub(super) fn note(&mut self, kind: &str, detail: impl FnOnce() -> String) {
        if self.trace.on() {
            let detail = detail();
            self.trace.note(self.now, kind, &detail);
        }
    }

    pub(super) fn schedule(&mut self, delay: Micros, event: Event) {
        self.schedule_at(self.now + delay, event);
    }

    pub(super) fn schedule_at(&mut self, time: Micros, event: Event) {
        self.queue.push(time.max(self.now), event);
    }

    /// Runs to the end: faults, then healing, then the checks that need everything answered.
    pub fn run(mut self) -> (Report, Trace) {
        if let Err(v) = self.run_inner() {
            self.trace
                .note(self.now, "violation", &format!("{}: {}", v.check, v.detail));
            self.report.violation = Some(v);
        }
        if self.report.violation.is_none() {
            if let Some(v) = self.final_checks() {
                self.report.violation = Some(v);
            }
        }
        self.report.simulated_ms = self.now / MS;
        (self.report, self.trace)
    }

    fn run_inner(&mut self) -> Step {
        for i in 0..self.nodes.len() {
            self.boot(i)?;
            let offset = self.rng.below(self.opts.tick);
            self.schedule(offset + 1, Event::Tick(i));
            self.schedule(offset + 7, Event::Expiry(i));
        }
        for c in 0..self.clients.len() {
            let first = self.rng.between(1, 50 * MS);
            self.schedule(first, Event::Burst(c));
            self.schedule(first + 100 * MS, Event::Ping(c));
        }
        let first_fault = self.rng.between(1, 2 * self.opts.fault_interval);
        self.schedule(first_fault, Event::Fault);
        self.schedule(self.opts.faulty, Event::HealAll);
        let deadline = self.opts.faulty + self.opts.liveness;
        while let Some((next_time, next_event)) = self.queue.pop() {
            if self.settled {
                return Ok(());
            }
            if next_time > deadline {
                return Err(self.liveness_violation());
            }
            self.now = next_time;
            self.report.events += 1;
            self.handle(next_event)?;
        }
        Err(violation("liveness", "the world ran out of events"))
    }

    fn handle(&mut self, event: Event) -> Step {
        match event {
            Event::Tick(i) => self.on_tick(i),
            Event::Expiry(i) => self.on_expiry(i),
            Event::Frame {
                from,
                to,
                generation,
                frame,
            } => self.on_frame(from, to, generation, frame),
            Event::Silence { a, b, partition } => self.on_silence(a, b, partition),
            Event::PeerGone { at, peer } => self.on_peer_gone(at, peer),
            Event::Fsync(i, incarnation) => self.on_fsync(i, incarnation),
            Event::SnapshotWrite(i, incarnation) => self.on_snapshot_write(i, incarnation),
            Event::Restart(i) => self.on_restart(i),
            Event::ToServer {
                node,
                incarnation,
                event,
            } => self.on_to_server(node, incarnation, event),
            Event::ToClient {
                client,
                which,
                server,
                conn,
                frame,
            } => self.on_to_client(client, which, (server, conn), frame),
            Event::Written {
                node,
                incarnation,
                conn,
                bytes,
            } => self.on_written(node, incarnation, conn, bytes),
            Event::Closed {
                client,
                which,
                server,
                conn,
            } => self.on_closed(client, which, (server, conn)),
            Event::Burst(c) => self.on_burst(c),
            Event::Ping(c) => self.on_ping(c),
            Event::Reconnect(c) => self.on_reconnect(c),
            Event::Fault => self.on_fault(),
            Event::HealPartition(generation) => {
                if generation == self.links.partition_generation {
                    self.heal_partitions()?;
                }
                Ok(())
            }
            Event::HealAll => self.on_heal_all(),
            Event::Settle => self.on_settle(),
        }
    }
}

/// The bounds of a run: the defaults, or small ones that clients that stop reading reach.
fn limits(opts: &ServerOptions) -> Limits {
    let mut limits = Limits::defaults(1 << 20);
    limits.max_connections_per_ip = 0;
    if opts.tight_limits {
        limits.max_requests_per_connection = 50;
        limits.max_request_bytes_per_connection = (1 << 20) + 4;
        limits.read_pause_outbound_bytes = 4 << 10;
        limits.max_outbound_bytes_per_connection = 64 << 10;
        limits.max_outbound_bytes_total = 256 << 10;
        limits.global_outstanding_requests = 120;
    }
    limits
}
