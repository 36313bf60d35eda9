//! The core task: one task owns the replica (the Zab core, the log, the data tree) and every
//! connection's bookkeeping, and handles events one at a time. Connections, the log writer
//! and the timers only send it events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use proto::{ConnectRequest, ErrorCode, OpCode, PacketError, ReplyPacket, Request, RequestPacket};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tree::{prep::PrepCtx, TxnHeader, TxnRecord};
use zab::Input;

use crate::config::Config;
use crate::events::{CoreEvent, Outgoing};
use crate::four_letter_words::{self, ConnectionView, ServerView};
use crate::handshake;
use crate::peers::codec::PeerFrame;
use crate::peers::net::PeerNet;
use crate::replica::{Replica, ReplicaError};
use crate::session::{negotiate_timeout, password, SessionIds};
use crate::state::{Conn, PendingConnect, Queued, ServerState};
use crate::watches::ConnId;

/// A sync the leader is answering: once everything up to `zxid` is committed and a quorum
/// confirmed leadership round `round`, the server `origin` is told.
struct PendingSync {
    origin: u64,
    token: u64,
    zxid: i64,
    round: u64,
}

/// The core task's state.
pub struct Core {
    pub config: Config,
    pub replica: Replica<ServerState, PeerNet>,
    /// Frames to other servers (Zab's own go through the replica).
    net: PeerNet,
    session_ids: SessionIds,
    /// On the leader: when each session was last heard from, here or at a follower.
    session_seen: HashMap<i64, Instant>,
    /// On a follower: sessions heard from since the last tick, reported to the leader.
    touched: std::collections::HashSet<i64>,
    /// On the leader: syncs waiting for commit and confirmation.
    pending_syncs: Vec<PendingSync>,
    /// Sync tokens of local connections: token → connection.
    sync_tokens: HashMap<u64, ConnId>,
    next_token: u64,
    /// Whether this server served clients after the last event (to notice role changes).
    was_serving: bool,
    was_leading: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Core {
    pub fn new(config: Config, replica: Replica<ServerState, PeerNet>, net: PeerNet) -> Core {
        let session_ids = SessionIds::new(config.my_id, now_ms() as u64);
        let mut core = Core {
            config,
            replica,
            net,
            session_ids,
            session_seen: HashMap::new(),
            touched: Default::default(),
            pending_syncs: Vec::new(),
            sync_tokens: HashMap::new(),
            next_token: 0,
            was_serving: false,
            was_leading: false,
        };
        core.after_event();
        core
    }

    /// Whether clients are served: on an established leader, or a follower in broadcast.
    fn serving(&self) -> bool {
        matches!(
            self.replica.phase(),
            zab::Phase::LeadingBroadcast | zab::Phase::FollowingBroadcast
        )
    }

    fn leading(&self) -> bool {
        self.replica.phase() == zab::Phase::LeadingBroadcast
    }

    /// The leader this server follows, while it follows one in broadcast.
    fn leader_id(&self) -> Option<u64> {
        match self.replica.phase() {
            zab::Phase::FollowingBroadcast => self.replica.peer().leader().map(|l| l.0),
            _ => None,
        }
    }

    /// Bookkeeping after every event: notices role changes and answers what became
    /// answerable.
    fn after_event(&mut self) {
        let serving = self.serving();
        let leading = self.leading();
        if self.was_serving && !serving {
            // Lost the leader or the quorum: clients go elsewhere (ZooKeeper does the same).
            tracing::info!("not serving clients until a leader is established");
            self.state_mut().close_all();
            self.sync_tokens.clear();
        }
        if leading != self.was_leading {
            // What prep recorded under another leadership is void; a new leader restarts every
            // session's clock instead of expiring sessions it did not watch.
            let state = self.state_mut();
            state.outstanding.clear();
            state.closing.clear();
            self.pending_syncs.clear();
            self.session_seen.clear();
            if leading {
                let now = Instant::now();
                let sessions: Vec<i64> = self
                    .state()
                    .tree
                    .sessions()
                    .iter()
                    .map(|(id, _)| id)
                    .collect();
                for id in sessions {
                    self.session_seen.insert(id, now);
                }
            }
        }
        self.was_serving = serving;
        self.was_leading = leading;
        self.settle_syncs();
    }

    /// Answers the syncs whose zxid is committed and whose confirmation round completed.
    fn settle_syncs(&mut self) {
        if self.pending_syncs.is_empty() {
            return;
        }
        let applied = self.state().last_zxid();
        let confirmed = self.state().confirmed_round;
        let me = self.config.my_id;
        let (done, waiting): (Vec<PendingSync>, Vec<PendingSync>) =
            std::mem::take(&mut self.pending_syncs)
                .into_iter()
                .partition(|s| s.round <= confirmed && s.zxid <= applied);
        self.pending_syncs = waiting;
        for sync in done {
            if sync.origin == me {
                self.local_sync_ready(sync.token, sync.zxid);
            } else {
                self.net.send(
                    sync.origin,
                    &PeerFrame::SyncDone {
                        token: sync.token,
                        zxid: sync.zxid,
                    },
                );
            }
        }
    }

    fn local_sync_ready(&mut self, token: u64, zxid: i64) {
        if let Some(conn) = self.sync_tokens.remove(&token) {
            self.state_mut().sync_ready(conn, token, zxid);
        }
    }

    /// On the leader: a sync from `origin`: everything proposed so far, once committed, and a
    /// confirmation that this server still leads.
    fn leader_sync(&mut self, origin: u64, token: u64) -> Result<(), ReplicaError> {
        let zxid = self.replica.peer().last_zxid().as_u64() as i64;
        let Some(round) = self.replica.confirm_leadership()? else {
            return Ok(());
        };
        self.pending_syncs.push(PendingSync {
            origin,
            token,
            zxid,
            round,
        });
        self.settle_syncs();
        Ok(())
    }

    fn state(&self) -> &ServerState {
        &self.replica.app
    }

    fn state_mut(&mut self) -> &mut ServerState {
        &mut self.replica.app
    }

    /// Handles one event. An error is fatal for the server.
    pub fn handle(&mut self, event: CoreEvent) -> Result<(), ReplicaError> {
        let result = self.dispatch(event);
        self.after_event();
        result
    }

    fn dispatch(&mut self, event: CoreEvent) -> Result<(), ReplicaError> {
        match event {
            CoreEvent::Handshake {
                conn,
                remote,
                request,
                out,
            } => self.handshake(conn, remote, request, out),
            CoreEvent::Request {
                conn,
                packet,
                permit,
            } => self.request(conn, packet, permit),
            CoreEvent::BadRequest {
                conn,
                error,
                permit,
            } => {
                self.bad_request(conn, error, permit);
                Ok(())
            }
            CoreEvent::Closed { conn } => {
                let state = self.state_mut();
                state.watches.remove_connection(conn);
                state.conns.remove(&conn);
                Ok(())
            }
            CoreEvent::FourLetterWord { word, reply } => {
                let text = self.four_letter_word(word);
                let _ = reply.send(text);
                Ok(())
            }
            CoreEvent::Peer { from, frame } => self.peer_frame(from, frame),
            CoreEvent::PeerDisconnected { peer } => {
                // A reconnect may already be up; the core only acts if that peer is our leader.
                if self.net.connected().contains(&peer) {
                    return Ok(());
                }
                self.replica
                    .step(Input::PeerDisconnected(zab::ServerId(peer)))
            }
            CoreEvent::View { reply } => {
                let _ = reply.send(self.view());
                Ok(())
            }
            CoreEvent::Log(event) => self.replica.on_log_event(event),
        }
    }

    /// A frame from another server of the ensemble.
    fn peer_frame(
        &mut self,
        from: u64,
        frame: crate::peers::codec::PeerFrame,
    ) -> Result<(), ReplicaError> {
        let leading = self.leading();
        match frame {
            PeerFrame::Zab(message) => self.replica.step(zab::Input::Message {
                from: zab::ServerId(from),
                message,
            }),
            PeerFrame::Forward {
                session,
                cxid,
                auth,
                request,
            } if leading => match RequestPacket::decode(&mut &request[..]) {
                Ok(packet) => {
                    self.session_seen.insert(session, Instant::now());
                    self.submit(session, cxid, &packet.request, &auth)
                }
                Err(e) => {
                    tracing::warn!(peer = from, error = %e, "a forwarded request does not decode");
                    Ok(())
                }
            },
            PeerFrame::CreateSession {
                session,
                timeout_ms,
            } if leading => {
                self.session_seen.insert(session, Instant::now());
                self.create_session(session, timeout_ms)
            }
            PeerFrame::Touch { sessions } if leading => {
                let now = Instant::now();
                for session in sessions {
                    if let Some(seen) = self.session_seen.get_mut(&session) {
                        *seen = now;
                    }
                }
                Ok(())
            }
            PeerFrame::Sync { token } if leading => self.leader_sync(from, token),
            PeerFrame::SyncDone { token, zxid } => {
                self.local_sync_ready(token, zxid);
                Ok(())
            }
            other => {
                // A request for a leader that this server no longer is: the follower that sent
                // it closes its clients when it notices, and they retry elsewhere.
                tracing::debug!(peer = from, frame = ?other, "ignoring a frame meant for a leader");
                Ok(())
            }
        }
    }

    /// One tick of Zab time (tickTime). A follower also tells the leader which sessions it
    /// heard from, so the leader does not expire them.
    pub fn tick(&mut self) -> Result<(), ReplicaError> {
        let result = self.replica.step(Input::Tick);
        if let Some(leader) = self.leader_id() {
            // Only sessions whose clients sent something (a ping will do) since the last tick:
            // a client that went silent on an open connection must still expire.
            let mut sessions: Vec<i64> = self.touched.drain().collect();
            sessions.sort_unstable();
            if !sessions.is_empty() {
                self.net.send(leader, &PeerFrame::Touch { sessions });
            }
        }
        self.after_event();
        result
    }

    fn handshake(
        &mut self,
        conn: ConnId,
        remote: SocketAddr,
        request: ConnectRequest,
        out: mpsc::UnboundedSender<Outgoing>,
    ) -> Result<(), ReplicaError> {
        let auth = vec![tree::acl::ip_id(remote.ip())];
        let c = Conn {
            id: conn,
            remote,
            out,
            session_id: 0,
            timeout_ms: 0,
            auth,
            queue: Default::default(),
            received: 1,
            sent: 0,
            last_op: "NA",
            last_cxid: 0,
            last_zxid: 0,
            latency: Default::default(),
        };
        self.state_mut().conns.insert(conn, c);
        self.state_mut().stats.packets_received += 1;
        if !self.serving() {
            // No established leader here: the client tries another server.
            self.state_mut().close_connection(conn);
            return Ok(());
        }
        let our_last = self.state().last_zxid();
        if request.last_zxid_seen > our_last {
            // The client saw more than this server has: it must find a server that is not
            // behind (ZooKeeper refuses the same way).
            tracing::info!(%remote, client = request.last_zxid_seen, ours = our_last, "refusing a client that is ahead of us");
            self.state_mut().close_connection(conn);
            return Ok(());
        }
        if request.session_id != 0 {
            let session = request.session_id;
            let known = self.state().tree.sessions().timeout(session);
            let valid = known.is_some()
                && !self.state().closing.contains(&session)
                && request.passwd[..] == password(session)[..];
            match known {
                Some(timeout) if valid => {
                    self.session_seen.insert(session, Instant::now());
                    handshake::finish(self.state_mut(), conn, session, timeout);
                }
                _ => handshake::refuse_expired(self.state_mut(), conn),
            }
            return Ok(());
        }
        let timeout = negotiate_timeout(
            request.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        let session = self.session_ids.next_id();
        self.state_mut().pending_connects.insert(
            session,
            PendingConnect {
                conn,
                timeout_ms: timeout,
            },
        );
        if self.leading() {
            self.session_seen.insert(session, Instant::now());
            self.create_session(session, timeout)
        } else if let Some(leader) = self.leader_id() {
            self.net.send(
                leader,
                &PeerFrame::CreateSession {
                    session,
                    timeout_ms: timeout,
                },
            );
            Ok(())
        } else {
            self.state_mut().pending_connects.remove(&session);
            self.state_mut().close_connection(conn);
            Ok(())
        }
    }

    /// On the leader: proposes a new session.
    fn create_session(&mut self, session: i64, timeout_ms: i32) -> Result<(), ReplicaError> {
        let Some(zxid) = self.replica.peer().next_zxid() else {
            return Ok(());
        };
        let zxid = zxid.as_u64() as i64;
        let txn = tree::prep::prep_create_session(
            &mut self.state_mut().outstanding,
            session,
            timeout_ms,
            zxid,
        );
        self.propose(zxid, session, 0, txn)
    }

    fn propose(
        &mut self,
        zxid: i64,
        session: i64,
        cxid: i32,
        txn: tree::Txn,
    ) -> Result<(), ReplicaError> {
        let header = TxnHeader {
            zxid,
            time_ms: now_ms(),
            session_id: session,
            cxid,
        };
        let bytes = Bytes::from(TxnRecord::new(header, txn).encode());
        match self.replica.propose(bytes)? {
            Ok(assigned) => {
                assert_eq!(
                    assigned.as_u64() as i64,
                    zxid,
                    "the zxid prep stamped is the zxid Zab assigned"
                );
                Ok(())
            }
            Err(_) => {
                // Leadership was lost between the check and the proposal: nothing was
                // proposed, so what prep recorded is void.
                self.state_mut().outstanding.clear();
                Ok(())
            }
        }
    }

    fn bad_request(&mut self, conn: ConnId, error: PacketError, permit: OwnedSemaphorePermit) {
        let Some(header) = error.header else { return };
        tracing::debug!(conn, %error, "answering an undecodable request");
        let code = match error.error {
            proto::DecodeError::UnknownOpCode(_) | proto::DecodeError::NotARequest(_) => {
                ErrorCode::Unimplemented
            }
            _ => ErrorCode::MarshallingError,
        };
        let reply = ReplyPacket::error(header.xid, self.state().last_zxid(), code);
        self.reply_in_order(conn, reply, Instant::now(), permit);
    }

    fn request(
        &mut self,
        conn: ConnId,
        packet: RequestPacket,
        permit: OwnedSemaphorePermit,
    ) -> Result<(), ReplicaError> {
        let started = Instant::now();
        let xid = packet.header.xid;
        let Some(c) = self.state_mut().conns.get_mut(&conn) else {
            return Ok(());
        };
        c.received += 1;
        c.last_op = op_name(&packet.request);
        c.last_cxid = i64::from(xid);
        let session = c.session_id;
        self.state_mut().stats.packets_received += 1;
        if session == 0 {
            // Requests before the session exists: ZooKeeper closes such a connection.
            self.state_mut().close_connection(conn);
            return Ok(());
        }
        if self.leading() {
            self.session_seen.insert(session, started);
        } else {
            self.touched.insert(session);
        }
        if let Some(code) = crate::state::session_error(self.state(), session) {
            self.fail_and_close(conn, xid, code, started, permit);
            return Ok(());
        }
        match &packet.request {
            Request::Auth(auth) => {
                let reply = self.authenticate(conn, xid, auth);
                self.reply_in_order(conn, reply, started, permit);
                Ok(())
            }
            Request::Sync(sync) => {
                // Answered once the leader confirmed with a quorum that it still leads and
                // everything it proposed before is applied here: sync-then-read is linearizable.
                self.next_token += 1;
                let token = self.next_token;
                let item = Queued::Sync {
                    token,
                    zxid: None,
                    xid,
                    path: sync.path.clone(),
                    started,
                    permit,
                };
                self.state_mut().enqueue(conn, item);
                self.sync_tokens.insert(token, conn);
                if self.leading() {
                    self.leader_sync(self.config.my_id, token)
                } else if let Some(leader) = self.leader_id() {
                    self.net.send(leader, &PeerFrame::Sync { token });
                    Ok(())
                } else {
                    self.state_mut().close_connection(conn);
                    Ok(())
                }
            }
            request if tree::prep::is_write(request) => {
                self.write(conn, session, packet, permit, started)
            }
            _ => {
                self.state_mut().enqueue(
                    conn,
                    Queued::Read {
                        packet,
                        started,
                        permit,
                    },
                );
                Ok(())
            }
        }
    }

    /// Answers a request with `reply` in its turn on the connection.
    fn reply_in_order(
        &mut self,
        conn: ConnId,
        reply: ReplyPacket,
        started: Instant,
        permit: OwnedSemaphorePermit,
    ) {
        let item = Queued::Reply {
            reply,
            started,
            permit: Some(permit),
        };
        self.state_mut().enqueue(conn, item);
    }

    /// Answers a request with an error in its turn, then closes the connection.
    fn fail_and_close(
        &mut self,
        conn: ConnId,
        xid: i32,
        code: ErrorCode,
        started: Instant,
        permit: OwnedSemaphorePermit,
    ) {
        let reply = ReplyPacket::error(xid, self.state().last_zxid(), code);
        self.reply_in_order(conn, reply, started, permit);
        self.state_mut().close_connection(conn);
    }

    fn authenticate(&mut self, conn: ConnId, xid: i32, auth: &proto::AuthPacket) -> ReplyPacket {
        let zxid = self.state().last_zxid();
        if auth.scheme != "digest" {
            return ReplyPacket::error(xid, zxid, ErrorCode::AuthFailed);
        }
        let ids = tree::acl::digest_auth_ids(&auth.auth, self.config.super_digest.as_deref());
        if ids.is_empty() {
            return ReplyPacket::error(xid, zxid, ErrorCode::AuthFailed);
        }
        if let Some(c) = self.state_mut().conns.get_mut(&conn) {
            for id in ids {
                if !c.auth.contains(&id) {
                    c.auth.push(id);
                }
            }
        }
        ReplyPacket::ok(xid, zxid, proto::Response::Empty)
    }

    fn write(
        &mut self,
        conn: ConnId,
        session: i64,
        packet: RequestPacket,
        permit: OwnedSemaphorePermit,
        started: Instant,
    ) -> Result<(), ReplicaError> {
        let xid = packet.header.xid;
        let op = packet.request.opcode();
        let auth = self
            .state()
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let leader = self.leader_id();
        if !self.leading() && leader.is_none() {
            self.fail_and_close(conn, xid, ErrorCode::ConnectionLoss, started, permit);
            return Ok(());
        }
        if op == OpCode::CloseSession {
            self.state_mut().closing.insert(session);
        }
        let state = self.state_mut();
        state.pending_writes.insert((session, xid), conn);
        if let Some(c) = state.conns.get_mut(&conn) {
            c.queue.push_back(Queued::Write {
                xid,
                op,
                started,
                permit,
            });
        }
        match leader {
            Some(leader) => {
                let mut request = bytes::BytesMut::new();
                proto::Encode::encode(&packet, &mut request);
                let frame = PeerFrame::Forward {
                    session,
                    cxid: xid,
                    auth,
                    request: request.freeze(),
                };
                self.net.send(leader, &frame);
                Ok(())
            }
            None => self.submit(session, xid, &packet.request, &auth),
        }
    }

    /// On the leader: preps a write (from a local client or forwarded by a follower) and
    /// proposes it. A write that fails its checks is proposed as an error transaction, as
    /// ZooKeeper does, so that the server holding the client answers it in order.
    fn submit(
        &mut self,
        session: i64,
        cxid: i32,
        request: &Request,
        auth: &[proto::Id],
    ) -> Result<(), ReplicaError> {
        let Some(zxid) = self.replica.peer().next_zxid() else {
            return Ok(());
        };
        let zxid = zxid.as_u64() as i64;
        let ctx = PrepCtx {
            zxid,
            session_id: session,
            auth,
            extended_types: self.config.extended_types_enabled,
            skip_acl: false,
        };
        let state = &mut self.replica.app;
        let txn = tree::prep::prep(&state.tree, &mut state.outstanding, request, &ctx)
            .unwrap_or_else(tree::Txn::Error);
        self.propose(zxid, session, cxid, txn)
    }

    /// Expires sessions not heard from within their timeout (the leader's job), and removes
    /// expired TTL nodes and empty containers.
    pub fn expire(&mut self) -> Result<(), ReplicaError> {
        if !self.replica.peer().is_leading() {
            return Ok(());
        }
        let now = Instant::now();
        let sessions: Vec<(i64, i32)> = self.state().tree.sessions().iter().collect();
        for (session, timeout_ms) in sessions {
            if self.state().closing.contains(&session)
                || self.state().pending_connects.contains_key(&session)
            {
                continue;
            }
            let seen = *self.session_seen.entry(session).or_insert(now);
            if now.duration_since(seen) < Duration::from_millis(timeout_ms.max(0) as u64) {
                continue;
            }
            let Some(zxid) = self.replica.peer().next_zxid() else {
                return Ok(());
            };
            let zxid = zxid.as_u64() as i64;
            tracing::info!(session = format!("0x{session:x}"), "session expired");
            self.session_seen.remove(&session);
            let state = &mut self.replica.app;
            state.closing.insert(session);
            let txn =
                tree::prep::prep_close_session(&state.tree, &mut state.outstanding, session, zxid);
            self.propose(zxid, session, 0, txn)?;
        }
        let mut doomed = self.state().tree.container_candidates();
        doomed.extend(self.state().tree.expired_ttl_nodes(now_ms()));
        for path in doomed {
            let Some(zxid) = self.replica.peer().next_zxid() else {
                return Ok(());
            };
            let zxid = zxid.as_u64() as i64;
            let state = &mut self.replica.app;
            if let Ok(txn) =
                tree::prep::prep_delete_container(&state.tree, &mut state.outstanding, &path, zxid)
            {
                self.propose(zxid, 0, 0, txn)?;
            }
        }
        Ok(())
    }

    fn mode(&self) -> &'static str {
        match self.replica.phase() {
            zab::Phase::LeadingBroadcast if self.config.is_standalone() => "standalone",
            zab::Phase::LeadingBroadcast => "leader",
            zab::Phase::FollowingBroadcast => "follower",
            _ => "looking",
        }
    }

    fn four_letter_word(&mut self, word: &str) -> String {
        if !self.config.allows_four_letter_word(word) {
            return four_letter_words::not_allowed(word);
        }
        match word {
            "crst" => {
                for c in self.state_mut().conns.values_mut() {
                    c.latency = Default::default();
                    c.received = 0;
                    c.sent = 0;
                }
            }
            "srst" => self.state_mut().stats = Default::default(),
            _ => {}
        }
        let view = self.view();
        four_letter_words::answer(word, &view)
            .unwrap_or_else(|| format!("{word} is not a known command\n"))
    }

    /// What the four-letter words and metrics report.
    pub fn view(&self) -> ServerView {
        let state = self.state();
        let peer = self.replica.peer();
        let mut connections: Vec<ConnectionView> = state
            .conns
            .values()
            .map(|c| ConnectionView {
                remote: format!("/{}", c.remote),
                queued: c.queue.len() as u64,
                received: c.received,
                sent: c.sent,
                session_id: c.session_id,
                last_operation: c.last_op.to_string(),
                session_timeout_ms: c.timeout_ms.max(0) as u64,
                last_cxid: c.last_cxid,
                last_zxid: c.last_zxid,
                last_latency_ms: c.latency.last_ms,
                min_latency_ms: c.latency.min_ms,
                avg_latency_ms: c.latency.avg_ms(),
                max_latency_ms: c.latency.max_ms,
            })
            .collect();
        connections.sort_by(|a, b| a.remote.cmp(&b.remote));
        let session_of: HashMap<ConnId, i64> =
            state.conns.values().map(|c| (c.id, c.session_id)).collect();
        let sessions: Vec<(i64, u64)> = state
            .tree
            .sessions()
            .iter()
            .map(|(id, t)| (id, t.max(0) as u64))
            .collect();
        let ephemerals = sessions
            .iter()
            .map(|(id, _)| (*id, state.tree.ephemerals(*id)))
            .filter(|(_, paths)| !paths.is_empty())
            .collect();
        let cfg = &self.config;
        ServerView {
            mode: self.mode().to_string(),
            zxid: state.last_zxid(),
            epoch: peer.current_epoch().0,
            node_count: state.tree.node_count(),
            ephemerals_count: state.tree.sessions().ephemerals_count(),
            approximate_data_size: state.tree.approximate_data_size(),
            latency_min_ms: state.stats.latency.min_ms,
            latency_avg_ms: state.stats.latency.avg_ms(),
            latency_max_ms: state.stats.latency.max_ms,
            packets_received: state.stats.packets_received,
            packets_sent: state.stats.packets_sent,
            outstanding: state.pending_writes.len() as u64,
            connections,
            watch_count: state.watches.count(),
            watched_paths: state.watches.path_count(),
            watching_connections: state.watches.connection_count(),
            watches_by_session: state
                .watches
                .by_connection()
                .into_iter()
                .map(|(c, paths)| {
                    (
                        session_of.get(&c).copied().unwrap_or(0),
                        paths.into_iter().collect(),
                    )
                })
                .collect(),
            watches_by_path: state
                .watches
                .by_path()
                .into_iter()
                .map(|(p, conns)| {
                    (
                        p,
                        conns
                            .into_iter()
                            .map(|c| session_of.get(&c).copied().unwrap_or(0))
                            .collect(),
                    )
                })
                .collect(),
            sessions,
            ephemerals,
            config: vec![
                ("clientPort".into(), cfg.client_port.to_string()),
                ("dataDir".into(), cfg.data_dir.display().to_string()),
                ("dataLogDir".into(), cfg.data_log_dir.display().to_string()),
                ("tickTime".into(), cfg.tick_time.as_millis().to_string()),
                (
                    "maxClientCnxns".into(),
                    cfg.max_client_connections.to_string(),
                ),
                (
                    "minSessionTimeout".into(),
                    cfg.min_session_timeout.as_millis().to_string(),
                ),
                (
                    "maxSessionTimeout".into(),
                    cfg.max_session_timeout.as_millis().to_string(),
                ),
                ("serverId".into(), cfg.my_id.to_string()),
                ("initLimit".into(), cfg.init_limit.to_string()),
                ("syncLimit".into(), cfg.sync_limit.to_string()),
            ],
            read_only: false,
            followers: peer
                .followers()
                .into_iter()
                .map(|(id, synced)| (id.0, synced))
                .collect(),
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
            digest: state.tree.digest(),
            syncs: (
                peer.stats().sync_diff,
                peer.stats().sync_trunc,
                peer.stats().sync_snap,
            ),
            elections: peer.stats().elections,
            max_fds: 0,
        }
    }
}

fn op_name(request: &Request) -> &'static str {
    match request {
        Request::Ping => "PING",
        Request::Create(_)
        | Request::Create2(_)
        | Request::CreateContainer(_)
        | Request::CreateTtl(_) => "CREA",
        Request::Delete(_) => "DELE",
        Request::Exists(_) => "EXIS",
        Request::GetData(_) => "GETD",
        Request::SetData(_) => "SETD",
        Request::GetAcl(_) => "GETA",
        Request::SetAcl(_) => "SETA",
        Request::GetChildren(_) | Request::GetChildren2(_) => "GETC",
        Request::Sync(_) => "SYNC",
        Request::Multi(_) => "MULT",
        Request::CloseSession => "CLOS",
        _ => "OTHR",
    }
}
