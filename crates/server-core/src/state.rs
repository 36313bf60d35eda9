//! The server's replicated state machine and its client-facing bookkeeping: the data tree,
//! the connections and what each is owed, sessions, and watches.
//!
//! Everything here runs on the core task, one event at a time, so ordering is the order of
//! events: a watch notification is sent before any answer to a later request, and answers
//! leave each connection in request order (see [`crate::answers`]).

use std::collections::BTreeSet;

use std::sync::Arc;

use bytes::Bytes;
use proto::{
    perms, Create2Response, CreateResponse, ErrorCode, EventType, KeeperState, OpCode, ReplyPacket,
    Response, WatcherEvent,
};
use tree::acl::check_acl;
use tree::{DataTree, Outcome, Outstanding, TxnRecord};
use zab::{Snapshot, Txn, Zxid};

use crate::bugs::{Bugs, ServerBug};
use crate::clients::{Clients, ConnId};
use crate::clock::Now;
use crate::limits::Limits;
use crate::pending_writes::PendingWrites;
use crate::prepped::Prepped;
use crate::replica::{Application, FrozenSnapshot, WriteSnapshot};
use crate::session::SessionIds;
use crate::sessions::SessionBook;
use crate::watches::Watches;

/// The state machine the replica drives, plus what the server needs to answer clients.
pub struct ServerState {
    pub tree: DataTree,
    pub outstanding: Outstanding,
    /// What this server proposed as leader, kept to be applied without decoding.
    pub prepped: Prepped,
    pub watches: Watches,
    pub clients: Clients,
    /// Which local connection each write in flight belongs to.
    pub pending: PendingWrites,
    pub sessions: SessionBook,
    /// Sessions opened here as local ones (`localSessionsEnabled`; see `core/local_sessions.rs`).
    pub local_sessions: crate::local_sessions::LocalSessions,
    /// Local sessions of this server being upgraded: no longer local, not yet applied as
    /// global here; their requests are served meanwhile (pipelined writes follow the create).
    pub upgrading: BTreeSet<i64>,
    /// The highest leadership-confirmation round a quorum answered (syncs wait for it).
    pub confirmed_round: u64,
    /// Connections whose first unanswered item is a sync waiting for a zxid to be applied.
    pub(crate) syncs_waiting: BTreeSet<ConnId>,
    /// Connections whose session was established during the current event: the core serves
    /// the requests they sent early once the event is done.
    pub established: Vec<ConnId>,
    /// The time of the event being handled (the core sets it).
    pub now: Now,
    /// When on (`record_changes`), every change a transaction made, as its watch events:
    /// what an outside checker (the simulator) needs to tell which notifications were due.
    changes: Option<Vec<Change>>,
    /// A deliberately broken variant (tests of the simulator's checkers only).
    pub bugs: Bugs,
    /// Writes found lost on their way to the leader (see `match_writer`); always 0 unless
    /// something is wrong, which the simulator checks.
    pub lost_writes: u64,
}

/// One change an applied transaction made, as the watch event it triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub zxid: Zxid,
    pub path: String,
    pub event: EventType,
}

impl ServerState {
    pub fn new(limits: Limits, session_ids: SessionIds) -> ServerState {
        ServerState {
            tree: DataTree::new(),
            outstanding: Outstanding::new(),
            prepped: Prepped::default(),
            watches: Watches::default(),
            clients: Clients::new(limits),
            pending: PendingWrites::default(),
            sessions: SessionBook::new(session_ids),
            local_sessions: Default::default(),
            upgrading: BTreeSet::new(),
            confirmed_round: 0,
            syncs_waiting: BTreeSet::new(),
            established: Vec::new(),
            now: Now::default(),
            changes: None,
            bugs: Bugs::default(),
            lost_writes: 0,
        }
    }

    /// Runs a deliberately broken variant (the simulator's teeth).
    pub fn with_bugs(mut self, bugs: Bugs) -> ServerState {
        self.bugs = bugs;
        self.clients.bugs = bugs;
        self
    }

    /// Starts recording every change applied transactions make (see [`Change`]).
    pub fn record_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    /// The changes recorded since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// The zxid put in reply headers: the last applied.
    pub fn last_zxid(&self) -> Zxid {
        self.tree.last_zxid()
    }

    /// Removes a closed connection's watches (connections close inside [`Clients`], which
    /// reports them).
    pub fn forget_closed_connections(&mut self) {
        for conn in self.clients.take_removed() {
            self.watches.remove_connection(conn);
            self.syncs_waiting.remove(&conn);
        }
    }

    /// Closes every client connection (the server stopped serving: clients go elsewhere).
    pub fn close_all(&mut self) {
        for conn in self.clients.ids() {
            self.clients.close(conn, true);
        }
        self.pending.clear();
        self.sessions.forget_connecting();
        // An upgrade not applied by now may never be (the leader changed): the client finds
        // out when it resumes.
        self.upgrading.clear();
        self.forget_closed_connections();
    }

    /// Fires the watches of one change: every matching watch is consumed (one-shot ones go),
    /// but only connections whose auth passes READ on `acl` are told, as ZooKeeper 3.8 does
    /// (the ACL check in ServerCnxn.process, CVE-2024-23944): a watcher that lost sight of the
    /// node, for instance through setACL after it set the watch, gets nothing.
    fn fire(&mut self, path: &str, event: EventType, acl: &[proto::Acl], zxid: Zxid) {
        let mut watchers = self.watches.trigger(path, event);
        watchers.retain(|&conn| {
            self.clients
                .get(conn)
                .is_some_and(|c| check_acl(acl, perms::READ, &c.auth, false).is_ok())
        });
        if watchers.is_empty() {
            return;
        }
        let notification = ReplyPacket::notification(
            zxid.as_i64(),
            WatcherEvent {
                event_type: event,
                state: KeeperState::SyncConnected,
                path: path.to_string(),
            },
        );
        for conn in watchers {
            self.notify(conn, notification.clone());
        }
    }

    /// Replaces `/zookeeper/config` as an applied reconfiguration does (see
    /// [`DataTree::replace_config`]) and fires the watches on it, as for any data change.
    /// Returns the node's new Stat (what `reconfig` answers with).
    pub fn replace_config(&mut self, data: Bytes, zxid: Zxid, time: i64) -> Option<proto::Stat> {
        let change = self.tree.replace_config(data, zxid, time)?;
        if let Some(changes) = self.changes.as_mut() {
            changes.push(Change {
                zxid,
                path: change.trigger.path.to_string(),
                event: change.trigger.event,
            });
        }
        self.fire(
            &change.trigger.path,
            change.trigger.event,
            &change.acl,
            zxid,
        );
        Some(change.stat)
    }

    /// The configuration `/zookeeper/config` holds: the one in force as of the last applied
    /// transaction. `None` for a standalone server (an empty node) or a text that does not
    /// parse (the server wrote it; only a bug gets there).
    pub fn current_config(&self) -> Option<crate::config::DynamicConfig> {
        let (data, _, _) = self.tree.get(tree::path::CONFIG)?;
        let text = std::str::from_utf8(data?).ok()?;
        if text.is_empty() {
            return None;
        }
        crate::config::DynamicConfig::parse(text).ok()
    }

    /// The answer to an applied write, shaped for the request's opcode.
    pub(crate) fn write_reply(xid: i32, zxid: Zxid, op: OpCode, outcome: &Outcome) -> ReplyPacket {
        let response = match outcome {
            Outcome::Error(code) => return ReplyPacket::error(xid, zxid.as_i64(), *code),
            Outcome::Created { path, stat } => match op {
                OpCode::Create => Response::Create(CreateResponse { path: path.clone() }),
                _ => Response::Create2(Create2Response {
                    path: path.clone(),
                    stat: *stat,
                }),
            },
            Outcome::DataSet { stat } | Outcome::AclSet { stat } => Response::Stat(*stat),
            Outcome::Multi(results) => Response::Multi(results.clone()),
            Outcome::Reconfigured { data, stat } => Response::GetData(proto::GetDataResponse {
                data: Some(data.clone()),
                stat: *stat,
            }),
            Outcome::Deleted
            | Outcome::Checked
            | Outcome::SessionCreated
            | Outcome::SessionClosed => Response::Empty,
        };
        ReplyPacket::ok(xid, zxid.as_i64(), response)
    }

    /// The local connection an applied transaction answers. Writes of the session sent before
    /// it and never applied were lost on their way to the leader: their connections are closed
    /// (the clients retry) instead of waiting forever, and counted, since it should not happen.
    fn match_writer(&mut self, session: i64, xid: i32) -> Option<ConnId> {
        if let Some(conn) = self.pending.take(session, xid) {
            return Some(conn);
        }
        let lost = self.pending.lost_before(session, xid);
        if lost.is_empty() {
            return None;
        }
        tracing::error!(
            session = format!("0x{session:x}"),
            xid,
            lost = lost.len(),
            "writes of a session were lost on their way to the leader: closing their connections"
        );
        self.lost_writes += lost.len() as u64;
        for conn in lost {
            self.clients.close(conn, true);
        }
        self.pending.take(session, xid)
    }

    /// A session's closeSession applied: every connection still holding it is closed, after
    /// the answer to the closeSession (if it asked here) has left.
    fn session_closed(&mut self, session: i64) {
        self.sessions.closed(session);
        let holders: Vec<ConnId> = self
            .clients
            .iter()
            .filter(|c| c.session_id == session)
            .map(|c| c.id)
            .collect();
        for conn in holders {
            self.clients.close_in_order(conn);
            self.drain(conn);
        }
    }
}

impl Application for ServerState {
    fn deliver(&mut self, txn: &Txn) {
        let record = match self.prepped.take(txn) {
            Some(record) => {
                debug_assert_eq!(TxnRecord::decode(&txn.data).ok().as_ref(), Some(&record));
                Ok(record)
            }
            None => TxnRecord::decode(&txn.data),
        };
        let record = match record {
            Ok(record) => record,
            // Every replica decodes the same bytes the same way; a txn no replica can read is a
            // bug that must stop the server rather than let replicas drift.
            Err(e) => panic!("transaction {} does not decode: {e}", txn.zxid),
        };
        let zxid = record.header.zxid;
        assert_eq!(zxid, txn.zxid, "txn header and zxid differ");
        let session = record.header.session_id;
        let writer = self.match_writer(session, record.header.cxid);
        if let Some(conn) = writer {
            // The reads the connection sent before this write must not see it.
            self.compute(conn, true);
        }
        let result = self.tree.apply(&record);
        self.outstanding.applied(zxid);
        let late_notifications = self.bugs.has(ServerBug::NotificationAfterReply);
        if late_notifications {
            if let Some(conn) = writer {
                self.answer_write(conn, record.header.cxid, zxid, &result.outcome, false);
            }
        }
        for (trigger, acl) in result.triggers.iter().zip(&result.trigger_acls) {
            if let Some(changes) = self.changes.as_mut() {
                changes.push(Change {
                    zxid,
                    path: trigger.path.to_string(),
                    event: trigger.event,
                });
            }
            self.fire(&trigger.path, trigger.event, acl, zxid);
        }
        if let Some(conn) = writer.filter(|_| !late_notifications) {
            // ZooKeeper closes a connection whose session moved to another server.
            let moved = result.outcome == Outcome::Error(ErrorCode::SessionMoved);
            self.answer_write(conn, record.header.cxid, zxid, &result.outcome, moved);
        }
        match &result.outcome {
            Outcome::SessionCreated => {
                self.upgrading.remove(&session);
                if let Some(pending) = self.sessions.finish_connecting(session) {
                    crate::handshake::finish(self, pending.conn, session, pending.timeout_ms);
                }
            }
            Outcome::SessionClosed => self.session_closed(session),
            _ => {}
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
            zxid: self.tree.last_zxid(),
            data: Bytes::from(data),
        }
    }

    fn freeze(&mut self) -> Option<FrozenSnapshot> {
        self.tree.freeze().map(frozen_snapshot)
    }

    fn freeze_for_peer(&mut self) -> FrozenSnapshot {
        frozen_snapshot(self.tree.freeze_now())
    }

    fn leadership_confirmed(&mut self, round: u64) {
        self.confirmed_round = self.confirmed_round.max(round);
    }

    fn membership(&self) -> Option<zab::Membership> {
        let mut membership = crate::reconfig::membership_of(&self.current_config()?);
        // A version past this state's last transaction came from a file (ZooKeeper names its
        // first dynamic file after the first epoch), not from a reconfiguration in this
        // history: to the core it is the configuration the server started with.
        if membership.version > self.tree.last_zxid() {
            membership.version = zab::Zxid::ZERO;
        }
        Some(membership)
    }

    fn install(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        self.restore(snapshot, &[])
    }

    /// Sizes the node table for the most nodes the tree will hold while the logged records
    /// apply, so that it does not double meanwhile (and no more: a table never shrinks).
    fn restore(&mut self, snapshot: &Snapshot, logged: &[Txn]) -> Result<(), String> {
        let tree = DataTree::restore_from_bytes_with_room(&snapshot.data, peak_growth(logged))
            .map_err(|e| e.to_string())?;
        self.tree = tree;
        self.outstanding.clear();
        self.prepped.clear();
        Ok(())
    }
}

/// The most nodes `txns`, applied in order, add above the count they start from.
fn peak_growth(txns: &[Txn]) -> usize {
    let (mut count, mut peak) = (0i64, 0i64);
    for txn in txns {
        count += TxnRecord::node_count_change(&txn.data);
        peak = peak.max(count);
    }
    usize::try_from(peak).unwrap_or(0)
}

/// The data tree frozen for a snapshot, written on the storage's thread.
fn frozen_snapshot(frozen: Arc<tree::FrozenTree>) -> FrozenSnapshot {
    FrozenSnapshot {
        zxid: frozen.last_zxid(),
        size_hint: frozen.size_hint(),
        state: Box::new(frozen),
    }
}

impl WriteSnapshot for Arc<tree::FrozenTree> {
    fn write_to(&self, mut w: &mut dyn std::io::Write) -> std::io::Result<()> {
        tree::FrozenTree::write_to(self, &mut w)
    }
}

/// The error code an unusable session gets.
pub fn session_error(state: &ServerState, session_id: i64) -> Option<ErrorCode> {
    if state.local_sessions.contains(session_id) || state.upgrading.contains(&session_id) {
        return None;
    }
    if session_id == 0
        || state.sessions.is_closing(session_id)
        || !state.tree.sessions().contains(session_id)
    {
        Some(ErrorCode::SessionExpired)
    } else {
        None
    }
}

/// A server state with default limits, for tests.
#[cfg(test)]
pub(crate) fn test_state() -> ServerState {
    ServerState::new(Limits::defaults(1 << 20), SessionIds::new(1, 0))
}

/// A connection with an established session and the given auth ids, for tests.
#[cfg(test)]
pub(crate) fn test_conn(state: &mut ServerState, id: ConnId, auth: Vec<proto::Id>) {
    let remote = format!("127.0.0.{id}:1").parse().expect("an address");
    assert!(state.clients.accept(id, remote, 0));
    let c = state.clients.get_mut(id).expect("accepted");
    c.session_id = 0x100 + id as i64;
    c.timeout_ms = 10_000;
    c.auth = auth;
    c.stage = crate::clients::Stage::Serving;
}

/// The frames sent so far, per connection.
#[cfg(test)]
pub(crate) fn sent_frames(
    state: &mut ServerState,
) -> std::collections::BTreeMap<ConnId, Vec<Bytes>> {
    let mut effects = Vec::new();
    state.clients.drain_effects(&mut effects);
    let mut out: std::collections::BTreeMap<ConnId, Vec<Bytes>> = Default::default();
    for effect in effects {
        if let crate::clients::ClientEffect::Send { conn, frame } = effect {
            out.entry(conn).or_default().push(frame);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use proto::{Acl, Id};
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

    fn deliver(state: &mut ServerState, zxid: Zxid, txn: TreeTxn) {
        state.deliver(&record(zxid.as_u64(), txn));
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
    fn notifications(frames: Vec<Bytes>) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        for f in frames {
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

    /// A transaction as the leader logs it: `txn` at `zxid`, with a fixed header.
    pub(crate) fn record(zxid: u64, txn: TreeTxn) -> Txn {
        let zxid = Zxid::from_u64(zxid);
        let header = TxnHeader {
            zxid,
            time_ms: 1_000,
            session_id: 0,
            cxid: 0,
        };
        let data = Bytes::from(TxnRecord::new(header, txn).encode());
        Txn { zxid, data }
    }

    #[test]
    fn peak_growth_is_the_most_nodes_added_at_any_point() {
        let creates = |from: u64, n: u64| -> Vec<Txn> {
            (from..from + n)
                .map(|i| record(i, create(&format!("/n{i}"), Acl::open_unsafe())))
                .collect()
        };
        let deletes = |from: u64, n: u64| -> Vec<Txn> {
            let path = |i: u64| format!("/n{i}");
            (from..from + n)
                .map(|i| record(i, TreeTxn::Delete { path: path(i) }))
                .collect()
        };
        assert_eq!(peak_growth(&[]), 0);
        assert_eq!(peak_growth(&[creates(1, 30), deletes(31, 30)].concat()), 30);
        assert_eq!(peak_growth(&[deletes(1, 30), creates(31, 20)].concat()), 0);
        let churn = [creates(1, 10), deletes(11, 10), creates(21, 15)].concat();
        assert_eq!(peak_growth(&churn), 15);
    }

    /// A restart's node table holds the logged creates without growing, and no more than
    /// their peak: a table never shrinks.
    #[test]
    fn a_restore_makes_room_for_the_logged_creates() {
        let mut s = test_state();
        for i in 0..20_000u64 {
            let txn = create(&format!("/n{i}"), Acl::open_unsafe());
            s.deliver(&record(i + 1, txn));
        }
        let snapshot = s.snapshot();
        let logged: Vec<Txn> = (20_001..50_001u64)
            .map(|i| record(i, create(&format!("/n{i}"), Acl::open_unsafe())))
            .collect();
        let mut restored = test_state();
        restored.restore(&snapshot, &logged).unwrap();
        assert!(restored.tree.node_room() >= 30_000);
        let mut installed = test_state();
        installed.install(&snapshot).unwrap();
        assert!(
            installed.tree.node_room() < 30_000,
            "else this test shows nothing"
        );
        for txn in &logged {
            restored.deliver(txn);
        }
        assert_eq!(restored.tree.node_count(), s.tree.node_count() + 30_000);
    }

    /// ZooKeeper 3.8 checks READ on the node's ACL (the parent's for NodeChildrenChanged) with
    /// the watcher's auth before sending a notification; a watcher that fails it is not told,
    /// and its one-shot watch is used up all the same.
    #[test]
    fn notifications_go_only_to_watchers_that_may_read_the_node() {
        let mut s = test_state();
        test_conn(&mut s, 1, vec![alice()]);
        test_conn(&mut s, 2, vec![Id::new("digest", "bob:b")]);
        test_conn(&mut s, 3, vec![]);
        test_conn(&mut s, 4, vec![Id::new("super", "")]);
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p");
            s.watches.add(conn, WatchKind::Child, "/");
        }
        // Created with an ACL only alice can read: NodeCreated to alice (and super); the child
        // change of "/" (open) to everyone.
        deliver(&mut s, zab::Zxid::from_u64(1), create("/p", alice_only()));
        for conn in 1..=4 {
            assert!(!s.watches.has(conn, WatchKind::Data, "/p"), "conn {conn}");
            s.watches.add(conn, WatchKind::Data, "/p");
            s.watches.add(conn, WatchKind::Child, "/p");
        }
        deliver(
            &mut s,
            zab::Zxid::from_u64(2),
            TreeTxn::SetData {
                path: "/p".into(),
                data: None,
                version: 1,
            },
        );
        // The watches of who may not read are gone too: nothing more reaches them.
        assert_eq!(s.watches.count(), 4);
        // A child of /p (open ACL itself): the child change is filtered with /p's ACL.
        deliver(
            &mut s,
            zab::Zxid::from_u64(3),
            create("/p/c", Acl::open_unsafe()),
        );
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p/c");
        }
        deliver(
            &mut s,
            zab::Zxid::from_u64(4),
            TreeTxn::Delete {
                path: "/p/c".into(),
            },
        );
        // Deleted: filtered with the ACL the node had.
        for conn in 1..=4 {
            s.watches.add(conn, WatchKind::Data, "/p");
        }
        deliver(
            &mut s,
            zab::Zxid::from_u64(5),
            TreeTxn::Delete { path: "/p".into() },
        );

        let seen_by_alice = vec![
            (CREATED, "/p".to_string()),
            (CHILD, "/".to_string()),
            (CHANGED, "/p".to_string()),
            (CHILD, "/p".to_string()),
            (DELETED, "/p/c".to_string()),
            (DELETED, "/p".to_string()),
        ];
        let seen_by_others = vec![(CHILD, "/".to_string()), (DELETED, "/p/c".to_string())];
        let mut sent = sent_frames(&mut s);
        let mut take = |conn| sent.remove(&conn).unwrap_or_default();
        assert_eq!(notifications(take(1)), seen_by_alice);
        assert_eq!(notifications(take(4)), seen_by_alice);
        assert_eq!(notifications(take(2)), seen_by_others);
        assert_eq!(notifications(take(3)), seen_by_others);
        assert_eq!(s.watches.count(), 0);
    }

    /// A reconfiguration's new text reaches who watches `/zookeeper/config` (anyone may read
    /// it), with the Stat ZooKeeper gives it.
    #[test]
    fn replacing_the_config_fires_its_watches() {
        let mut s = test_state();
        test_conn(&mut s, 1, vec![]);
        s.watches.add(1, WatchKind::Data, tree::path::CONFIG);
        let zxid = zab::Zxid::new(2, 9);
        let stat = s
            .replace_config(Bytes::from_static(b"version=200000009"), zxid, 77)
            .unwrap();
        assert_eq!(
            (stat.mzxid, stat.mtime, stat.version),
            (zxid.as_i64(), 77, -1)
        );
        let mut sent = sent_frames(&mut s);
        let seen = notifications(sent.remove(&1).unwrap_or_default());
        assert_eq!(seen, [(CHANGED, tree::path::CONFIG.to_string())]);
        assert_eq!(s.watches.count(), 0);
    }
}
