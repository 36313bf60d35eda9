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
use crate::replica::{NoPeers, Replica, ReplicaError};
use crate::session::{negotiate_timeout, password, SessionIds};
use crate::state::{Conn, PendingConnect, Queued, ServerState};
use crate::watches::ConnId;

/// The core task's state.
pub struct Core {
    pub config: Config,
    pub replica: Replica<ServerState, NoPeers>,
    session_ids: SessionIds,
    /// When each session was last heard from (requests and pings of its connection).
    session_seen: HashMap<i64, Instant>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Core {
    pub fn new(config: Config, replica: Replica<ServerState, NoPeers>) -> Core {
        let session_ids = SessionIds::new(config.my_id, now_ms() as u64);
        let mut core = Core {
            config,
            replica,
            session_ids,
            session_seen: HashMap::new(),
        };
        // A (re)started server restarts every session's clock instead of expiring it at once.
        let now = Instant::now();
        let sessions: Vec<i64> = core
            .state()
            .tree
            .sessions()
            .iter()
            .map(|(id, _)| id)
            .collect();
        for id in sessions {
            core.session_seen.insert(id, now);
        }
        core
    }

    fn state(&self) -> &ServerState {
        &self.replica.app
    }

    fn state_mut(&mut self) -> &mut ServerState {
        &mut self.replica.app
    }

    /// Handles one event. An error is fatal for the server.
    pub fn handle(&mut self, event: CoreEvent) -> Result<(), ReplicaError> {
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
        use crate::peers::codec::PeerFrame;
        match frame {
            PeerFrame::Zab(message) => self.replica.step(zab::Input::Message {
                from: zab::ServerId(from),
                message,
            }),
            other => {
                tracing::debug!(peer = from, frame = ?other, "ignoring a peer frame this server does not handle");
                Ok(())
            }
        }
    }

    /// One tick of Zab time (tickTime).
    pub fn tick(&mut self) -> Result<(), ReplicaError> {
        self.replica.step(Input::Tick)
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
        let Some(zxid) = self.replica.peer().next_zxid() else {
            // Not serving (no established leader here): the client tries another server.
            self.state_mut().close_connection(conn);
            return Ok(());
        };
        let zxid = zxid.as_u64() as i64;
        let txn = tree::prep::prep_create_session(
            &mut self.state_mut().outstanding,
            session,
            timeout,
            zxid,
        );
        self.state_mut().pending_connects.insert(
            session,
            PendingConnect {
                conn,
                timeout_ms: timeout,
            },
        );
        self.session_seen.insert(session, Instant::now());
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
        let item = Queued::Reply {
            reply,
            started: Instant::now(),
            permit: Some(permit),
        };
        self.state_mut().enqueue(conn, item);
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
        self.session_seen.insert(session, started);
        if let Some(code) = crate::state::session_error(self.state(), session) {
            let reply = ReplyPacket::error(xid, self.state().last_zxid(), code);
            self.state_mut().enqueue(
                conn,
                Queued::Reply {
                    reply,
                    started,
                    permit: Some(permit),
                },
            );
            self.state_mut().close_connection(conn);
            return Ok(());
        }
        match &packet.request {
            Request::Auth(auth) => {
                let reply = self.authenticate(conn, xid, auth);
                self.state_mut().enqueue(
                    conn,
                    Queued::Reply {
                        reply,
                        started,
                        permit: Some(permit),
                    },
                );
                Ok(())
            }
            Request::Sync(sync) => {
                // Everything proposed before the sync is applied before the answer.
                let zxid = self.replica.peer().last_zxid().as_u64() as i64;
                let item = Queued::Sync {
                    zxid,
                    xid,
                    path: sync.path.clone(),
                    started,
                    permit,
                };
                self.state_mut().enqueue(conn, item);
                Ok(())
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
        let Some(zxid) = self.replica.peer().next_zxid() else {
            let reply =
                ReplyPacket::error(xid, self.state().last_zxid(), ErrorCode::ConnectionLoss);
            self.state_mut().enqueue(
                conn,
                Queued::Reply {
                    reply,
                    started,
                    permit: Some(permit),
                },
            );
            self.state_mut().close_connection(conn);
            return Ok(());
        };
        let zxid = zxid.as_u64() as i64;
        let auth = self
            .state()
            .conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        let ctx = PrepCtx {
            zxid,
            session_id: session,
            auth: &auth,
            extended_types: self.config.extended_types_enabled,
            skip_acl: false,
        };
        let state = &mut self.replica.app;
        let prepped = tree::prep::prep(&state.tree, &mut state.outstanding, &packet.request, &ctx);
        match prepped {
            Err(code) => {
                let reply = ReplyPacket::error(xid, self.state().last_zxid(), code);
                self.state_mut().enqueue(
                    conn,
                    Queued::Reply {
                        reply,
                        started,
                        permit: Some(permit),
                    },
                );
                Ok(())
            }
            Ok(txn) => {
                if op == OpCode::CloseSession {
                    self.state_mut().closing.insert(session);
                }
                let state = self.state_mut();
                state.pending_writes.insert(zxid, conn);
                if let Some(c) = state.conns.get_mut(&conn) {
                    c.queue.push_back(Queued::Write {
                        zxid,
                        xid,
                        op,
                        started,
                        permit,
                    });
                }
                self.propose(zxid, session, xid, txn)
            }
        }
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
            followers: Vec::new(),
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
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
