//! What a connection is owed, in request order: ZooKeeper answers every connection's requests
//! in the order they were sent, whatever mix of reads, writes and syncs is in flight, and a
//! read sees the state its place in that order gives it: after the writes and syncs before it,
//! before the writes after it.

use proto::{OpCode, ReplyPacket, RequestPacket};
use zab::Zxid;

/// What a request took from its connection's budget (one request, its frame's bytes); given
/// back once its answer has been written to the socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Credit {
    pub requests: u32,
    pub bytes: u32,
}

impl Credit {
    /// The credit one request frame of `bytes` bytes (length prefix included) takes.
    pub fn request(bytes: u32) -> Credit {
        Credit { requests: 1, bytes }
    }

    pub fn add(&mut self, other: Credit) {
        self.requests += other.requests;
        self.bytes += other.bytes;
    }

    pub fn sub(&mut self, other: Credit) {
        assert!(
            self.requests >= other.requests && self.bytes >= other.bytes,
            "credit {other:?} returned beyond {self:?}"
        );
        self.requests -= other.requests;
        self.bytes -= other.bytes;
    }

    pub fn is_zero(&self) -> bool {
        self.requests == 0 && self.bytes == 0
    }
}

/// One thing a connection is owed, in request order.
#[derive(Debug)]
pub enum Owed {
    /// A write handed to the leader (or proposed here, on the leader); answered when its
    /// transaction, which carries the session and xid, is applied.
    Write {
        xid: i32,
        op: OpCode,
        started_us: u64,
        credit: Credit,
    },
    /// A sync: the leader names the zxid everything proposed before the sync reached (`zxid`,
    /// unknown until then); once that is applied here, what follows the sync can be computed;
    /// the sync's answer (and everything behind it) leaves once the leader also `confirmed`
    /// with a quorum that it still leads.
    Sync {
        token: u64,
        zxid: Option<Zxid>,
        confirmed: bool,
        xid: i32,
        path: String,
        started_us: u64,
        credit: Credit,
    },
    /// A read: answered when it reaches the front, from the tree as it is then.
    Read {
        packet: RequestPacket,
        started_us: u64,
        credit: Credit,
    },
    /// An answer already made (a write applied, a read computed in its turn, an error, a
    /// ping), waiting for its turn to leave.
    Reply {
        reply: ReplyPacket,
        started_us: u64,
        credit: Credit,
    },
    /// A watch notification, in its place among the answers (after those computed before the
    /// change, before those computed after it).
    Notification { notification: ReplyPacket },
    /// Close the connection here, once everything before has been sent.
    Close,
}

impl Owed {
    /// Whether this is the unanswered write with this xid.
    pub fn is_write(&self, wanted: i32) -> bool {
        matches!(self, Owed::Write { xid, .. } if *xid == wanted)
    }
}
