//! Connect requests: a new session is created through the leader (a createSession transaction),
//! or here as a local one (`localSessionsEnabled`, `local_sessions.rs`); a resumed one is
//! checked here and claimed for this server.

use proto::ConnectRequest;

use super::Core;
use crate::clients::{ConnId, Stage};
use crate::peers::codec::PeerFrame;
use crate::replica::ReplicaError;
use crate::replica::Storage;
use crate::session::{negotiate_timeout, password};
use crate::sessions::Connecting;

impl<S: Storage> Core<S> {
    /// A connection sent its ConnectRequest.
    pub(super) fn connect(
        &mut self,
        conn: ConnId,
        request: ConnectRequest,
    ) -> Result<(), ReplicaError> {
        let serving = self.serving();
        let read_only = !serving && self.read_only() && request.read_only;
        let our_last = self.state().last_zxid();
        let state = self.state_mut();
        let Some(c) = state.clients.get_mut(conn) else {
            return Ok(());
        };
        if c.stage != Stage::Greeting {
            tracing::warn!(conn, "a second ConnectRequest: closing the connection");
            state.clients.close(conn, false);
            return Ok(());
        }
        c.stage = Stage::Connecting;
        state.clients.stats.packets_received += 1;
        if !serving && !read_only {
            // No established leader here (and, if read-only, a client that wants to write):
            // the client tries another server, as ZooKeeper makes it.
            state.clients.close(conn, false);
            return Ok(());
        }
        if request.last_zxid_seen > our_last.as_i64() {
            // The client saw more than this server has: it must find a server that is not
            // behind (ZooKeeper refuses the same way).
            tracing::info!(
                conn,
                client = request.last_zxid_seen,
                ours = %our_last,
                "refusing a client that is ahead of us"
            );
            state.clients.close(conn, false);
            return Ok(());
        }
        if read_only {
            self.connect_read_only(conn, &request);
            return Ok(());
        }
        if request.session_id != 0 {
            if !self.resume_local(conn, &request) {
                self.resume(conn, &request);
            }
            return Ok(());
        }
        if self.config.local_sessions_enabled {
            self.new_local_session(conn, &request);
            return Ok(());
        }
        self.new_session(conn, &request)
    }

    /// A client resumes its session here. The leader decides whether the session is still open
    /// (a follower that lags would wrongly find it unknown) and records that this server now
    /// holds it, so that writes still coming from a server it left are answered SESSIONMOVED
    /// (ZooKeeper's REVALIDATE); it answers once a quorum confirmed it still leads. Then any
    /// other connection of the session here is closed (ZooKeeper does that too).
    fn resume(&mut self, conn: ConnId, request: &ConnectRequest) {
        let session = request.session_id;
        let my_id = self.config.my_id;
        let leading = self.leading();
        let leader = self.leader_id();
        if request.passwd[..] != password(session)[..] {
            crate::handshake::refuse_expired(self.state_mut(), conn);
            return;
        }
        if leading {
            let timeout = self.attach(my_id, session).unwrap_or(0);
            if let Err(e) = self.confirm_resume(my_id, session, timeout, Some(conn)) {
                tracing::error!(error = %e, "confirming leadership for a resume failed");
            }
        } else if let Some(leader) = leader {
            let state = self.state_mut();
            state.sessions.touch(session);
            let pending = Connecting {
                conn,
                timeout_ms: 0,
            };
            state.sessions.start_resuming(session, pending);
            self.send_peer(leader, PeerFrame::Attach { session });
        } else {
            self.state_mut().clients.close(conn, false);
        }
    }

    /// Finishes resuming `session` on `conn` with the timeout the leader gave (none: the
    /// session is gone), closing any other connection of the session here.
    pub(super) fn resumed(&mut self, conn: ConnId, session: i64, timeout_ms: Option<i32>) {
        let state = self.state_mut();
        let Some(timeout) = timeout_ms else {
            crate::handshake::refuse_expired(state, conn);
            return;
        };
        state.clients.close_other_connections(session, conn);
        crate::handshake::finish(state, conn, session, timeout);
    }

    /// On the leader: a client resumes `session` at server `from` (this one included). Returns
    /// its timeout when it is open, having recorded that `from` now holds it.
    pub(super) fn attach(&mut self, from: u64, session: i64) -> Option<i32> {
        let now = self.now().mono_us;
        let state = self.state_mut();
        let closing = state.sessions.is_closing(session);
        let timeout = state
            .tree
            .sessions()
            .timeout(session)
            .filter(|_| !closing)?;
        state.sessions.heard(session, now);
        state.sessions.set_owner(session, from);
        Some(timeout)
    }

    /// On the leader: a follower asks to resume `session` for one of its clients; answered
    /// once a quorum confirmed this server still leads (a deposed leader that has not noticed
    /// must not record the move).
    pub(super) fn attach_for(&mut self, from: u64, session: i64) -> Result<(), ReplicaError> {
        let timeout_ms = self.attach(from, session).unwrap_or(0);
        self.confirm_resume(from, session, timeout_ms, None)
    }

    /// On a follower: the leader answered a resume (`timeout_ms` 0: the session is gone).
    pub(super) fn attached(&mut self, session: i64, timeout_ms: i32) {
        let Some(pending) = self.state_mut().sessions.finish_resuming(session) else {
            return;
        };
        let timeout = (timeout_ms > 0).then_some(timeout_ms);
        self.resumed(pending.conn, session, timeout);
    }

    /// A client asks for a new session: the leader proposes it; the answer waits for the
    /// createSession transaction to be applied here.
    fn new_session(&mut self, conn: ConnId, request: &ConnectRequest) -> Result<(), ReplicaError> {
        let timeout_ms = negotiate_timeout(
            request.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        let leading = self.leading();
        let leader = self.leader_id();
        let now = self.now().mono_us;
        let state = self.state_mut();
        let session = state.sessions.ids.next_id();
        state
            .sessions
            .start_connecting(session, Connecting { conn, timeout_ms });
        if leading {
            let me = self.config.my_id;
            let state = self.state_mut();
            state.sessions.heard(session, now);
            state.sessions.set_owner(session, me);
            self.create_session(session, timeout_ms)
        } else if let Some(leader) = leader {
            let frame = PeerFrame::CreateSession {
                session,
                timeout_ms,
            };
            self.send_peer(leader, frame);
            Ok(())
        } else {
            let state = self.state_mut();
            state.sessions.finish_connecting(session);
            state.clients.close(conn, false);
            Ok(())
        }
    }

    /// On the leader: proposes a new session.
    pub(super) fn create_session(
        &mut self,
        session: i64,
        timeout_ms: i32,
    ) -> Result<(), ReplicaError> {
        let Some(zxid) = self.replica.peer().next_zxid() else {
            return Ok(());
        };
        let txn = tree::prep::prep_create_session(
            &mut self.state_mut().outstanding,
            session,
            timeout_ms,
            zxid,
        );
        self.propose(zxid, session, 0, txn)
    }
}
