//! A standalone server core driven by hand: the tests play the driver, decide when time
//! passes, which bytes clients read, and feed back the log writer's reports. Everything the
//! core decides for clients comes out as effects the harness collects per connection.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use proto::{
    ConnectRequest, ConnectResponse, Decode, ReplyHeader, Request, RequestPacket, Response,
};
use server::clients::{ClientEffect, ClientEvent, ConnId, Credit};
use server::clock::Now;
use server::config::Config;
use server::core::Core;
use server::core::PeerOutbox;
use server::replica::{FileStorage, ReplicaOptions, StorageEvent as LogEvent};
use server::session::SessionIds;
use server::state::ServerState;

/// What one connection has seen.
#[derive(Default, Debug)]
pub struct Client {
    /// Reply frames (ConnectResponse excluded), as (header, body bytes), in order.
    pub replies: Vec<(ReplyHeader, Bytes)>,
    pub connect_response: Option<ConnectResponse>,
    pub closed: Option<bool>,
    /// Bytes sent to this connection and not yet "read" (reported written).
    pub unread_bytes: u64,
    /// Whether the harness reports writes for this connection (a client that reads).
    pub reads: bool,
    /// Credit granted back so far.
    pub granted: Credit,
    pub sent_bytes: u64,
}

pub struct Harness {
    pub core: Core<FileStorage>,
    log: mpsc::Receiver<LogEvent>,
    pub now: Now,
    pub clients: BTreeMap<ConnId, Client>,
    _dir: tempfile::TempDir,
}

pub const GETDATA_OP: i32 = 4;

impl Harness {
    /// A standalone server with `configure` applied to its configuration.
    pub fn standalone(configure: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::standalone(dir.path().to_path_buf(), 0);
        configure(&mut config);
        let (tx, rx) = mpsc::channel();
        let options = ReplicaOptions {
            activated: zab::Zxid::ZERO,
            zab: zab::Config::new(zab::ServerId(1), vec![zab::ServerId(1)]),
            snap_count: 1_000_000,
            snap_retain: 3,
            log_options: storage::LogOptions::default(),
            nonce: 1,
        };
        let state = ServerState::new(config.limits.clone(), SessionIds::new(1, 1_000));
        let replica = server::replica::open(
            dir.path(),
            dir.path(),
            options,
            state,
            PeerOutbox::default(),
            move |e| {
                let _ = tx.send(e);
            },
        )
        .unwrap();
        let core = Core::new(config, replica).unwrap();
        let mut h = Harness {
            core,
            log: rx,
            now: Now {
                mono_us: 1_000_000,
                wall_ms: 1_700_000_000_000,
            },
            clients: BTreeMap::new(),
            _dir: dir,
        };
        h.collect();
        h
    }

    /// Moves time forward by `ms`.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now.mono_us += ms * 1000;
        self.now.wall_ms += ms as i64;
    }

    /// A client event, then whatever it led to.
    pub fn client(&mut self, event: ClientEvent) {
        self.core.client(event, self.now).unwrap();
        self.collect();
    }

    /// One Zab tick (and the time-driven work).
    pub fn tick(&mut self) {
        self.core.tick(self.now).unwrap();
        self.core.expire(self.now).unwrap();
        self.collect();
    }

    /// Feeds the log writer's reports until everything appended is durable and applied.
    pub fn settle(&mut self) {
        loop {
            let peer = self.core.replica.peer();
            if peer.durable_zxid() >= peer.last_zxid() && peer.delivered_zxid() >= peer.last_zxid()
            {
                return;
            }
            let event = self
                .log
                .recv_timeout(Duration::from_secs(10))
                .expect("a log report");
            self.core.storage_event(event, self.now).unwrap();
            self.collect();
        }
    }

    /// Waits until the log writer reported everything appended durable, then feeds only its
    /// last report: every write in flight is delivered in one step (what a group commit does
    /// under load).
    pub fn settle_in_one_step(&mut self) {
        let last = self.core.replica.peer().last_zxid();
        loop {
            let event = self
                .log
                .recv_timeout(Duration::from_secs(10))
                .expect("a log report");
            if matches!(event, LogEvent::Durable(z) if z >= last) {
                self.core.storage_event(event, self.now).unwrap();
                self.collect();
                return;
            }
        }
    }

    /// Opens a connection from `remote` and sends a ConnectRequest; does not settle.
    pub fn open(&mut self, conn: ConnId, remote: &str, session: i64) {
        let remote: SocketAddr = remote.parse().unwrap();
        self.clients.insert(
            conn,
            Client {
                reads: true,
                ..Client::default()
            },
        );
        self.client(ClientEvent::Accepted { conn, remote });
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 10_000,
            session_id: session,
            passwd: Bytes::copy_from_slice(&server::session::password(session)),
            read_only: false,
        };
        self.client(ClientEvent::Connect { conn, request });
    }

    /// Opens a connection with a new session and waits for it; returns the session id.
    pub fn connect(&mut self, conn: ConnId) -> i64 {
        self.open(conn, &format!("10.0.0.{}:4000", conn % 250 + 1), 0);
        self.settle();
        self.clients[&conn]
            .connect_response
            .as_ref()
            .expect("a ConnectResponse")
            .session_id
    }

    /// Sends a request (without settling).
    pub fn send(&mut self, conn: ConnId, xid: i32, request: Request) {
        let packet = RequestPacket::new(xid, request);
        let mut buf = bytes::BytesMut::new();
        proto::Encode::encode(&packet, &mut buf);
        let bytes = buf.len() as u32 + 4;
        self.client(ClientEvent::Request {
            conn,
            packet,
            bytes,
        });
    }

    /// The xids of the replies a connection got, in order (notifications excluded).
    pub fn reply_xids(&self, conn: ConnId) -> Vec<i32> {
        self.clients[&conn]
            .replies
            .iter()
            .filter(|(h, _)| h.xid != -1)
            .map(|(h, _)| h.xid)
            .collect()
    }

    /// The reply to `xid` on `conn`.
    pub fn reply(&self, conn: ConnId, xid: i32) -> &(ReplyHeader, Bytes) {
        self.clients[&conn]
            .replies
            .iter()
            .find(|(h, _)| h.xid == xid)
            .unwrap_or_else(|| panic!("no reply to xid {xid} on {conn}"))
    }

    /// Takes the core's effects into the clients' views; clients that read report the bytes
    /// written at once.
    pub fn collect(&mut self) {
        loop {
            let mut effects = Vec::new();
            self.core.drain_effects(&mut effects);
            if effects.is_empty() {
                return;
            }
            let mut written = Vec::new();
            for effect in effects {
                self.apply(effect, &mut written);
            }
            for (conn, bytes) in written {
                self.core
                    .client(ClientEvent::Written { conn, bytes }, self.now)
                    .unwrap();
            }
        }
    }

    fn apply(&mut self, effect: ClientEffect, written: &mut Vec<(ConnId, u64)>) {
        match effect {
            ClientEffect::Send { conn, frame } => {
                let client = self.clients.entry(conn).or_default();
                client.sent_bytes += frame.len() as u64;
                record_frame(client, frame.clone());
                if client.reads && client.closed.is_none() {
                    written.push((conn, frame.len() as u64));
                } else {
                    client.unread_bytes += frame.len() as u64;
                }
            }
            ClientEffect::Grant { conn, credit } => {
                self.clients.entry(conn).or_default().granted.add(credit);
            }
            ClientEffect::Close { conn, flush } => {
                self.clients.entry(conn).or_default().closed = Some(flush);
            }
        }
    }

    /// A client that stopped reading starts again: everything unread is reported written.
    pub fn read_all(&mut self, conn: ConnId) {
        let client = self.clients.get_mut(&conn).unwrap();
        client.reads = true;
        let bytes = std::mem::take(&mut client.unread_bytes);
        self.client(ClientEvent::Written { conn, bytes });
    }
}

fn record_frame(client: &mut Client, frame: Bytes) {
    let mut body = frame.slice(4..);
    if client.connect_response.is_none() && client.replies.is_empty() {
        if let Ok(response) = ConnectResponse::decode(&mut body.clone()) {
            client.connect_response = Some(response);
            return;
        }
    }
    let header = ReplyHeader::decode(&mut body).expect("a reply header");
    let rest = body.copy_to_bytes(body.remaining());
    client.replies.push((header, rest));
}

/// The body of a reply to a request with opcode `op`.
pub fn body(op: proto::OpCode, reply: &(ReplyHeader, Bytes)) -> Response {
    Response::decode_body(op, reply.0.err, &mut reply.1.clone()).unwrap()
}
