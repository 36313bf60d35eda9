//! Local sessions while serving (`localSessionsEnabled`), as ZooKeeper 3.5+ keeps them: a new
//! session lives on the server the client connected to — no transaction opens, pings or closes
//! it — and can be resumed there only (elsewhere it is unknown, so expired). Its reads, watches
//! and writes work as a global session's; the leader takes a write from a session it does not
//! know for a local session of the server that forwarded it, when that server made it (the id
//! carries its maker, [`crate::session::server_of`]). Before its first ephemeral create the
//! session is upgraded: this server asks the leader for a createSession of the same id and
//! timeout, ahead of the create on the same link, so the node gets a global owner that expiry
//! and closeSession clean up. With `localSessionsUpgradingEnabled=false` (ZooKeeper 3.8's
//! default) that create fails with EPHEMERALONLOCALSESSION instead, and an ephemeral create in
//! a multi fails in the multi's results with SESSIONEXPIRED, as ZooKeeper's leader answers it.

use proto::{ConnectRequest, CreateMode, ErrorCode, MultiOp, ReplyPacket, Request, Response};

use super::Core;
use crate::clients::{ConnId, Credit};
use crate::peers::codec::PeerFrame;
use crate::replica::{ReplicaError, Storage};
use crate::session::{negotiate_timeout, password, server_of};

/// What became of a write from a local session.
pub(super) enum LocalWrite {
    /// Go on as any write.
    Proceed,
    /// Answered here (closeSession, or an ephemeral create without upgrading).
    Answered,
}

impl<S: Storage> Core<S> {
    /// Opens a local session for a new client, answered at once. False when the table is full
    /// (the connection is closed: the client tries again or elsewhere).
    pub(super) fn new_local_session(&mut self, conn: ConnId, request: &ConnectRequest) -> bool {
        let timeout_ms = negotiate_timeout(
            request.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        let now_us = self.now().mono_us;
        let state = self.state_mut();
        let session = state.sessions.ids.next_id();
        if !state.local_sessions.open(session, timeout_ms, now_us) {
            tracing::warn!(conn, "too many local sessions: refused");
            state.clients.close(conn, false);
            return false;
        }
        crate::handshake::finish(state, conn, session, timeout_ms);
        true
    }

    /// Resumes `session` if it is a local session of this server; false if it is not one.
    pub(super) fn resume_local(&mut self, conn: ConnId, request: &ConnectRequest) -> bool {
        let session = request.session_id;
        let now_us = self.now().mono_us;
        let state = self.state_mut();
        if !state.local_sessions.contains(session) {
            return false;
        }
        if request.passwd[..] != password(session)[..] {
            crate::handshake::refuse_expired(state, conn);
            return true;
        }
        let timeout_ms = state
            .local_sessions
            .resume(session, now_us)
            .expect("the session is open");
        state.clients.close_other_connections(session, conn);
        crate::handshake::finish(state, conn, session, timeout_ms);
        true
    }

    /// A write of session `session`, if it is local here: closeSession ends it here, and an
    /// ephemeral create upgrades it first (or is refused).
    pub(super) fn local_write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        request: &Request,
        credit: Credit,
    ) -> Result<LocalWrite, ReplicaError> {
        let Some(timeout_ms) = self.state().local_sessions.timeout(session) else {
            return Ok(LocalWrite::Proceed);
        };
        let zxid = self.state().last_zxid().as_i64();
        if let Request::CloseSession = request {
            let state = self.state_mut();
            state.local_sessions.close(session);
            self.reply_in_order(conn, ReplyPacket::ok(xid, zxid, Response::Empty), credit);
            self.state_mut().clients.close_in_order(conn);
            self.state_mut().drain(conn);
            return Ok(LocalWrite::Answered);
        }
        if !creates_ephemeral(request) {
            return Ok(LocalWrite::Proceed);
        }
        if !self.config.local_sessions_upgrading_enabled {
            if let Request::Multi(_) = request {
                // ZooKeeper's leader fails the op (SESSIONEXPIRED, in the multi's results).
                return Ok(LocalWrite::Proceed);
            }
            let code = ErrorCode::EphemeralOnLocalSession;
            self.reply_in_order(conn, ReplyPacket::error(xid, zxid, code), credit);
            return Ok(LocalWrite::Answered);
        }
        self.upgrade(session, timeout_ms)?;
        Ok(LocalWrite::Proceed)
    }

    /// Makes a local session global: a createSession of the same id goes to the leader ahead
    /// of the write that needs it.
    fn upgrade(&mut self, session: i64, timeout_ms: i32) -> Result<(), ReplicaError> {
        tracing::debug!(session, "upgrading a local session");
        let now = self.now().mono_us;
        let me = self.config.my_id;
        let leader = self.leader_id();
        let state = self.state_mut();
        state.local_sessions.close(session);
        state.upgrading.insert(session);
        if self.leading() {
            let state = self.state_mut();
            state.sessions.heard(session, now);
            state.sessions.set_owner(session, me);
            return self.create_session(session, timeout_ms);
        }
        if let Some(leader) = leader {
            let frame = PeerFrame::CreateSession {
                session,
                timeout_ms,
            };
            self.send_peer(leader, frame);
        }
        Ok(())
    }

    /// On the leader: whether `session`, in a request from server `origin`, is a local session
    /// of `origin` — its own table's when it is this server; otherwise one the tree has neither
    /// open nor pending, made by `origin` (ZooKeeper takes any unknown session from another
    /// server for a local one; the maker's id in the session narrows that to the only server
    /// that can hold it).
    pub(super) fn is_local_session(&self, origin: u64, session: i64) -> bool {
        if !self.config.local_sessions_enabled {
            return false;
        }
        let state = self.state();
        if origin == self.config.my_id {
            return state.local_sessions.contains(session);
        }
        server_of(session) == origin & 0xff
            && !state.tree.sessions().contains(session)
            && state.outstanding.session(session).is_none()
    }

    /// Closes the connections of local sessions not heard of within their timeout.
    pub(super) fn expire_local_sessions(&mut self) {
        let now_us = self.now().mono_us;
        let expired = self.state_mut().local_sessions.expire(now_us);
        self.close_sessions(expired);
    }
}

/// Whether the request creates an ephemeral node (itself or in a multi).
fn creates_ephemeral(request: &Request) -> bool {
    let ephemeral = |flags: i32| CreateMode::try_from(flags).is_ok_and(|m| m.is_ephemeral());
    match request {
        Request::Create(r) | Request::Create2(r) => ephemeral(r.flags),
        Request::Multi(ops) => ops.iter().any(|op| match op {
            MultiOp::Create(r) | MultiOp::Create2(r) => ephemeral(r.flags),
            _ => false,
        }),
        _ => false,
    }
}
