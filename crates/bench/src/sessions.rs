//! Many sessions, one watched znode: how fast sessions open, and how long one setData takes to
//! reach every watcher.
//!
//! [`run`] opens `sessions` sessions (one TCP connection each, round-robin over the servers,
//! at most `connect_concurrency` handshakes at a time) and times that; each session then
//! arms a data watch on one znode (a getData with `watch`, all in flight at once); one more
//! session sets the znode once, and the report says when the first, the median, the 99th
//! percentile and the last watcher heard of it. With `hold` the sessions then stay open and
//! idle that long before they close, for an outside observer to read the servers' memory
//! (`scripts/bench-sessions` divides the growth by the sessions each server holds).
//!
//! Every session must open and every watcher must be notified: a missing one is an error, not
//! a smaller figure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use proto::{ErrorCode, Request};
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::conn::{Conn, Notification};
use crate::report::Latency;

/// What to run.
#[derive(Debug, Clone)]
pub struct SessionsConfig {
    /// host:port of each server; sessions are spread over them round-robin.
    pub servers: Vec<String>,
    /// Watcher sessions to open.
    pub sessions: usize,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Session timeout asked for, ms.
    pub session_timeout_ms: i32,
    /// How long to keep the sessions open and idle after the notification, before closing.
    pub hold: Duration,
    /// How long the watchers may take to hear of the set before the run fails.
    pub notify_timeout: Duration,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct SessionsReport {
    /// Sessions opened (every one asked for).
    pub sessions: usize,
    /// Seconds from the first connect to the last session opened.
    pub open_secs: f64,
    /// Sessions opened per second.
    pub open_per_sec: f64,
    /// Handshake latency, connect to ConnectResponse.
    pub open_latency_ms: Latency,
    /// Seconds to arm every watch (all getData requests in flight at once).
    pub arm_secs: f64,
    /// From sending the setData to the first watcher's notification.
    pub first_notify_ms: f64,
    /// From sending the setData to each watcher's notification.
    pub notify_ms: Latency,
    /// From sending the setData to its own reply.
    pub set_reply_ms: f64,
}

impl SessionsReport {
    /// The report as JSON (what `--json` writes).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    /// The report as the text `quorum bench sessions` prints.
    pub fn table(&self) -> String {
        let l = &self.open_latency_ms;
        let n = &self.notify_ms;
        format!(
            "sessions opened: {} in {:.2} s ({:.0}/s); handshake p50 {:.2} ms p99 {:.2} ms max {:.2} ms\n\
             watches armed in {:.2} s\n\
             one setData, reply in {:.2} ms; notifications: first {:.2} ms, p50 {:.2} ms, \
             p99 {:.2} ms, all {} delivered by {:.2} ms\n",
            self.sessions,
            self.open_secs,
            self.open_per_sec,
            l.p50,
            l.p99,
            l.max,
            self.arm_secs,
            self.set_reply_ms,
            self.first_notify_ms,
            n.p50,
            n.p99,
            self.sessions,
            n.max,
        )
    }
}

/// The node every session watches.
const PATH: &str = "/bench-fanout";

/// How long one handshake may take while tens of thousands of others are under way.
const HANDSHAKE: Duration = Duration::from_secs(30);

/// Runs `config`. Must be called inside a tokio runtime.
pub async fn run(config: SessionsConfig) -> Result<SessionsReport, String> {
    if config.servers.is_empty() || config.sessions == 0 {
        return Err("needs servers and at least one session".into());
    }
    let (tx, mut notifications) = mpsc::unbounded_channel::<Notification>();
    let (conns, open_secs, open_latency_ms) = open_all(&config, &tx).await?;
    drop(tx);
    let writer =
        Arc::new(Conn::connect(&config.servers[0], config.session_timeout_ms, None).await?);
    ensure_node(&writer).await?;

    let armed_at = Instant::now();
    arm_all(&conns).await?;
    let arm_secs = armed_at.elapsed().as_secs_f64();

    let sent = Instant::now();
    let reply = writer
        .call(crate::set(PATH, &Bytes::from_static(b"changed")))
        .await
        .map_err(|e| format!("setData: {e}"))?;
    let set_reply_ms = sent.elapsed().as_secs_f64() * 1000.0;
    if reply.header.err != 0 {
        return Err(format!("setData failed: error {}", reply.header.err));
    }
    let (first_notify_ms, notify_ms) =
        collect(&mut notifications, conns.len(), sent, config.notify_timeout).await?;

    tokio::time::sleep(config.hold).await;
    close_all(conns, writer, config.connect_concurrency).await;
    Ok(SessionsReport {
        sessions: config.sessions,
        open_secs,
        open_per_sec: config.sessions as f64 / open_secs.max(1e-9),
        open_latency_ms,
        arm_secs,
        first_notify_ms,
        notify_ms,
        set_reply_ms,
    })
}

/// Opens every session, `connect_concurrency` handshakes at a time; all must succeed.
async fn open_all(
    config: &SessionsConfig,
    notify: &mpsc::UnboundedSender<Notification>,
) -> Result<(Vec<Arc<Conn>>, f64, Latency), String> {
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(config.sessions);
    for i in 0..config.sessions {
        let addr = config.servers[i % config.servers.len()].clone();
        let (gate, notify, timeout) = (gate.clone(), notify.clone(), config.session_timeout_ms);
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let at = Instant::now();
            let conn = Conn::connect_within(&addr, timeout, Some(notify), HANDSHAKE).await?;
            Ok::<_, String>((Arc::new(conn), at.elapsed()))
        }));
    }
    let mut conns = Vec::with_capacity(config.sessions);
    let mut hist = micros_histogram();
    for (i, task) in tasks.into_iter().enumerate() {
        let (conn, took) = task
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("session {i}: {e}"))?;
        hist.saturating_record(took.as_micros() as u64);
        conns.push(conn);
    }
    Ok((
        conns,
        started.elapsed().as_secs_f64(),
        Latency::from_hist(&hist),
    ))
}

async fn ensure_node(writer: &Conn) -> Result<(), String> {
    let reply = writer
        .call(crate::create(PATH, &Bytes::from_static(b"start")))
        .await
        .map_err(|e| format!("create {PATH}: {e}"))?;
    let err = reply.header.err;
    if err != 0 && err != ErrorCode::NodeExists.as_i32() {
        return Err(format!("create {PATH}: error {err}"));
    }
    Ok(())
}

/// A getData with a watch on every session, all in flight at once; every one must succeed.
async fn arm_all(conns: &[Arc<Conn>]) -> Result<(), String> {
    let mut calls = JoinSet::new();
    for (i, conn) in conns.iter().enumerate() {
        let conn = conn.clone();
        calls.spawn(async move { (i, conn.call(crate::get(PATH, true)).await) });
    }
    while let Some(done) = calls.join_next().await {
        let (i, reply) = done.map_err(|e| e.to_string())?;
        let reply = reply.map_err(|e| format!("session {i}: watch: {e}"))?;
        if reply.header.err != 0 {
            return Err(format!("session {i}: watch: error {}", reply.header.err));
        }
    }
    Ok(())
}

/// Waits for `expected` notifications of the set sent at `sent`: the first one's latency (ms)
/// and the distribution.
async fn collect(
    notifications: &mut mpsc::UnboundedReceiver<Notification>,
    expected: usize,
    sent: Instant,
    timeout: Duration,
) -> Result<(f64, Latency), String> {
    let mut hist = micros_histogram();
    let deadline = tokio::time::Instant::from_std(sent + timeout);
    let mut first = f64::MAX;
    while (hist.len() as usize) < expected {
        let heard = tokio::time::timeout_at(deadline, notifications.recv()).await;
        let Ok(Some(n)) = heard else {
            return Err(format!(
                "{} of {expected} watchers notified within {timeout:?}",
                hist.len()
            ));
        };
        let us = n.at.saturating_duration_since(sent).as_micros() as u64;
        first = first.min(us as f64 / 1000.0);
        hist.saturating_record(us);
    }
    Ok((first, Latency::from_hist(&hist)))
}

/// Closes every session (closeSession, then the socket), `concurrency` at a time.
async fn close_all(conns: Vec<Arc<Conn>>, writer: Arc<Conn>, concurrency: usize) {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut closing = JoinSet::new();
    for conn in conns.into_iter().chain(std::iter::once(writer)) {
        let gate = gate.clone();
        closing.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let close = conn.call(Request::CloseSession);
            let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        });
    }
    while closing.join_next().await.is_some() {}
}

fn micros_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}
