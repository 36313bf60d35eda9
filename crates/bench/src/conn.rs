//! One ZooKeeper client session over one TCP connection, with pipelining.
//!
//! [`Conn::call`] may be called from many tasks at once: each call gets the next xid, is queued
//! to a writer task (which batches whatever is queued into one socket write) and waits for its
//! reply. Replies come back in request order, so the reader task matches each one against the
//! oldest pending request and checks that the xids agree. The writer also sends a ping every
//! third of the negotiated session timeout, so idle sessions stay alive. Watch notifications go
//! to an optional channel, stamped with the instant they were read.
//!
//! [`Client`] wraps a [`Conn`] and reconnects (with a new session, to the next server in the
//! list) when the connection is lost, which is what a failover measurement needs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proto::{
    encode_frame, ConnectRequest, ConnectResponse, Decode, FrameDecoder, ReplyHeader, Request,
    RequestPacket, WatcherEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A reply: its header and the undecoded body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The reply header (xid, zxid, error code).
    pub header: ReplyHeader,
    /// The body, empty for error replies.
    pub body: Bytes,
}

/// A watch notification and the instant it was read off the socket.
#[derive(Debug, Clone)]
pub struct Notification {
    /// When the reader task decoded it.
    pub at: Instant,
    /// The event.
    pub event: WatcherEvent,
}

/// The connection is gone (closed by the server, reset, or a protocol error); the request's
/// outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection lost")
    }
}

type Pending = Arc<Mutex<Option<VecDeque<(i32, oneshot::Sender<Reply>)>>>>;

struct Outgoing {
    xid: i32,
    frame: BytesMut,
    reply: oneshot::Sender<Reply>,
}

/// One session on one TCP connection.
pub struct Conn {
    tx: mpsc::UnboundedSender<Outgoing>,
    next_xid: AtomicI32,
    session_id: i64,
    timeout_ms: i32,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Conn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Conn {
    /// Connects to `addr`, opens a new session asking for `timeout_ms`, and starts the reader
    /// and writer tasks. Notifications go to `notify` when given.
    pub async fn connect(
        addr: &str,
        timeout_ms: i32,
        notify: Option<mpsc::UnboundedSender<Notification>>,
    ) -> Result<Conn, String> {
        Self::connect_within(addr, timeout_ms, notify, Duration::from_secs(5)).await
    }

    /// As [`Conn::connect`], giving the handshake up to `handshake_timeout` (a server holding
    /// tens of thousands of connections may take longer than the usual 5 s to answer).
    pub async fn connect_within(
        addr: &str,
        timeout_ms: i32,
        notify: Option<mpsc::UnboundedSender<Notification>>,
        handshake_timeout: Duration,
    ) -> Result<Conn, String> {
        let handshake = async {
            let mut stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("{addr}: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut out = BytesMut::new();
            encode_frame(
                &mut out,
                &ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: 0,
                    timeout: timeout_ms,
                    session_id: 0,
                    passwd: Bytes::from_static(&[0; 16]),
                    read_only: false,
                },
            );
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("{addr}: {e}"))?;
            let mut buf = BytesMut::with_capacity(64 * 1024);
            let frames = FrameDecoder::default();
            let payload = loop {
                if let Some(p) = frames.decode(&mut buf).map_err(|e| e.to_string())? {
                    break p;
                }
                if stream
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| format!("{addr}: {e}"))?
                    == 0
                {
                    return Err(format!("{addr}: closed during the handshake"));
                }
            };
            let resp = ConnectResponse::decode(&mut payload.clone())
                .map_err(|e| format!("{addr}: bad ConnectResponse: {e}"))?;
            if resp.timeout <= 0 || resp.session_id == 0 {
                return Err(format!("{addr}: session refused"));
            }
            Ok::<_, String>((stream, buf, resp))
        };
        let (stream, buf, resp) = tokio::time::timeout(handshake_timeout, handshake)
            .await
            .map_err(|_| format!("{addr}: handshake timed out"))??;
        let (read, write) = stream.into_split();
        let pending: Pending = Arc::new(Mutex::new(Some(VecDeque::new())));
        let (tx, rx) = mpsc::unbounded_channel();
        let ping_every = Duration::from_millis((resp.timeout / 3).max(100) as u64);
        let writer = tokio::spawn(writer(write, rx, pending.clone(), ping_every));
        let reader = tokio::spawn(reader(read, buf, pending, notify));
        Ok(Conn {
            tx,
            next_xid: AtomicI32::new(1),
            session_id: resp.session_id,
            timeout_ms: resp.timeout,
            tasks: [reader, writer],
        })
    }

    /// The session id the server handed out.
    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// The negotiated session timeout in ms.
    pub fn timeout_ms(&self) -> i32 {
        self.timeout_ms
    }

    /// Sends `request` and waits for its reply.
    pub async fn call(&self, request: Request) -> Result<Reply, Closed> {
        let xid = self.next_xid.fetch_add(1, Ordering::Relaxed);
        let mut frame = BytesMut::with_capacity(64);
        encode_frame(&mut frame, &RequestPacket::new(xid, request));
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Outgoing { xid, frame, reply })
            .map_err(|_| Closed)?;
        rx.await.map_err(|_| Closed)
    }

    /// Asks the server to close the session (best effort) and drops the connection.
    pub async fn close(self) {
        let _ =
            tokio::time::timeout(Duration::from_secs(2), self.call(Request::CloseSession)).await;
    }
}

async fn writer(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    pending: Pending,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ping_frame = BytesMut::new();
    encode_frame(
        &mut ping_frame,
        &RequestPacket::new(proto::xid::PING, Request::Ping),
    );
    let mut out = BytesMut::with_capacity(64 * 1024);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(first) = msg else { return };
                let mut next = Some(first);
                {
                    let mut guard = pending.lock().unwrap();
                    let Some(queue) = guard.as_mut() else { return };
                    while let Some(m) = next.take() {
                        queue.push_back((m.xid, m.reply));
                        out.extend_from_slice(&m.frame);
                        if out.len() < 256 * 1024 {
                            next = rx.try_recv().ok();
                        }
                    }
                }
            }
            _ = ping.tick() => out.extend_from_slice(&ping_frame),
        }
        if write.write_all(&out).await.is_err() {
            pending.lock().unwrap().take();
            return;
        }
        out.clear();
    }
}

async fn reader(
    mut read: OwnedReadHalf,
    mut buf: BytesMut,
    pending: Pending,
    notify: Option<mpsc::UnboundedSender<Notification>>,
) {
    let frames = FrameDecoder::default();
    'read: loop {
        loop {
            let payload = match frames.decode(&mut buf) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => break 'read,
            };
            let mut body = payload;
            let Ok(header) = ReplyHeader::decode(&mut body) else {
                break 'read;
            };
            match header.xid {
                proto::xid::NOTIFICATION => {
                    let Ok(event) = WatcherEvent::decode(&mut body) else {
                        break 'read;
                    };
                    if let Some(n) = &notify {
                        let _ = n.send(Notification {
                            at: Instant::now(),
                            event,
                        });
                    }
                }
                proto::xid::PING | proto::xid::AUTH | proto::xid::SET_WATCHES => {}
                xid => {
                    let next = pending.lock().unwrap().as_mut().and_then(|q| q.pop_front());
                    match next {
                        Some((want, tx)) if want == xid => {
                            let _ = tx.send(Reply { header, body });
                        }
                        // A reply out of order or for nothing we sent: the stream cannot be
                        // trusted any more.
                        _ => break 'read,
                    }
                }
            }
        }
        match read.read_buf(&mut buf).await {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    // Dropping the senders fails every waiting call with `Closed`.
    pending.lock().unwrap().take();
}

/// A session that reconnects: on [`Closed`], call [`Client::reconnect`] with the generation
/// the failed call used, and the first caller opens a new session on the next server.
pub struct Client {
    servers: Vec<String>,
    next_server: AtomicUsize,
    timeout_ms: i32,
    notify: Option<mpsc::UnboundedSender<Notification>>,
    current: Mutex<(u64, Arc<Conn>)>,
    reconnecting: tokio::sync::Mutex<()>,
    reconnects: AtomicU64,
}

impl Client {
    /// Connects to `servers[first % len]`.
    pub async fn connect(
        servers: Vec<String>,
        first: usize,
        timeout_ms: i32,
        notify: Option<mpsc::UnboundedSender<Notification>>,
    ) -> Result<Client, String> {
        let idx = first % servers.len();
        let conn = Conn::connect(&servers[idx], timeout_ms, notify.clone()).await?;
        Ok(Client {
            next_server: AtomicUsize::new(idx + 1),
            servers,
            timeout_ms,
            notify,
            current: Mutex::new((0, Arc::new(conn))),
            reconnecting: tokio::sync::Mutex::new(()),
            reconnects: AtomicU64::new(0),
        })
    }

    /// The current connection and its generation.
    pub fn current(&self) -> (u64, Arc<Conn>) {
        let g = self.current.lock().unwrap();
        (g.0, g.1.clone())
    }

    /// Sends on the current connection; the generation is returned either way.
    pub async fn call(&self, request: Request) -> (u64, Result<Reply, Closed>) {
        let (generation, conn) = self.current();
        (generation, conn.call(request).await)
    }

    /// How many times a new session was opened after a lost connection.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Replaces connection `generation` (if nobody did yet) with a new session, trying the
    /// servers in turn until `deadline`.
    pub async fn reconnect(&self, generation: u64, deadline: Instant) -> Result<(), String> {
        let _guard = self.reconnecting.lock().await;
        if self.current().0 != generation {
            return Ok(());
        }
        let mut last = String::new();
        while Instant::now() < deadline {
            let idx = self.next_server.fetch_add(1, Ordering::Relaxed) % self.servers.len();
            match Conn::connect(&self.servers[idx], self.timeout_ms, self.notify.clone()).await {
                Ok(conn) => {
                    *self.current.lock().unwrap() = (generation + 1, Arc::new(conn));
                    self.reconnects.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("could not reconnect: {last}"))
    }

    /// Closes the current session (best effort).
    pub async fn close(&self) {
        let (_, conn) = self.current();
        let _ =
            tokio::time::timeout(Duration::from_secs(2), conn.call(Request::CloseSession)).await;
    }
}
