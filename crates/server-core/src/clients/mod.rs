//! The client connections as the core keeps them: who is connected, their sessions, what each
//! is owed in order, and how much of the server each may hold (see [`crate::limits`]).
//!
//! No sockets live here. What the core decides for a connection leaves as a
//! [`ClientEffect`] (bytes to write, credit to grant, a close) that the driver carries out, and
//! what happens on a socket comes back as a [`ClientEvent`]. The server on tokio and the
//! simulator drive the same table.

mod budget;
pub use budget::reply_size;
pub mod conn;
pub mod owed;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use proto::{ConnectRequest, PacketError, RequestPacket};

pub use conn::{Conn, ConnStats, LatencyStats, Stage};
pub use owed::{Credit, Owed};

use crate::limits::Limits;
use crate::stats::Stats;

/// A connection, as the server numbers them.
pub type ConnId = u64;

/// What happened on a client connection.
#[derive(Debug)]
pub enum ClientEvent {
    /// A connection was accepted.
    Accepted { conn: ConnId, remote: SocketAddr },
    /// Its first frame, the ConnectRequest (takes no credit).
    Connect {
        conn: ConnId,
        request: ConnectRequest,
    },
    /// A request; `bytes` is its frame's length with the prefix (the credit it took).
    Request {
        conn: ConnId,
        packet: RequestPacket,
        bytes: u32,
    },
    /// A request whose header decoded but whose body did not: answered with an error.
    BadRequest {
        conn: ConnId,
        error: PacketError,
        bytes: u32,
    },
    /// The writer wrote this many more bytes to the socket.
    Written { conn: ConnId, bytes: u64 },
    /// The connection is gone (the session lives on until it expires).
    Closed { conn: ConnId },
}

/// What the core wants done on a client connection, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEffect {
    /// Write these bytes (one or more frames, length prefixes included).
    Send { conn: ConnId, frame: Bytes },
    /// The reader may take this much more: the answers that used it have been written.
    Grant { conn: ConnId, credit: Credit },
    /// Close the connection: after writing what was sent (`flush`), or at once.
    Close { conn: ConnId, flush: bool },
}

/// The connection table.
#[derive(Debug)]
pub struct Clients {
    conns: BTreeMap<ConnId, Conn>,
    per_ip: BTreeMap<IpAddr, usize>,
    limits: Limits,
    /// Unwritten bytes over all connections.
    outbound_bytes_total: u64,
    /// Requests in flight over all connections.
    requests_in_flight_total: u64,
    /// Connections with credit held back by a global limit.
    holding: BTreeSet<ConnId>,
    /// Set by the core while a leader has too many proposals uncommitted: credit is held
    /// back from every connection until it clears.
    pub backpressure: bool,
    /// A deliberately broken variant (tests of the simulator's checkers only).
    pub bugs: crate::bugs::Bugs,
    effects: Vec<ClientEffect>,
    /// Connections closed since the owner last asked (their watches must go).
    removed: Vec<ConnId>,
    pub stats: Stats,
}

impl Clients {
    pub fn new(limits: Limits) -> Clients {
        Clients {
            conns: BTreeMap::new(),
            per_ip: BTreeMap::new(),
            limits,
            outbound_bytes_total: 0,
            requests_in_flight_total: 0,
            holding: BTreeSet::new(),
            backpressure: false,
            bugs: Default::default(),
            effects: Vec::new(),
            removed: Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn get(&self, conn: ConnId) -> Option<&Conn> {
        self.conns.get(&conn)
    }

    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(&conn)
    }

    /// Every connection, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        self.conns.values_mut()
    }

    pub fn ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Unwritten bytes over all connections.
    pub fn outbound_bytes_total(&self) -> u64 {
        self.outbound_bytes_total
    }

    /// Requests in flight over all connections.
    pub fn requests_in_flight_total(&self) -> u64 {
        self.requests_in_flight_total
    }

    /// A new connection: admitted, or closed at once when its address already has
    /// `max_connections_per_ip` or the server `max_connections` (ZooKeeper closes them too).
    pub fn accept(&mut self, conn: ConnId, remote: SocketAddr, now_us: u64) -> bool {
        let ip = remote.ip();
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        let per_ip = self.limits.max_connections_per_ip;
        if (per_ip != 0 && from_ip >= per_ip) || self.conns.len() >= self.limits.max_connections {
            tracing::warn!(%remote, from_ip, total = self.conns.len(), "too many connections: refused");
            self.effects
                .push(ClientEffect::Close { conn, flush: false });
            return false;
        }
        assert!(
            !self.conns.contains_key(&conn),
            "connection {conn} accepted twice"
        );
        self.conns.insert(conn, Conn::new(conn, remote, now_us));
        *self.per_ip.entry(ip).or_default() += 1;
        true
    }

    /// Closes, flushing what was sent, every connection of `session` but `keep`: a session
    /// lives on one connection at a time, so resuming it elsewhere ends the old one.
    pub fn close_other_connections(&mut self, session: i64, keep: ConnId) {
        let others: Vec<ConnId> = self
            .iter()
            .filter(|c| c.session_id == session && c.id != keep)
            .map(|c| c.id)
            .collect();
        for other in others {
            tracing::debug!(
                conn = other,
                session = format!("0x{session:x}"),
                "session resumed on another connection: closing the old one"
            );
            self.close(other, true);
        }
    }

    /// Removes a connection now; the driver closes it (writing what was sent first if
    /// `flush`). What it was owed is dropped.
    pub fn close(&mut self, conn: ConnId, flush: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let ip = c.remote.ip();
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        self.outbound_bytes_total -= c.outbound_bytes();
        self.requests_in_flight_total -= u64::from(c.budget.in_flight.requests);
        self.holding.remove(&conn);
        self.removed.push(conn);
        self.effects.push(ClientEffect::Close { conn, flush });
    }

    /// Queues a close behind everything the connection is owed; later requests are ignored.
    pub fn close_in_order(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Owed::Close);
            c.stage = Stage::Closing;
        }
    }

    /// The effects decided since the last call, in order.
    pub fn drain_effects(&mut self, into: &mut Vec<ClientEffect>) {
        into.append(&mut self.effects);
    }

    /// Connections closed since the last call.
    pub fn take_removed(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.removed)
    }

    /// Raw bytes to a connection outside the answer order (the ConnectResponse, which precedes
    /// everything), counted against its outbound bytes.
    pub fn send_frame(&mut self, conn: ConnId, frame: Bytes) {
        if self.conns.contains_key(&conn) {
            self.push_send(conn, frame, Credit::default());
        }
    }
}
