//! Read-only mode in the core: a server looking for a leader long enough turns read-only
//! (see [`crate::read_only`]), accepts clients that connect with canBeReadOnly, answers their
//! reads from the tree it last applied and refuses what would change it; when it finds a
//! leader it closes every read-only connection, and the clients look for a read-write server.
//!
//! A read-only session is a local session (`localSessionsEnabled`, without which ZooKeeper 3.8
//! opens none here): nothing is proposed for it (there is no quorum to propose to) and the tree
//! never hears of it. It can be resumed on this server until it expires, and the ensemble never
//! knows it, so a client that takes it to a read-write server is told it expired and starts a
//! new one (what ZooKeeper 3.8 does).

use proto::{ConnectRequest, ErrorCode, ReplyPacket, Request, RequestPacket, Response};

use super::Core;
use crate::bugs::ServerBug;
use crate::clients::{ConnId, Credit, Owed};
use crate::read_only::{gate, Change, Gate};
use crate::replica::Storage;
use crate::session::{negotiate_timeout, password};

impl<S: Storage> Core<S> {
    /// Whether the server is read-only now.
    pub fn read_only(&self) -> bool {
        self.read_only.active()
    }

    /// Enters or leaves read-only mode as the Zab phase says (after every event).
    pub(super) fn update_read_only(&mut self) {
        let looking = self.replica.phase() == zab::Phase::Looking;
        let now_us = self.now().mono_us;
        match self.read_only.update(looking, now_us) {
            Change::None => {}
            Change::Entered => {
                tracing::info!("no quorum: serving read-only clients from the last applied state");
            }
            Change::Left => {
                // ZooKeeper shuts its read-only server down and closes every connection; the
                // clients reconnect and find a read-write server.
                tracing::info!("a leader is back: leaving read-only mode, closing its clients");
                self.state_mut().close_all();
            }
        }
    }

    /// A read-only client connects while the server is read-only (the zxid check is done).
    /// A session of this spell is resumed; one the ensemble made is not (ZooKeeper closes the
    /// connection: RENEW_GLOBAL_SESSION_IN_RO_MODE, and the client looks for a read-write
    /// server); an unknown one is expired. A new one is made here, as a local session.
    pub(super) fn connect_read_only(&mut self, conn: ConnId, request: &ConnectRequest) {
        let session = request.session_id;
        if session != 0 {
            return self.resume_read_only(conn, request);
        }
        if !self.config.local_sessions_enabled {
            // ZooKeeper 3.8's read-only server refuses a createSession that cannot be local
            // (its ReadOnlyRequestProcessor answers it NOT_READONLY in place of a
            // ConnectResponse, which the client drops): the client tries another server.
            tracing::info!(
                conn,
                "a read-only session needs localSessionsEnabled: refused"
            );
            self.state_mut().clients.close(conn, false);
            return;
        }
        let timeout_ms = negotiate_timeout(
            request.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        let now_us = self.now().mono_us;
        let session = self.state_mut().sessions.ids.next_id();
        if !self.read_only.sessions.open(session, timeout_ms, now_us) {
            tracing::warn!(conn, "too many read-only sessions: refused");
            self.state_mut().clients.close(conn, false);
            return;
        }
        crate::handshake::finish_read_only(self.state_mut(), conn, session, timeout_ms);
    }

    fn resume_read_only(&mut self, conn: ConnId, request: &ConnectRequest) {
        let session = request.session_id;
        let now_us = self.now().mono_us;
        if self.state().tree.sessions().contains(session) {
            self.refuse_ensemble_session(conn, session);
            return;
        }
        let timeout = (request.passwd[..] == password(session)[..])
            .then(|| self.read_only.sessions.resume(session, now_us))
            .flatten();
        let state = self.state_mut();
        let Some(timeout_ms) = timeout else {
            crate::handshake::refuse_expired_read_only(state, conn);
            return;
        };
        state.clients.close_other_connections(session, conn);
        crate::handshake::finish_read_only(state, conn, session, timeout_ms);
    }

    /// A session of the ensemble comes to the read-only server. ZooKeeper closes the
    /// connection of a global session (RENEW_GLOBAL_SESSION_IN_RO_MODE: the client keeps it and
    /// looks for a read-write server); with local sessions on, a session that never made an
    /// ephemeral node was local to its server, unknown here, and is told it expired (the client
    /// then opens a read-only session). Quorum's sessions are all global, so it tells them
    /// apart the way ZooKeeper would have made them.
    fn refuse_ensemble_session(&mut self, conn: ConnId, session: i64) {
        let local = self.config.local_sessions_enabled;
        let state = self.state_mut();
        let upgraded = !state.tree.ephemerals(session).is_empty();
        if local && !upgraded {
            crate::handshake::refuse_expired_read_only(state, conn);
        } else {
            tracing::info!(conn, "refusing to resume the ensemble's session read-only");
            state.clients.close(conn, false);
        }
    }

    /// Expires the read-only sessions not heard of within their timeout, closing their
    /// connections (ZooKeeper's local session tracker does the same).
    pub(super) fn expire_read_only_sessions(&mut self) {
        let now_us = self.now().mono_us;
        let expired = self.read_only.sessions.expire(now_us);
        self.close_sessions(expired);
    }

    /// Closes every connection of the `expired` sessions.
    pub(super) fn close_sessions(&mut self, expired: Vec<i64>) {
        if expired.is_empty() {
            return;
        }
        // A set: the walk over every connection must not search a long list for each.
        let expired: std::collections::HashSet<_> = expired.into_iter().collect();
        let state = self.state_mut();
        let conns: Vec<ConnId> = state
            .clients
            .iter()
            .filter(|c| expired.contains(&c.session_id))
            .map(|c| c.id)
            .collect();
        for conn in conns {
            state.clients.close(conn, false);
        }
    }

    /// Serves a request on a read-only server: reads in their turn, writes and syncs refused
    /// with NOT_READONLY in their turn, closeSession answered and the connection closed.
    pub(super) fn read_only_request(
        &mut self,
        conn: ConnId,
        session: i64,
        packet: RequestPacket,
        credit: Credit,
    ) {
        let xid = packet.header.xid;
        let zxid = self.state().last_zxid().as_i64();
        let now_us = self.now().mono_us;
        self.read_only.sessions.heard(session, now_us);
        match gate(&packet.request) {
            Gate::Auth => {
                let Request::Auth(auth) = &packet.request else {
                    return;
                };
                let reply = self.authenticate(conn, xid, auth);
                self.reply_in_order(conn, reply, credit);
            }
            Gate::Refuse => {
                let reply = if self.state().bugs.has(ServerBug::ReadOnlyWrites) {
                    ReplyPacket::ok(xid, zxid, Response::Empty)
                } else {
                    ReplyPacket::error(xid, zxid, ErrorCode::NotReadOnly)
                };
                self.reply_in_order(conn, reply, credit);
            }
            Gate::Close => {
                self.read_only.sessions.close(session);
                let reply = ReplyPacket::ok(xid, zxid, Response::Empty);
                self.reply_in_order(conn, reply, credit);
                self.state_mut().clients.close_in_order(conn);
                self.state_mut().drain(conn);
            }
            Gate::Read => {
                let item = Owed::Read {
                    packet,
                    started_us: now_us,
                    credit,
                };
                self.state_mut().enqueue(conn, item);
            }
        }
    }
}
