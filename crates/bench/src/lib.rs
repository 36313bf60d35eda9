//! A load generator that speaks the ZooKeeper 3.8 client protocol, so one binary drives Quorum
//! and Apache ZooKeeper alike.
//!
//! [`run`] opens `clients` sessions (one TCP connection each, spread round-robin over the
//! servers), runs `inflight` closed-loop workers per session (so up to that many requests are
//! pipelined on each connection), verifies every reply (error code, returned path, data
//! length), and measures latency into HDR histograms after a warm-up. Workloads:
//!
//! * `create`: creates of `value_size`-byte znodes under a fresh parent;
//! * `set`: setData on znodes pre-created per worker;
//! * `get`: getData of those znodes;
//! * `mixed`: get with probability `read_ratio`, else set;
//! * `watch`: `clients` watcher sessions over ceil(clients / 4) znodes (about 4 watchers per
//!   znode); extra writer sessions (one per `inflight` znodes) set each znode again as soon as
//!   every watcher of it has re-armed its watch. The latency is from sending the setData to each
//!   watcher receiving the notification; throughput counts notifications.
//!
//! Sessions that lose their connection reopen a new session on the next server, so a leader
//! crash shows up as errors plus the longest gap without a completed request.
//!
//! With [`Config::max_ops`] a create, set, get or mixed run sends exactly that many requests
//! (no warm-up) and reports how long they took: a loader (a million znodes) or a fixed amount
//! of work to divide a measured cost by (bytes written per operation). With
//! [`Config::timeline`] it also keeps the send and completion time of every request (when a
//! leader was killed, when did the first write sent after it succeed).
//!
//! [`baseline`] measures what a replicated write cannot beat (fdatasync and loopback round
//! trips); [`chart_spec`] renders charts described in JSON with the `charts` crate.
//!
//! The other measuring steps of a side-by-side comparison with Apache ZooKeeper, each behind a
//! `quorum bench` subcommand: [`probe`] (is an ensemble formed and serving), [`failover`]
//! (the leader killed under load), [`serving`] (a restarted server's time to serve),
//! [`disk_usage`] (bytes per file, log and snapshots apart) and [`memory`] (a process's
//! resident memory by backing).

#![deny(missing_docs)]

pub mod baseline;
pub mod chart_spec;
pub mod conn;
pub mod disk_usage;
pub mod failover;
pub mod memory;
pub mod probe;
pub mod report;
pub mod serving;
pub mod sessions;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proto::{
    Acl, CreateRequest, CreateResponse, Decode, ErrorCode, EventType, GetDataRequest,
    GetDataResponse, Request, SetDataRequest, Stat,
};
use tokio::sync::{mpsc, Notify};

pub use conn::{Client, Closed, Conn, Reply};
pub use report::{timeline_text, Completion, GapTracker, Latency, Report, Stats};

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Creates under a fresh parent.
    Create,
    /// setData on pre-created znodes.
    Set,
    /// getData on pre-created znodes.
    Get,
    /// Gets and sets, `read_ratio` of them gets.
    Mixed,
    /// Watchers notified of other sessions' sets.
    Watch,
}

impl Workload {
    /// Every workload, in reporting order.
    pub const ALL: [Workload; 5] = [
        Workload::Create,
        Workload::Set,
        Workload::Get,
        Workload::Mixed,
        Workload::Watch,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::Watch => "watch",
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| format!("unknown workload {s:?}: create, set, get, mixed or watch"))
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// host:port of each server.
    pub servers: Vec<String>,
    /// The workload.
    pub workload: Workload,
    /// Sessions.
    pub clients: usize,
    /// Requests in flight per session.
    pub inflight: usize,
    /// Bytes per value.
    pub value_size: usize,
    /// Share of gets in the mixed workload.
    pub read_ratio: f64,
    /// Unmeasured warm-up.
    pub warmup: Duration,
    /// Measured stretch.
    pub duration: Duration,
    /// Session timeout asked for, ms.
    pub session_timeout_ms: i32,
    /// Send exactly this many requests (create, set, get, mixed; not watch) and stop: the
    /// warm-up is skipped, `duration` only caps the run, and the report's duration is the time
    /// they took.
    pub max_ops: Option<u64>,
    /// Keep every request's send and completion time in [`Report::timeline`].
    pub timeline: bool,
}

impl Config {
    /// Defaults for everything but the servers and the workload.
    pub fn new(servers: Vec<String>, workload: Workload) -> Config {
        Config {
            servers,
            workload,
            clients: 1,
            inflight: 1,
            value_size: 100,
            read_ratio: 0.9,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            session_timeout_ms: 10_000,
            max_ops: None,
            timeline: false,
        }
    }
}

/// The measured window and the shared gap tracker.
struct Window {
    start: Instant,
    end: Instant,
    gaps: GapTracker,
    /// `start` in µs since the Unix epoch, for timelines.
    start_unix_us: u64,
}

impl Window {
    fn new(start: Instant, end: Instant) -> Window {
        let unix = probe::unix_us();
        let now = Instant::now();
        // The wall clock at `start` (which may lie a warm-up ahead of now).
        let start_unix_us = if start >= now {
            unix + (start - now).as_micros() as u64
        } else {
            unix.saturating_sub((now - start).as_micros() as u64)
        };
        Window {
            start,
            end,
            gaps: GapTracker::new(start),
            start_unix_us,
        }
    }

    fn measured(&self, t0: Instant, t1: Instant) -> bool {
        t0 >= self.start && t1 <= self.end
    }

    /// `t` (not before the window starts) in µs since the Unix epoch.
    fn unix_us(&self, t: Instant) -> u64 {
        self.start_unix_us + t.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// How a reply must look.
enum Expect {
    Created(String),
    Stat(usize),
    Data(usize),
}

fn verify(reply: &Reply, expect: &Expect) -> Result<(), String> {
    if reply.header.err != 0 {
        return Err(match ErrorCode::try_from(reply.header.err) {
            Ok(code) => format!("{code:?}"),
            Err(_) => format!("error {}", reply.header.err),
        });
    }
    let mut body = reply.body.clone();
    match expect {
        Expect::Created(path) => {
            let r =
                CreateResponse::decode(&mut body).map_err(|e| format!("bad create reply: {e}"))?;
            if &r.path != path {
                return Err("create returned another path".into());
            }
        }
        Expect::Stat(len) => {
            let s = Stat::decode(&mut body).map_err(|e| format!("bad stat: {e}"))?;
            if s.data_length as usize != *len {
                return Err("wrong data length in stat".into());
            }
        }
        Expect::Data(len) => {
            let r = GetDataResponse::decode(&mut body)
                .map_err(|e| format!("bad getData reply: {e}"))?;
            let got = r.data.as_ref().map_or(0, |d| d.len());
            if got != *len || r.stat.data_length as usize != *len {
                return Err("wrong data length".into());
            }
        }
    }
    Ok(())
}

pub(crate) fn create(path: &str, value: &Bytes) -> Request {
    Request::Create(CreateRequest {
        path: path.to_string(),
        data: Some(value.clone()),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

pub(crate) fn set(path: &str, value: &Bytes) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_string(),
        data: Some(value.clone()),
        version: -1,
    })
}

pub(crate) fn get(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.to_string(),
        watch,
    })
}

/// One request, with reconnection on a lost connection. `Ok(reply)` or the error kind.
async fn call(client: &Client, request: Request, deadline: Instant) -> Result<Reply, String> {
    let (generation, result) = client.call(request).await;
    match result {
        Ok(reply) => Ok(reply),
        Err(Closed) => {
            // Keep trying to reconnect until a little after the run ends.
            let _ = client
                .reconnect(generation, deadline + Duration::from_secs(5))
                .await;
            Err("ConnectionLoss".into())
        }
    }
}

/// Setup requests must succeed (NodeExists is fine); retried across reconnects for a while.
async fn setup(client: &Client, request: Request) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call(client, request.clone(), deadline).await {
            Ok(r) if r.header.err == 0 || r.header.err == ErrorCode::NodeExists.as_i32() => {
                return Ok(())
            }
            Ok(r) => {
                return Err(format!(
                    "setup {:?} failed: error {}",
                    request.path(),
                    r.header.err
                ))
            }
            Err(e) if Instant::now() > deadline => return Err(format!("setup failed: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Runs `config` and reports. Must be called inside a tokio runtime.
pub async fn run(config: Config) -> Result<Report, String> {
    if config.servers.is_empty() {
        return Err("no servers".into());
    }
    if config.clients == 0 || config.inflight == 0 {
        return Err("--clients and --inflight must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&config.read_ratio) {
        return Err("--read-ratio must be between 0 and 1".into());
    }
    if config.max_ops.is_some() && config.workload == Workload::Watch {
        return Err("a fixed number of operations is for create, set, get and mixed".into());
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let parent = format!(
        "/bench-{}-{}-{stamp}",
        config.workload.name(),
        std::process::id()
    );
    let value = Bytes::from(vec![b'v'; config.value_size]);
    let watch = config.workload == Workload::Watch;
    let writers = if watch {
        config.clients.div_ceil(4).div_ceil(config.inflight)
    } else {
        0
    };
    let mut notify_rx = Vec::new();
    let mut connecting = Vec::new();
    for i in 0..config.clients + writers {
        let (tx, rx) = if watch && i < config.clients {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        notify_rx.push(rx);
        let servers = config.servers.clone();
        let timeout = config.session_timeout_ms;
        connecting.push(tokio::spawn(async move {
            Client::connect(servers, i, timeout, tx).await
        }));
    }
    let mut clients = Vec::new();
    for c in connecting {
        clients.push(Arc::new(c.await.map_err(|e| e.to_string())??));
    }
    setup(&clients[0], create(&parent, &Bytes::new())).await?;

    let report = match config.workload {
        Workload::Watch => run_watch(&config, &clients, notify_rx, &parent, &value).await?,
        _ => run_requests(&config, &clients, &parent, &value).await?,
    };
    for c in &clients {
        c.close().await;
    }
    Ok(report)
}

/// The report of a run that measured `stats` from `window.start` to `end`.
fn report(
    config: &Config,
    clients: &[Arc<Client>],
    stats: Stats,
    window: &Window,
    end: Instant,
    parent: &str,
    latency_of: &str,
) -> Report {
    let secs = (end - window.start).as_secs_f64().max(1e-9);
    Report {
        workload: config.workload.name().into(),
        parent: parent.into(),
        latency_of: latency_of.into(),
        servers: config.servers.clone(),
        clients: config.clients,
        inflight: config.inflight,
        value_size: config.value_size,
        read_ratio: config.read_ratio,
        warmup_secs: config.warmup.as_secs_f64(),
        duration_secs: secs,
        max_ops: config.max_ops,
        ops: stats.ops,
        throughput: stats.ops as f64 / secs,
        errors: stats.error_count(),
        error_kinds: stats.errors.clone(),
        reconnects: clients.iter().map(|c| c.reconnects()).sum(),
        latency_ms: Latency::from_hist(&stats.hist),
        latency_cdf: Latency::cdf(&stats.hist),
        max_gap_ms: window.gaps.longest(end).as_secs_f64() * 1000.0,
        timeline: Vec::new(),
    }
}

/// A small xorshift generator (reproducible per worker, no dependency).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn run_requests(
    config: &Config,
    clients: &[Arc<Client>],
    parent: &str,
    value: &Bytes,
) -> Result<Report, String> {
    // Pre-create one znode per worker for set / get / mixed.
    if config.workload != Workload::Create {
        let mut tasks = Vec::new();
        for (s, client) in clients.iter().enumerate() {
            for k in 0..config.inflight {
                let client = client.clone();
                let req = create(&format!("{parent}/n{s}-{k}"), value);
                tasks.push(tokio::spawn(async move { setup(&client, req).await }));
            }
        }
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
    }
    // With a fixed number of operations every request counts, from the start.
    let warmup = if config.max_ops.is_some() {
        Duration::ZERO
    } else {
        config.warmup
    };
    let begin = Instant::now();
    let window = Arc::new(Window::new(
        begin + warmup,
        begin + warmup + config.duration,
    ));
    let tickets = config.max_ops.map(|_| Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for (s, client) in clients.iter().enumerate() {
        for k in 0..config.inflight {
            let client = client.clone();
            let window = window.clone();
            let tickets = tickets.clone();
            let max_ops = config.max_ops.unwrap_or(u64::MAX);
            let keep_timeline = config.timeline;
            let value = value.clone();
            let node = format!("{parent}/n{s}-{k}");
            let prefix = format!("{parent}/c{s}-{k}-");
            let workload = config.workload;
            let read_ratio = config.read_ratio;
            let len = value.len();
            tasks.push(tokio::spawn(async move {
                let mut stats = Stats::default();
                let mut timeline = Vec::new();
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((s as u64) << 20 | k as u64));
                let mut seq = 0u64;
                loop {
                    let t0 = Instant::now();
                    if t0 >= window.end {
                        break;
                    }
                    if let Some(t) = &tickets {
                        if t.fetch_add(1, Ordering::Relaxed) >= max_ops {
                            break;
                        }
                    }
                    let (request, expect) = match workload {
                        Workload::Create => {
                            seq += 1;
                            let path = format!("{prefix}{seq}");
                            (create(&path, &value), Expect::Created(path))
                        }
                        Workload::Set => (set(&node, &value), Expect::Stat(len)),
                        Workload::Get => (get(&node, false), Expect::Data(len)),
                        _ => {
                            if rng.unit() < read_ratio {
                                (get(&node, false), Expect::Data(len))
                            } else {
                                (set(&node, &value), Expect::Stat(len))
                            }
                        }
                    };
                    let result = call(&client, request, window.end).await;
                    let t1 = Instant::now();
                    let outcome = result.and_then(|r| verify(&r, &expect));
                    if t0 < window.start || t1 > window.end {
                        continue;
                    }
                    if keep_timeline {
                        timeline.push(Completion {
                            sent_us: window.unix_us(t0),
                            done_us: window.unix_us(t1),
                            error: outcome.as_ref().err().cloned(),
                        });
                    }
                    match outcome {
                        Ok(()) => {
                            stats.record(t1 - t0);
                            window.gaps.completed(t1);
                        }
                        Err(kind) => stats.error(kind),
                    }
                }
                (stats, timeline)
            }));
        }
    }
    let mut stats = Stats::default();
    let mut timeline = Vec::new();
    for t in tasks {
        let (s, mut t) = t.await.map_err(|e| e.to_string())?;
        stats.merge(&s);
        timeline.append(&mut t);
    }
    // A run of fixed size lasts until its last request completed; any other run is the window.
    let end = if config.max_ops.is_some() {
        Instant::now().min(window.end)
    } else {
        window.end
    };
    let mut report = report(
        config,
        clients,
        stats,
        &window,
        end,
        parent,
        "request round trip (send to verified reply)",
    );
    report.timeline = timeline;
    Ok(report)
}

/// A watched znode: how many watchers are armed, and when the last set was sent.
struct Watched {
    path: String,
    watchers: usize,
    armed: AtomicUsize,
    all_armed: Notify,
    sent_at_ns: AtomicU64,
}

async fn run_watch(
    config: &Config,
    clients: &[Arc<Client>],
    notify_rx: Vec<Option<mpsc::UnboundedReceiver<conn::Notification>>>,
    parent: &str,
    value: &Bytes,
) -> Result<Report, String> {
    let nodes = config.clients.div_ceil(4);
    let watched: Vec<Arc<Watched>> = (0..nodes)
        .map(|j| {
            Arc::new(Watched {
                path: format!("{parent}/w{j}"),
                watchers: (0..config.clients).filter(|i| i % nodes == j).count(),
                armed: AtomicUsize::new(0),
                all_armed: Notify::new(),
                sent_at_ns: AtomicU64::new(0),
            })
        })
        .collect();
    for w in &watched {
        setup(&clients[0], create(&w.path, value)).await?;
    }
    let begin = Instant::now();
    let window = Arc::new(Window::new(
        begin + config.warmup,
        begin + config.warmup + config.duration,
    ));
    let len = value.len();
    let mut tasks = Vec::new();
    for (i, rx) in notify_rx.into_iter().enumerate().take(config.clients) {
        let mut rx = rx.expect("watchers have a notification channel");
        let client = clients[i].clone();
        let node = watched[i % nodes].clone();
        let window = window.clone();
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            // Arm, then wait for a notification, record it, re-arm, until the end.
            loop {
                match call(&client, get(&node.path, true), window.end).await {
                    Ok(r) => match verify(&r, &Expect::Data(len)) {
                        Ok(()) => {
                            if node.armed.fetch_add(1, Ordering::SeqCst) + 1 == node.watchers {
                                node.all_armed.notify_one();
                            }
                        }
                        Err(kind) => stats.error(kind),
                    },
                    Err(kind) => {
                        stats.error(kind);
                        break;
                    }
                }
                let wait = window.end.saturating_duration_since(Instant::now());
                let n = loop {
                    match tokio::time::timeout(wait, rx.recv()).await {
                        Ok(Some(n)) if n.event.path == node.path => break Some(n),
                        Ok(Some(_)) => continue,
                        _ => break None,
                    }
                };
                let Some(n) = n else { break };
                if n.event.event_type != EventType::NodeDataChanged {
                    stats.error(format!("unexpected event {:?}", n.event.event_type));
                    continue;
                }
                let sent = begin + Duration::from_nanos(node.sent_at_ns.load(Ordering::SeqCst));
                if window.measured(sent, n.at) {
                    stats.record(n.at - sent);
                    window.gaps.completed(n.at);
                }
            }
            stats
        }));
    }
    let mut writer_tasks = Vec::new();
    for (j, node) in watched.iter().enumerate() {
        let client = clients[config.clients + j / config.inflight].clone();
        let node = node.clone();
        let window = window.clone();
        let value = value.clone();
        writer_tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                while node.armed.load(Ordering::SeqCst) < node.watchers {
                    let wait = window.end.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        return stats;
                    }
                    let _ = tokio::time::timeout(wait, node.all_armed.notified()).await;
                }
                let t0 = Instant::now();
                if t0 >= window.end {
                    return stats;
                }
                node.armed.store(0, Ordering::SeqCst);
                node.sent_at_ns
                    .store((t0 - begin).as_nanos() as u64, Ordering::SeqCst);
                let result = call(&client, set(&node.path, &value), window.end).await;
                let t1 = Instant::now();
                if let Err(kind) = result.and_then(|r| verify(&r, &Expect::Stat(len))) {
                    if window.measured(t0, t1) {
                        stats.error(format!("set: {kind}"));
                    }
                }
            }
        }));
    }
    let mut stats = Stats::default();
    for t in tasks.into_iter().chain(writer_tasks) {
        stats.merge(&t.await.map_err(|e| e.to_string())?);
    }
    Ok(report(
        config,
        clients,
        stats,
        &window,
        window.end,
        parent,
        "setData sent to notification received, per watcher",
    ))
}
