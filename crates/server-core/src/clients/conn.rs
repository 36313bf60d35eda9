//! One client connection as the core keeps it: its session, its auth, what it is owed, and
//! its budget.

use std::collections::VecDeque;
use std::net::SocketAddr;
use zab::Zxid;

use proto::{Id, RequestPacket};

use super::owed::{Credit, Owed};
use super::ConnId;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Accepted; no ConnectRequest yet.
    Greeting,
    /// ConnectRequest received; its session is being created (or checked).
    Connecting,
    /// The session is established: requests are served.
    Serving,
    /// A close is queued (closeSession, an expired session): later requests are ignored.
    Closing,
}

/// min / avg / max of answered requests, in ms.
#[derive(Clone, Copy, Debug, Default)]
pub struct LatencyStats {
    pub count: u64,
    pub total_ms: u64,
    pub min_ms: u64,
    pub max_ms: u64,
    pub last_ms: u64,
}

impl LatencyStats {
    pub fn record(&mut self, ms: u64) {
        self.min_ms = if self.count == 0 {
            ms
        } else {
            self.min_ms.min(ms)
        };
        self.max_ms = self.max_ms.max(ms);
        self.count += 1;
        self.total_ms += ms;
        self.last_ms = ms;
    }

    pub fn avg_ms(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ms as f64 / self.count as f64
        }
    }
}

/// What the four-letter words show of a connection.
#[derive(Clone, Debug, Default)]
pub struct ConnStats {
    pub received: u64,
    pub sent: u64,
    pub last_op: &'static str,
    pub last_cxid: i64,
    pub latency: LatencyStats,
}

/// A client connection.
#[derive(Debug)]
pub struct Conn {
    pub id: ConnId,
    pub remote: SocketAddr,
    pub stage: Stage,
    pub accepted_us: u64,
    /// 0 until the session is established.
    pub session_id: i64,
    pub timeout_ms: i32,
    /// The ids ACLs are checked against: `ip:…`, plus `digest:…` after auth.
    pub auth: Vec<Id>,
    /// What the connection is owed, in request order.
    pub queue: VecDeque<Owed>,
    /// `queue[..computed]` is computed (answers made, syncs whose zxid is applied): what
    /// follows them may be computed next.
    pub computed: usize,
    /// Requests sent before the session was established, served once it is (ZooKeeper
    /// queues them too).
    pub early: VecDeque<(RequestPacket, Credit)>,
    /// The highest zxid any reply on this connection carried: no later reply carries less.
    pub last_zxid: Zxid,
    pub stats: ConnStats,
    pub(super) budget: Budget,
}

/// A connection's share of the limits: what it has in flight, what it has not had written.
#[derive(Debug, Default)]
pub(super) struct Budget {
    /// Credit of requests received whose answers are not yet written.
    pub in_flight: Credit,
    /// Credit earned back but not yet granted (the server is over its global limit).
    pub owed: Credit,
    /// Bytes handed to the writer, ever.
    pub sent_bytes: u64,
    /// Bytes the writer reported written, ever.
    pub written_bytes: u64,
    /// Credit to give back once `sent_bytes` reaches the first value: one entry per answer.
    pub unwritten: VecDeque<(u64, Credit)>,
    /// Bytes (roughly) of answers and notifications made and waiting their turn.
    pub held_bytes: u64,
}

impl Budget {
    /// Bytes handed to the writer and not yet written.
    pub fn outbound_bytes(&self) -> u64 {
        self.sent_bytes - self.written_bytes
    }
}

impl Conn {
    pub fn new(id: ConnId, remote: SocketAddr, accepted_us: u64) -> Conn {
        Conn {
            id,
            remote,
            stage: Stage::Greeting,
            accepted_us,
            session_id: 0,
            timeout_ms: 0,
            auth: vec![tree::acl::ip_id(remote.ip())],
            queue: VecDeque::new(),
            computed: 0,
            early: VecDeque::new(),
            last_zxid: Zxid::ZERO,
            stats: ConnStats {
                last_op: "NA",
                ..ConnStats::default()
            },
            budget: Budget::default(),
        }
    }

    /// Bytes handed to the writer and not yet written, and of answers made and waiting
    /// their turn.
    pub fn outbound_bytes(&self) -> u64 {
        self.budget.outbound_bytes() + self.budget.held_bytes
    }

    /// Requests received whose answers are not yet written.
    pub fn requests_in_flight(&self) -> u32 {
        self.budget.in_flight.requests
    }

    /// Bytes of those requests.
    pub fn request_bytes_in_flight(&self) -> u32 {
        self.budget.in_flight.bytes
    }
}
