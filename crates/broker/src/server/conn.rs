//! One accepted connection (a client or another broker): the hello, then a reader that hands
//! requests to the core and a writer that drains the connection's answers.
//!
//! Three bounds keep a connection from costing more than its share: the reader takes a slot of
//! `connection_inflight_requests` before reading each request (given back with its answer); it
//! stops reading while more than half of `connection_outbound_bytes` of answers wait to be
//! written (a client that does not read gets no more work done); and an answer that would pass
//! that budget closes the connection. The hello must come within `hello_timeout` and fit in
//! `wire::MAX_HELLO_BYTES`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, Semaphore};

use super::config::Limits;
use super::core::{ConnId, CoreMsg};
use crate::wire::{self, BrokerResponse};

/// What the connection, the core and the disk threads share.
#[derive(Debug)]
pub struct Shared {
    out_bytes: AtomicUsize,
    drained: Notify,
    inflight: Semaphore,
    kill: Notify,
    budget_bytes: usize,
}

/// A handle to answer on a connection (cloned to whoever answers: the core, a disk thread, the
/// controller).
#[derive(Clone, Debug)]
pub struct ConnHandle {
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
}

impl ConnHandle {
    /// Queues `response` and gives its request's slot back. A connection over its outbound
    /// budget is closed instead.
    pub fn answer(&self, response: &BrokerResponse) {
        let mut frame = Vec::new();
        wire::encode_response(&mut frame, response);
        let len = frame.len();
        let queued = self.shared.out_bytes.fetch_add(len, Ordering::AcqRel) + len;
        if queued > self.shared.budget_bytes {
            self.shared.kill.notify_one();
            return;
        }
        if self.out.send(frame).is_ok() {
            self.shared.inflight.add_permits(1);
        }
    }
}

/// Serves one accepted connection until it ends.
pub async fn serve(stream: TcpStream, id: ConnId, core: mpsc::Sender<CoreMsg>, limits: Limits) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok();
    let (mut rd, mut wr) = stream.into_split();
    if let Err(why) = hello(&mut rd, &mut wr, &limits).await {
        tracing::debug!(?peer, %why, "connection closed before or at its hello");
        return;
    }
    let shared = Arc::new(Shared {
        out_bytes: AtomicUsize::new(0),
        drained: Notify::new(),
        inflight: Semaphore::new(limits.connection_inflight_requests),
        kill: Notify::new(),
        budget_bytes: limits.connection_outbound_bytes,
    });
    let (out, out_rx) = mpsc::unbounded_channel();
    let handle = ConnHandle {
        out,
        shared: shared.clone(),
    };
    if core.send(CoreMsg::Open { id, handle }).await.is_err() {
        return;
    }
    let outcome = tokio::select! {
        r = read_loop(rd, id, &core, &limits, &shared) => r,
        r = write_loop(wr, out_rx, &shared) => r,
        _ = shared.kill.notified() => Err("over its outbound budget".into()),
    };
    if let Err(why) = outcome {
        tracing::debug!(?peer, conn = id, %why, "connection closed");
    }
    let _ = core.send(CoreMsg::Closed { id }).await;
}

/// Reads the peer's hello and answers with ours; a peer speaking another version gets ours
/// and is closed, so it can tell why.
async fn hello(
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
    limits: &Limits,
) -> Result<(), String> {
    let body = tokio::time::timeout(
        limits.hello_timeout,
        wire::read_frame(rd, wire::MAX_HELLO_BYTES),
    )
    .await
    .map_err(|_| "no hello in time".to_string())?
    .map_err(|e| format!("reading the hello: {e}"))?
    .ok_or("closed before its hello")?;
    let version = wire::decode_hello(&body).map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    wire::encode_hello(&mut reply, wire::PROTOCOL_VERSION);
    tokio::time::timeout(limits.hello_timeout, wr.write_all(&reply))
        .await
        .map_err(|_| "hello reply not taken in time".to_string())?
        .map_err(|e| format!("writing the hello: {e}"))?;
    if version != wire::PROTOCOL_VERSION {
        return Err(format!("peer speaks protocol version {version}"));
    }
    Ok(())
}

async fn read_loop(
    mut rd: OwnedReadHalf,
    id: ConnId,
    core: &mpsc::Sender<CoreMsg>,
    limits: &Limits,
    shared: &Shared,
) -> Result<(), String> {
    let pause_at = limits.connection_outbound_bytes / 2;
    loop {
        wait_for_drain(shared, pause_at).await;
        shared
            .inflight
            .acquire()
            .await
            .map_err(|_| "closed")?
            .forget();
        let body = match wire::read_frame(&mut rd, limits.max_frame_bytes).await {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(e) => return Err(format!("reading a request: {e}")),
        };
        let request = wire::decode_request(&body).map_err(|e| format!("bad request: {e}"))?;
        core.send(CoreMsg::Request { id, request })
            .await
            .map_err(|_| "the core stopped")?;
    }
    // The peer finished sending: deliver every answer still owed, then close. The slot taken
    // before the end of stream was never used, so all slots back means all answered.
    let all = limits.connection_inflight_requests as u32;
    shared.inflight.add_permits(1);
    let _ = shared
        .inflight
        .acquire_many(all)
        .await
        .map_err(|_| "closed")?;
    wait_for_drain(shared, 1).await;
    Ok(())
}

/// Returns once fewer than `below` answer bytes are queued.
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

async fn write_loop(
    wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: &Shared,
) -> Result<(), String> {
    let mut wr = BufWriter::with_capacity(64 << 10, wr);
    let io = |e: std::io::Error| format!("writing answers: {e}");
    while let Some(frame) = rx.recv().await {
        let mut written = frame.len();
        wr.write_all(&frame).await.map_err(io)?;
        while let Ok(frame) = rx.try_recv() {
            written += frame.len();
            wr.write_all(&frame).await.map_err(io)?;
        }
        wr.flush().await.map_err(io)?;
        shared.out_bytes.fetch_sub(written, Ordering::AcqRel);
        shared.drained.notify_waiters();
    }
    Err("the core dropped the connection".into())
}
