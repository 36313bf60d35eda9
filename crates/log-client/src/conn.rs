//! Connections to brokers: one TCP connection per broker address, requests pipelined on it and
//! matched to their answers by tag (answers may come in any order).
//!
//! A connection has a writer task (frames from a bounded channel to the socket) and a reader
//! task (frames from the socket to the waiting requests). At most
//! [`MAX_IN_FLIGHT_REQUESTS`] requests wait for answers at once; the next waits for a slot, so
//! a slow broker back-pressures its callers instead of growing their memory. Every request has
//! a timeout. A connection that breaks (IO error, a frame over the cap, a body that does not
//! decode, end of stream) fails every request in flight with the same error and refuses new
//! ones; the layers above look the leader up again and retry, and the [`Pool`] dials anew.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use broker::wire::{self, BrokerRequest, BrokerResponse};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::AbortHandle;

use crate::LogError;

/// Requests waiting for their answers on one connection, at most.
pub const MAX_IN_FLIGHT_REQUESTS: usize = 256;

/// How a connection is made and how long its requests may take.
#[derive(Clone, Debug)]
pub struct ConnConfig {
    /// Dialing and the hello exchange, together.
    pub connect_timeout: Duration,
    /// From queuing a request to its answer (including the wait for an in-flight slot).
    pub request_timeout: Duration,
    /// The largest answer body accepted; a frame announcing more breaks the connection before
    /// anything is allocated for it.
    pub max_frame_bytes: u32,
}

impl ConnConfig {
    /// A configuration whose frame cap admits a Fetched answer to a fetch of `max_fetch_bytes`
    /// from brokers with the default batch limit (`wire::fetched_body_bound`), and never less
    /// than the brokers' default frame cap.
    pub fn for_fetch_bytes(max_fetch_bytes: u32) -> ConnConfig {
        let bound = wire::fetched_body_bound(max_fetch_bytes, wire::DEFAULT_MAX_FRAME_BYTES);
        let cap = bound
            .max(u64::from(wire::DEFAULT_MAX_FRAME_BYTES))
            .min(u64::from(u32::MAX));
        ConnConfig {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            max_frame_bytes: cap as u32,
        }
    }
}

impl Default for ConnConfig {
    fn default() -> ConnConfig {
        ConnConfig::for_fetch_bytes(1 << 20)
    }
}

type Answer = Result<BrokerResponse, LogError>;

/// What the reader task and the requests share: who waits for which tag, and whether the
/// connection broke (then with what error).
#[derive(Default)]
struct Waiters {
    by_tag: HashMap<u64, oneshot::Sender<Answer>>,
    broken: Option<LogError>,
}

struct Inner {
    addr: String,
    /// Encoded frames for the writer task; as many as may be in flight.
    frames_tx: mpsc::Sender<Vec<u8>>,
    waiters: Arc<Mutex<Waiters>>,
    slots: Semaphore,
    next_tag: AtomicU64,
    request_timeout: Duration,
    reader: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A connection to one broker; clones share it.
#[derive(Clone)]
pub struct Conn {
    inner: Arc<Inner>,
}

impl Conn {
    /// Dials `addr` and exchanges hellos, within `config.connect_timeout`.
    pub async fn connect(addr: &str, config: &ConnConfig) -> Result<Conn, LogError> {
        let failed = |reason: String| LogError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let stream = tokio::time::timeout(config.connect_timeout, handshake(addr))
            .await
            .map_err(|_| failed(format!("no hello within {:?}", config.connect_timeout)))?
            .map_err(failed)?;
        let (read, write) = stream.into_split();
        let waiters = Arc::new(Mutex::new(Waiters::default()));
        let (frames_tx, frames_rx) = mpsc::channel(MAX_IN_FLIGHT_REQUESTS);
        let cap = config.max_frame_bytes;
        let reader = tokio::spawn(read_answers(read, cap, waiters.clone(), addr.to_string()));
        tokio::spawn(write_frames(
            write,
            frames_rx,
            waiters.clone(),
            addr.to_string(),
        ));
        Ok(Conn {
            inner: Arc::new(Inner {
                addr: addr.to_string(),
                frames_tx,
                waiters,
                slots: Semaphore::new(MAX_IN_FLIGHT_REQUESTS),
                next_tag: AtomicU64::new(1),
                request_timeout: config.request_timeout,
                reader: reader.abort_handle(),
            }),
        })
    }

    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// Whether the connection broke (it then refuses every request).
    pub fn is_broken(&self) -> bool {
        lock(&self.inner.waiters).broken.is_some()
    }

    /// Sends the request `build(tag)` and waits for its answer, within the request timeout.
    pub async fn request(&self, build: impl FnOnce(u64) -> BrokerRequest) -> Answer {
        let inner = &self.inner;
        let timeout = inner.request_timeout;
        let tag = inner.next_tag.fetch_add(1, Ordering::Relaxed);
        let exchange = async {
            let _slot = inner.slots.acquire().await.map_err(|_| self.closed())?;
            let (tx, rx) = oneshot::channel();
            {
                let mut waiters = lock(&inner.waiters);
                if let Some(e) = &waiters.broken {
                    return Err(e.clone());
                }
                waiters.by_tag.insert(tag, tx);
            }
            let _waiting = Waiting {
                waiters: &inner.waiters,
                tag,
            };
            self.queue(&build(tag)).await?;
            rx.await.map_err(|_| self.closed())?
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(LogError::Timeout(timeout)))
    }

    /// Sends a request that is never answered (a produce with acks=0): done once it is queued
    /// for the socket.
    pub async fn send_only(
        &self,
        build: impl FnOnce(u64) -> BrokerRequest,
    ) -> Result<(), LogError> {
        let inner = &self.inner;
        if let Some(e) = &lock(&inner.waiters).broken {
            return Err(e.clone());
        }
        let tag = inner.next_tag.fetch_add(1, Ordering::Relaxed);
        tokio::time::timeout(inner.request_timeout, self.queue(&build(tag)))
            .await
            .map_err(|_| LogError::Timeout(inner.request_timeout))?
    }

    async fn queue(&self, request: &BrokerRequest) -> Result<(), LogError> {
        let mut frame = Vec::new();
        wire::encode_request(&mut frame, request);
        self.inner
            .frames_tx
            .send(frame)
            .await
            .map_err(|_| self.closed())
    }

    /// The error of a connection whose tasks are gone: the one that broke it, if recorded.
    fn closed(&self) -> LogError {
        lock(&self.inner.waiters)
            .broken
            .clone()
            .unwrap_or_else(|| broken(&self.inner.addr, "connection closed".into()))
    }
}

/// Removes a request's waiter when the request ends for any reason (answered, timed out, or
/// its future dropped by the caller), so the map holds only requests still waiting.
struct Waiting<'a> {
    waiters: &'a Mutex<Waiters>,
    tag: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(self.waiters).by_tag.remove(&self.tag);
    }
}

fn lock(waiters: &Mutex<Waiters>) -> std::sync::MutexGuard<'_, Waiters> {
    // A panic while holding the lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    waiters.lock().unwrap_or_else(|p| p.into_inner())
}

fn broken(addr: &str, reason: String) -> LogError {
    LogError::Broken {
        addr: addr.to_string(),
        reason,
    }
}

/// Marks the connection broken and fails every request in flight with that error.
fn fail_all(waiters: &Mutex<Waiters>, error: LogError) {
    let mut waiters = lock(waiters);
    if waiters.broken.is_none() {
        waiters.broken = Some(error.clone());
    }
    for (_, tx) in waiters.by_tag.drain() {
        let _ = tx.send(Err(error.clone()));
    }
}

async fn handshake(addr: &str) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut hello = Vec::new();
    wire::encode_hello(&mut hello, wire::PROTOCOL_VERSION);
    stream.write_all(&hello).await.map_err(|e| e.to_string())?;
    let body = wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES)
        .await
        .map_err(|e| format!("hello: {e}"))?
        .ok_or("closed before its hello")?;
    let version = wire::decode_hello(&body).map_err(|e| format!("hello: {e}"))?;
    if version != wire::PROTOCOL_VERSION {
        return Err(format!(
            "speaks protocol version {version}, not {}",
            wire::PROTOCOL_VERSION
        ));
    }
    Ok(stream)
}

/// Hands each answer to the request waiting for its tag. An answer nobody waits for (its
/// request timed out) is dropped.
async fn read_answers(
    mut read: OwnedReadHalf,
    cap: u32,
    waiters: Arc<Mutex<Waiters>>,
    addr: String,
) {
    let reason = loop {
        let body = match wire::read_frame(&mut read, cap).await {
            Ok(Some(body)) => body,
            Ok(None) => break "closed by the broker".to_string(),
            Err(e) => break e.to_string(),
        };
        let answer = match wire::decode_response(&body) {
            Ok(answer) => answer,
            Err(e) => break format!("undecodable answer: {e}"),
        };
        if let Some(tx) = lock(&waiters).by_tag.remove(&answer.tag()) {
            let _ = tx.send(Ok(answer));
        }
    };
    fail_all(&waiters, broken(&addr, reason));
}

/// Writes queued frames, several per system call when they queue up.
async fn write_frames(
    mut write: OwnedWriteHalf,
    mut frames_rx: mpsc::Receiver<Vec<u8>>,
    waiters: Arc<Mutex<Waiters>>,
    addr: String,
) {
    while let Some(mut out) = frames_rx.recv().await {
        while let Ok(more) = frames_rx.try_recv() {
            out.extend_from_slice(&more);
            if out.len() >= 1 << 20 {
                break;
            }
        }
        if let Err(e) = write.write_all(&out).await {
            fail_all(&waiters, broken(&addr, format!("write: {e}")));
            return;
        }
    }
}

/// Connections by broker address, reused by every request to that broker; a broken one is
/// replaced at the next request. Dialing happens outside the lock, so one unreachable broker
/// does not hold up requests to the others.
pub struct Pool {
    config: ConnConfig,
    conns: Mutex<HashMap<String, Conn>>,
}

impl Pool {
    pub fn new(config: ConnConfig) -> Pool {
        Pool {
            config,
            conns: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &ConnConfig {
        &self.config
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, HashMap<String, Conn>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connection to `addr`, dialing it if there is none or it broke. Two requests that
    /// dial at once may both connect; the first stored is kept and the other dropped.
    pub async fn get(&self, addr: &str) -> Result<Conn, LogError> {
        if let Some(conn) = self.conns().get(addr).filter(|c| !c.is_broken()) {
            return Ok(conn.clone());
        }
        let dialed = Conn::connect(addr, &self.config).await?;
        let mut conns = self.conns();
        match conns.get(addr).filter(|c| !c.is_broken()) {
            Some(conn) => Ok(conn.clone()),
            None => {
                conns.insert(addr.to_string(), dialed.clone());
                Ok(dialed)
            }
        }
    }

    /// Drops the connection to `addr` (after a timeout: the next request dials afresh).
    pub fn forget(&self, addr: &str) {
        self.conns().remove(addr);
    }
}
