//! One accepted connection: the hello, then a reader that hands request bodies on and a
//! writer that drains the connection's replies, until either side ends or it is killed.
//!
//! Three bounds keep a connection from costing more than its share: the reader takes a slot of
//! [`ConnLimits::inflight_requests`] before reading each request (given back when its reply is
//! queued with [`ConnHandle::send`]); it stops reading while more than half of
//! [`ConnLimits::outbound_bytes`] of replies wait to be written (a client that does not read
//! gets no more work done); and a reply that would pass that budget kills the connection. The
//! hello must come within [`ConnLimits::hello_timeout`] and fit in [`crate::MAX_HELLO_BYTES`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, Semaphore};

use crate::{decode_hello, encode_hello, read_frame, Protocol, MAX_HELLO_BYTES};

/// The bounds of one connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// How long the peer may take to send its hello (and to take ours).
    pub hello_timeout: Duration,
    /// Largest frame body after the hello.
    pub max_frame_bytes: u32,
    /// Requests read and not yet answered; the connection is not read further until one is.
    pub inflight_requests: usize,
    /// Reply bytes queued and not yet written: reading pauses at half of it, and a reply that
    /// would pass it closes the connection.
    pub outbound_bytes: usize,
}

/// A server-wide count of reply bytes queued and not yet written (a server's stats), told of
/// every reply queued, every batch written, and what a closing connection still held.
pub trait OutBytesGauge: Send + Sync + std::fmt::Debug {
    fn add(&self, n: usize);
    fn sub(&self, n: usize);
}

/// What the connection and whoever answers on it share.
#[derive(Debug)]
struct Shared {
    /// Reply bytes queued and not yet written.
    out_bytes: AtomicUsize,
    /// Signalled when the writer has written some replies.
    drained: Notify,
    /// Slots for requests in flight; the reader takes one per request, a reply returns it.
    inflight: Semaphore,
    /// Signalled to close the connection at once.
    kill: Notify,
    budget_bytes: usize,
    gauge: Option<Arc<dyn OutBytesGauge>>,
}

/// Why a reply was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The reply would have passed the outbound budget (`queued` bytes were waiting): the
    /// connection is being killed.
    OverBudget { queued: usize },
    /// The connection is gone.
    Closed,
}

/// A handle to answer on a connection (cloned to whoever answers).
#[derive(Clone, Debug)]
pub struct ConnHandle {
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
}

impl ConnHandle {
    /// Queues `frame` (a whole frame, length included) and gives its request's slot back. A
    /// reply that would put the connection over its outbound budget kills it instead.
    pub fn send(&self, frame: Vec<u8>) -> Result<(), SendError> {
        let (len, budget) = (frame.len(), self.shared.budget_bytes);
        self.shared
            .out_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q + len <= budget).then_some(q + len)
            })
            .map_err(|queued| {
                self.shared.kill.notify_one();
                SendError::OverBudget { queued }
            })?;
        if let Some(gauge) = &self.shared.gauge {
            gauge.add(len);
        }
        self.out.send(frame).map_err(|_| SendError::Closed)?;
        self.shared.inflight.add_permits(1);
        Ok(())
    }
}

/// A connection past its hello, to be [run](Conn::run).
pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    peer: Option<SocketAddr>,
    limits: ConnLimits,
    shared: Arc<Shared>,
    out_rx: mpsc::UnboundedReceiver<Vec<u8>>,
}

/// Exchanges hellos on an accepted connection. `None` (logged) when the peer sent no valid
/// hello in time or speaks another version; otherwise the connection and the handle to answer
/// on it, with `gauge` told of its reply bytes.
pub async fn handshake(
    stream: TcpStream,
    protocol: Protocol,
    limits: ConnLimits,
    gauge: Option<Arc<dyn OutBytesGauge>>,
) -> Option<(Conn, ConnHandle)> {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let (mut rd, mut wr) = stream.into_split();
    if let Err(why) = hello(&mut rd, &mut wr, protocol, limits.hello_timeout).await {
        tracing::debug!(?peer, %why, "connection closed before or at its hello");
        return None;
    }
    let shared = Arc::new(Shared {
        out_bytes: AtomicUsize::new(0),
        drained: Notify::new(),
        inflight: Semaphore::new(limits.inflight_requests),
        kill: Notify::new(),
        budget_bytes: limits.outbound_bytes,
        gauge,
    });
    let (out, out_rx) = mpsc::unbounded_channel();
    let handle = ConnHandle {
        out,
        shared: shared.clone(),
    };
    let conn = Conn {
        rd,
        wr,
        peer,
        limits,
        shared,
        out_rx,
    };
    Some((conn, handle))
}

/// Reads the peer's hello and answers with ours. A peer speaking another version gets ours
/// and is closed, so it can tell why.
async fn hello(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    protocol: Protocol,
    timeout: Duration,
) -> Result<(), String> {
    let body = tokio::time::timeout(timeout, read_frame(rd, MAX_HELLO_BYTES))
        .await
        .map_err(|_| "no hello in time".to_string())?
        .map_err(|e| format!("reading the hello: {e}"))?
        .ok_or("closed before its hello")?;
    let version = decode_hello(&body, protocol.magic).map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    encode_hello(&mut reply, protocol.magic, protocol.version);
    tokio::time::timeout(timeout, wr.write_all(&reply))
        .await
        .map_err(|_| "hello reply not taken in time".to_string())?
        .map_err(|e| format!("writing the hello: {e}"))?;
    if version != protocol.version {
        return Err(format!("peer speaks protocol version {version}"));
    }
    Ok(())
}

impl Conn {
    /// Serves the connection until the peer has finished and had every answer it is owed, the
    /// reader or writer fails, `request` refuses a body (its error closes the connection), the
    /// answering side drops every handle, or a reply passes the budget. `request` decodes a
    /// body and hands it on. `id` names the connection in logs.
    pub async fn run<F, Fut>(self, id: u64, request: F)
    where
        F: FnMut(Vec<u8>) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let Conn {
            rd,
            wr,
            peer,
            limits,
            shared,
            out_rx,
        } = self;
        let outcome = tokio::select! {
            r = read_loop(rd, &limits, &shared, request) => r,
            r = write_loop(wr, out_rx, &shared) => r,
            _ = shared.kill.notified() => Err("over its outbound budget".into()),
        };
        if let Err(why) = outcome {
            tracing::debug!(?peer, conn = id, %why, "connection closed");
        }
        let left = shared.out_bytes.swap(0, Ordering::AcqRel);
        if let Some(gauge) = &shared.gauge {
            gauge.sub(left);
        }
    }
}

async fn read_loop<F, Fut>(
    mut rd: OwnedReadHalf,
    limits: &ConnLimits,
    shared: &Shared,
    mut request: F,
) -> Result<(), String>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let pause_at = limits.outbound_bytes / 2;
    loop {
        wait_for_drain(shared, pause_at).await;
        shared
            .inflight
            .acquire()
            .await
            .map_err(|_| "closed")?
            .forget();
        let body = match read_frame(&mut rd, limits.max_frame_bytes).await {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(e) => return Err(format!("reading a request: {e}")),
        };
        request(body).await?;
    }
    // The peer finished sending: deliver every answer still owed, then close. The slot taken
    // before the end of stream was never used, so all slots back means all answered.
    let all = limits.inflight_requests as u32;
    shared.inflight.add_permits(1);
    let _ = shared
        .inflight
        .acquire_many(all)
        .await
        .map_err(|_| "closed")?;
    wait_for_drain(shared, 1).await;
    Ok(())
}

/// Returns once fewer than `below` reply bytes are queued.
async fn wait_for_drain(shared: &Shared, below: usize) {
    loop {
        let drained = shared.drained.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        if shared.out_bytes.load(Ordering::Acquire) < below {
            return;
        }
        drained.await;
    }
}

/// Writes replies as they come, batching whatever is queued into one flush.
async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: &Shared,
) -> Result<(), String> {
    let mut wr = BufWriter::with_capacity(64 << 10, wr);
    let io = |e: std::io::Error| format!("writing replies: {e}");
    while let Some(frame) = rx.recv().await {
        let mut written = frame.len();
        wr.write_all(&frame).await.map_err(io)?;
        while let Ok(frame) = rx.try_recv() {
            written += frame.len();
            wr.write_all(&frame).await.map_err(io)?;
        }
        wr.flush().await.map_err(io)?;
        shared.out_bytes.fetch_sub(written, Ordering::AcqRel);
        if let Some(gauge) = &shared.gauge {
            gauge.sub(written);
        }
        shared.drained.notify_waiters();
    }
    Err("the core dropped the connection".into())
}
