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
    perms, Create2Response, CreateResponse, Encode, ErrorCode, EventType, Id, KeeperState, OpCode,
    ReplyPacket, RequestPacket, Response, WatcherEvent,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tree::acl::check_acl;
use tree::{DataTree, Outcome, Outstanding, TxnRecord};
use zab::{Snapshot, Txn, Zxid};

use crate::events::Outgoing;
use crate::replica::Application;
use crate::stats::Stats;
use crate::watches::{ConnId, Watches};

/// Something a connection is owed, in request order.
pub enum Queued {
    /// A write, handed to the leader (or proposed here, on the leader); answered when its
    /// transaction, which carries the session and xid, is applied.
    Write {
        xid: i32,
        op: OpCode,
        started: Instant,
        permit: OwnedSemaphorePermit,
    },
    /// A sync: answered once the leader confirmed its leadership and named the zxid everything
    /// proposed before the sync reached (`zxid`, unknown until then), and that is applied here.
    Sync {
        token: u64,
        zxid: Option<i64>,
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
    /// Which local connection a write belongs to, by (session, xid): the transaction header
    /// carries both, wherever the write was prepped.
    pub pending_writes: HashMap<(i64, i32), ConnId>,
    /// New sessions waiting for their createSession to commit, by session id.
    pub pending_connects: HashMap<i64, PendingConnect>,
    /// Sessions whose closeSession was proposed.
    pub closing: std::collections::HashSet<i64>,
    pub stats: Stats,
    /// The highest leadership-confirmation round a quorum answered (syncs wait for it).
    pub confirmed_round: u64,
    /// Connections whose first unanswered item is a sync waiting for a zxid to be applied.
    pub syncs_waiting: std::collections::HashSet<ConnId>,
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
            confirmed_round: 0,
            syncs_waiting: Default::default(),
        }
    }

    /// The zxid put in reply headers: the last applied.
    pub fn last_zxid(&self) -> i64 {
        self.tree.last_zxid()
    }

    /// Sends a reply on a connection now (callers keep the order).
    pub fn send_reply(&mut self, conn: ConnId, reply: &ReplyPacket, started: Option<Instant>) {
        self.send_reply_holding(conn, reply, started, None);
    }

    /// Sends a reply, holding the request's permit until the frame is written to the socket:
    /// a client that does not read its answers runs out of permits and is not read from, so
    /// what waits for it stays bounded.
    pub fn send_reply_holding(
        &mut self,
        conn: ConnId,
        reply: &ReplyPacket,
        started: Option<Instant>,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut buf = BytesMut::with_capacity(64);
        proto::write_frame(&mut buf, |b| reply.encode(b));
        let _ = c.out.send(Outgoing::Frame(buf.freeze(), permit));
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
            let _ = c.out.send(Outgoing::Frame(frame, None));
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
                Some(Queued::Sync { zxid: Some(z), .. }) if *z > applied => {
                    self.syncs_waiting.insert(conn);
                    false
                }
                Some(Queued::Sync { zxid, .. }) => zxid.is_some(),
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
                    self.send_reply_holding(conn, &reply, Some(started), Some(permit));
                }
                Queued::Read {
                    packet,
                    started,
                    permit,
                } => {
                    let reply = crate::reads::answer(self, conn, &packet);
                    self.send_reply_holding(conn, &reply, Some(started), Some(permit));
                }
                Queued::Reply {
                    reply,
                    started,
                    permit,
                } => {
                    self.send_reply_holding(conn, &reply, Some(started), permit);
                }
                Queued::Write { .. } => unreachable!("checked above"),
            }
        }
    }

    /// The leader named the zxid a sync waits for: answer it once that is applied here.
    pub fn sync_ready(&mut self, conn: ConnId, token: u64, zxid: i64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        for item in c.queue.iter_mut() {
            if let Queued::Sync {
                token: t, zxid: z, ..
            } = item
            {
                if *t == token {
                    *z = Some(zxid);
                }
            }
        }
        self.drain(conn);
    }

    /// Answers every connection's syncs and reads that the applied state now allows.
    pub fn drain_all(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.drain(conn);
        }
    }

    /// Closes every client connection (the server stopped serving: clients go elsewhere).
    pub fn close_all(&mut self) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close_connection(conn);
        }
        self.pending_writes.clear();
        self.pending_connects.clear();
    }

    /// Fires the watches of one change: every matching watch is consumed (one-shot ones go),
    /// but only connections whose auth passes READ on `acl` are told, as ZooKeeper 3.8 does
    /// (the ACL check in ServerCnxn.process, CVE-2024-23944): a watcher that lost sight of the
    /// node, for instance through setACL after it set the watch, gets nothing.
    fn fire(&mut self, path: &str, event: EventType, acl: &[proto::Acl], zxid: i64) {
        let mut watchers = self.watches.trigger(path, event);
        watchers.retain(|conn| {
            self.conns
                .get(conn)
                .is_some_and(|c| check_acl(acl, perms::READ, &c.auth, false).is_ok())
        });
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
        for (trigger, acl) in result.triggers.iter().zip(&result.trigger_acls) {
            self.fire(&trigger.path, trigger.event, acl, zxid);
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
                let key = (record.header.session_id, record.header.cxid);
                if let Some(conn) = self.pending_writes.remove(&key) {
                    self.answer_write(conn, zxid, &result.outcome);
                }
                for conn in holders {
                    self.close_connection(conn);
                }
                return;
            }
            _ => {}
        }
        let key = (record.header.session_id, record.header.cxid);
        if let Some(conn) = self.pending_writes.remove(&key) {
            self.answer_write(conn, zxid, &result.outcome);
        }
        for conn in std::mem::take(&mut self.syncs_waiting) {
            self.drain(conn);
        }
    }

    fn snapshot(&self) -> Snapshot {
        let mut data = Vec::with_capacity(self.tree.snapshot_size_hint());
        self.tree
            .snapshot_to(&mut data)
            .expect("writing to memory cannot fail");
        Snapshot {
            zxid: Zxid::from_u64(self.tree.last_zxid() as u64),
            data: Bytes::from(data),
        }
    }

    fn leadership_confirmed(&mut self, round: u64) {
        self.confirmed_round = self.confirmed_round.max(round);
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
            xid,
            op,
            started,
            permit,
        }) = c.queue.pop_front()
        else {
            panic!("connection {conn}: write {zxid:#x} applied but it is not first in line");
        };
        let reply = Self::write_reply(xid, zxid, op, outcome);
        self.send_reply_holding(conn, &reply, Some(started), Some(permit));
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

/// A connection with an established session and the given auth ids, for tests; the receiver
/// gets every frame the server sends it.
#[cfg(test)]
pub(crate) fn test_conn(
    state: &mut ServerState,
    id: ConnId,
    auth: Vec<Id>,
) -> mpsc::UnboundedReceiver<Outgoing> {
    let (out, rx) = mpsc::unbounded_channel();
    state.conns.insert(
        id,
        Conn {
            id,
            remote: "127.0.0.1:1".parse().expect("an address"),
            out,
            session_id: 0x100 + id as i64,
            timeout_ms: 10_000,
            auth,
            queue: VecDeque::new(),
            received: 0,
            sent: 0,
            last_op: "NA",
            last_cxid: 0,
            last_zxid: 0,
            latency: LatencyStats::default(),
        },
    );
    rx
}

#[cfg(test)]
mod tests {
    use proto::Acl;
    use tree::{CreateTxn, NodeKind, Txn as TreeTxn, TxnHeader};

    use super::*;
    use crate::watches::WatchKind;

    fn alice() -> Id {
        Id::new("digest", "alice:a")
    }

    fn alice_only() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: alice(),
        }]
    }

    fn deliver(state: &mut ServerState, zxid: i64, txn: TreeTxn) {
        let header = TxnHeader {
            zxid,
            time_ms: 1_000,
            session_id: 0,
            cxid: 0,
        };
        let data = Bytes::from(TxnRecord::new(header, txn).encode());
        state.deliver(&Txn {
            zxid: Zxid::from_u64(zxid as u64),
            data,
        });
    }

    fn create(path: &str, acl: Vec<Acl>) -> TreeTxn {
        TreeTxn::Create(CreateTxn {
            path: path.into(),
            data: None,
            acl,
            kind: NodeKind::Persistent,
            parent_cversion: 1,
            with_stat: false,
        })
    }

    /// The (event type, path) of every notification a connection was sent.
    fn notifications(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Frame(f, _)) = rx.try_recv() {
            let int = |at: usize| i32::from_be_bytes(f[at..at + 4].try_into().unwrap());
            assert_eq!(int(4), -1, "only notifications expected");
            let len = int(28) as usize;
            out.push((
                int(20),
                String::from_utf8(f[32..32 + len].to_vec()).unwrap(),
            ));
        }
        out
    }

    const CREATED: i32 = 1;
    const DELETED: i32 = 2;
    const CHANGED: i32 = 3;
    const CHILD: i32 = 4;

    /// ZooKeeper 3.8 checks READ on the node's ACL (the parent's for NodeChildrenChanged) with
    /// the watcher's auth before sending a notification; a watcher that fails it is not told,
    /// and its one-shot watch is used up all the same.
    #[test]
    fn notifications_go_only_to_watchers_that_may_read_the_node() {
        let mut s = ServerState::new();
        let mut owner = test_conn(&mut s, 1, vec![alice()]);
        let mut other = test_conn(&mut s, 2, vec![Id::new("digest", "bob:b")]);
        let mut anon = test_conn(&mut s, 3, vec![]);
        let mut root = test_conn(&mut s, 4, vec![Id::new("super", "")]);
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p");
            s.watches.add(conn, WatchKind::Child, "/");
        }
        // Created with an ACL only alice can read: NodeCreated to alice (and super); the child
        // change of "/" (open) to everyone.
        deliver(&mut s, 1, create("/p", alice_only()));
        for conn in 1..=4 {
            assert!(!s.watches.has(conn, WatchKind::Data, "/p"), "conn {conn}");
            s.watches.add(conn, WatchKind::Data, "/p");
            s.watches.add(conn, WatchKind::Child, "/p");
        }
        deliver(
            &mut s,
            2,
            TreeTxn::SetData {
                path: "/p".into(),
                data: None,
                version: 1,
            },
        );
        // The watches of who may not read are gone too: nothing more reaches them.
        assert_eq!(s.watches.count(), 4);
        // A child of /p (open ACL itself): the child change is filtered with /p's ACL.
        deliver(&mut s, 3, create("/p/c", Acl::open_unsafe()));
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p/c");
        }
        deliver(
            &mut s,
            4,
            TreeTxn::Delete {
                path: "/p/c".into(),
            },
        );
        // Deleted: filtered with the ACL the node had.
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p");
        }
        deliver(&mut s, 5, TreeTxn::Delete { path: "/p".into() });

        let seen_by_alice = vec![
            (CREATED, "/p".to_string()),
            (CHILD, "/".to_string()),
            (CHANGED, "/p".to_string()),
            (CHILD, "/p".to_string()),
            (DELETED, "/p/c".to_string()),
            (DELETED, "/p".to_string()),
        ];
        let seen_by_others = vec![(CHILD, "/".to_string()), (DELETED, "/p/c".to_string())];
        assert_eq!(notifications(&mut owner), seen_by_alice);
        assert_eq!(notifications(&mut root), seen_by_alice);
        assert_eq!(notifications(&mut other), seen_by_others);
        assert_eq!(notifications(&mut anon), seen_by_others);
        assert_eq!(s.watches.count(), 0);
    }
}
