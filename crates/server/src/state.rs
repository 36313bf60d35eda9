//! The server's replicated state machine and its client-facing bookkeeping: the data tree,
//! the connections, their in-order answer queues, and watches.
//!
//! Everything here runs on the core task, one event at a time, so ordering is the order of
//! events: a watch notification is queued on a connection before any answer to a later
//! request, and answers leave each connection in request order.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proto::{
    Create2Response, CreateResponse, Encode, ErrorCode, EventType, Id, KeeperState, OpCode,
    ReplyPacket, RequestPacket, Response, WatcherEvent,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tree::{DataTree, Outcome, Outstanding, TxnRecord};
use zab::{Snapshot, Txn, Zxid};

use crate::events::Outgoing;
use crate::replica::Application;
use crate::stats::Stats;
use crate::watches::{ConnId, Watches};

/// Something a connection is owed, in request order.
pub enum Queued {
    /// A write proposed at this zxid; answered when it is applied.
    Write {
        zxid: i64,
        xid: i32,
        op: OpCode,
        started: Instant,
        permit: OwnedSemaphorePermit,
    },
    /// A sync: answered once everything proposed before it is applied.
    Sync {
        zxid: i64,
        xid: i32,
        path: String,
        started: Instant,
        permit: OwnedSemaphorePermit,
    },
    /// A read behind an unanswered write: answered when it reaches the front.
    Read {
        packet: RequestPacket,
        started: Instant,
        permit: OwnedSemaphorePermit,
    },
    /// An answer already made (errors, pings), waiting for its turn.
    Reply {
        reply: ReplyPacket,
        started: Instant,
        permit: Option<OwnedSemaphorePermit>,
    },
}

/// A client connection.
pub struct Conn {
    pub id: ConnId,
    pub remote: SocketAddr,
    pub out: mpsc::UnboundedSender<Outgoing>,
    /// 0 until the session is established.
    pub session_id: i64,
    pub timeout_ms: i32,
    /// The ids ACLs are checked against: `ip:…`, plus `digest:…` after auth.
    pub auth: Vec<Id>,
    pub queue: VecDeque<Queued>,
    pub received: u64,
    pub sent: u64,
    pub last_op: &'static str,
    pub last_cxid: i64,
    pub last_zxid: i64,
    pub latency: LatencyStats,
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

/// A handshake waiting for its createSession txn to commit.
pub struct PendingConnect {
    pub conn: ConnId,
    pub timeout_ms: i32,
}

/// The state machine the replica drives, plus what the server needs to answer clients.
pub struct ServerState {
    pub tree: DataTree,
    pub outstanding: Outstanding,
    pub watches: Watches,
    pub conns: HashMap<ConnId, Conn>,
    /// Which local connection a write belongs to, by zxid.
    pub pending_writes: HashMap<i64, ConnId>,
    /// New sessions waiting for their createSession to commit, by session id.
    pub pending_connects: HashMap<i64, PendingConnect>,
    /// Sessions whose closeSession was proposed.
    pub closing: std::collections::HashSet<i64>,
    pub stats: Stats,
}

impl ServerState {
    pub fn new() -> ServerState {
        ServerState {
            tree: DataTree::new(),
            outstanding: Outstanding::new(),
            watches: Watches::default(),
            conns: HashMap::new(),
            pending_writes: HashMap::new(),
            pending_connects: HashMap::new(),
            closing: Default::default(),
            stats: Stats::default(),
        }
    }

    /// The zxid put in reply headers: the last applied.
    pub fn last_zxid(&self) -> i64 {
        self.tree.last_zxid()
    }

    /// Sends a reply on a connection now (callers keep the order).
    pub fn send_reply(&mut self, conn: ConnId, reply: &ReplyPacket, started: Option<Instant>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut buf = BytesMut::with_capacity(64);
        proto::write_frame(&mut buf, |b| reply.encode(b));
        let _ = c.out.send(Outgoing::Frame(buf.freeze()));
        c.sent += 1;
        c.last_zxid = reply.header.zxid;
        self.stats.packets_sent += 1;
        if let Some(started) = started {
            let ms = started.elapsed().as_millis() as u64;
            c.latency.record(ms);
            self.stats.latency.record(ms);
        }
    }

    /// Sends raw, already framed bytes (the ConnectResponse).
    pub fn send_frame(&mut self, conn: ConnId, frame: Bytes) {
        if let Some(c) = self.conns.get_mut(&conn) {
            let _ = c.out.send(Outgoing::Frame(frame));
        }
    }

    pub fn close_connection(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.out.send(Outgoing::Close);
        }
    }

    /// Queues an item on a connection, answering at once what can be answered.
    pub fn enqueue(&mut self, conn: ConnId, item: Queued) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.queue.push_back(item);
        self.drain(conn);
    }

    /// Answers, in order, everything at the front of a connection's queue that can be
    /// answered now; stops at the first write or sync still in flight.
    pub fn drain(&mut self, conn: ConnId) {
        let applied = self.last_zxid();
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let ready = match c.queue.front() {
                None => return,
                Some(Queued::Write { .. }) => false,
                Some(Queued::Sync { zxid, .. }) => *zxid <= applied,
                Some(Queued::Read { .. }) | Some(Queued::Reply { .. }) => true,
            };
            if !ready {
                return;
            }
            match c.queue.pop_front().expect("front exists") {
                Queued::Sync {
                    xid,
                    path,
                    started,
                    permit,
                    ..
                } => {
                    let reply =
                        ReplyPacket::ok(xid, applied, Response::Sync(proto::SyncResponse { path }));
                    self.send_reply(conn, &reply, Some(started));
                    drop(permit);
                }
                Queued::Read {
                    packet,
                    started,
                    permit,
                } => {
                    let reply = crate::reads::answer(self, conn, &packet);
                    self.send_reply(conn, &reply, Some(started));
                    drop(permit);
                }
                Queued::Reply {
                    reply,
                    started,
                    permit,
                } => {
                    self.send_reply(conn, &reply, Some(started));
                    drop(permit);
                }
                Queued::Write { .. } => unreachable!("checked above"),
            }
        }
    }

    /// Fires the watches of one change, on every connection that holds a matching watch.
    fn fire(&mut self, path: &str, event: EventType, zxid: i64) {
        let watchers = self.watches.trigger(path, event);
        if watchers.is_empty() {
            return;
        }
        let notification = ReplyPacket::notification(
            zxid,
            WatcherEvent {
                event_type: event,
                state: KeeperState::SyncConnected,
                path: path.to_string(),
            },
        );
        for conn in watchers {
            self.send_reply(conn, &notification, None);
        }
    }

    /// The answer to an applied write, shaped for the request's opcode.
    fn write_reply(xid: i32, zxid: i64, op: OpCode, outcome: &Outcome) -> ReplyPacket {
        let response = match outcome {
            Outcome::Error(code) => return ReplyPacket::error(xid, zxid, *code),
            Outcome::Created { path, stat } => match op {
                OpCode::Create => Response::Create(CreateResponse { path: path.clone() }),
                _ => Response::Create2(Create2Response {
                    path: path.clone(),
                    stat: *stat,
                }),
            },
            Outcome::DataSet { stat } | Outcome::AclSet { stat } => Response::Stat(*stat),
            Outcome::Multi(results) => Response::Multi(results.clone()),
            Outcome::Deleted
            | Outcome::Checked
            | Outcome::SessionCreated
            | Outcome::SessionClosed => Response::Empty,
        };
        ReplyPacket::ok(xid, zxid, response)
    }
}

impl Default for ServerState {
    fn default() -> Self {
        ServerState::new()
    }
}

impl Application for ServerState {
    fn deliver(&mut self, txn: &Txn) {
        let record = match TxnRecord::decode(&txn.data) {
            Ok(record) => record,
            // Every replica decodes the same bytes the same way; a txn no replica can read is a
            // bug that must stop the server rather than let replicas drift.
            Err(e) => panic!("transaction {} does not decode: {e}", txn.zxid),
        };
        assert_eq!(
            record.header.zxid,
            txn.zxid.as_u64() as i64,
            "txn header and zxid differ"
        );
        let result = self.tree.apply(&record);
        self.outstanding.applied(record.header.zxid);
        let zxid = record.header.zxid;
        for trigger in &result.triggers {
            self.fire(&trigger.path, trigger.event, zxid);
        }
        match &result.outcome {
            Outcome::SessionCreated => {
                let session = record.header.session_id;
                if let Some(pending) = self.pending_connects.remove(&session) {
                    crate::handshake::finish(self, pending.conn, session, pending.timeout_ms);
                }
            }
            Outcome::SessionClosed => {
                let session = record.header.session_id;
                self.closing.remove(&session);
                // Any connection still holding the expired session is told so and closed, once
                // the answer to its closeSession (if it asked) has left.
                let holders: Vec<ConnId> = self
                    .conns
                    .values()
                    .filter(|c| c.session_id == session)
                    .map(|c| c.id)
                    .collect();
                if let Some(conn) = self.pending_writes.remove(&zxid) {
                    self.answer_write(conn, zxid, &result.outcome);
                }
                for conn in holders {
                    self.close_connection(conn);
                }
                return;
            }
            _ => {}
        }
        if let Some(conn) = self.pending_writes.remove(&zxid) {
            self.answer_write(conn, zxid, &result.outcome);
        }
    }

    fn snapshot(&self) -> Snapshot {
        let mut data = Vec::new();
        self.tree
            .snapshot_to(&mut data)
            .expect("writing to memory cannot fail");
        Snapshot {
            zxid: Zxid::from_u64(self.tree.last_zxid() as u64),
            data: Bytes::from(data),
        }
    }

    fn install(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        let tree = DataTree::restore_from(&mut &snapshot.data[..]).map_err(|e| e.to_string())?;
        self.tree = tree;
        self.outstanding.clear();
        Ok(())
    }
}

impl ServerState {
    fn answer_write(&mut self, conn: ConnId, zxid: i64, outcome: &Outcome) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(Queued::Write {
            zxid: front,
            xid,
            op,
            started,
            permit,
        }) = c.queue.pop_front()
        else {
            panic!("connection {conn}: write {zxid:#x} applied but it is not first in line");
        };
        assert_eq!(
            front, zxid,
            "connection {conn}: writes applied out of order"
        );
        let reply = Self::write_reply(xid, zxid, op, outcome);
        self.send_reply(conn, &reply, Some(started));
        drop(permit);
        if op == OpCode::CloseSession {
            self.close_connection(conn);
        }
        self.drain(conn);
    }
}

/// The error code an unusable session gets.
pub fn session_error(state: &ServerState, session_id: i64) -> Option<ErrorCode> {
    if session_id == 0
        || state.closing.contains(&session_id)
        || !state.tree.sessions().contains(session_id)
    {
        Some(ErrorCode::SessionExpired)
    } else {
        None
    }
}
