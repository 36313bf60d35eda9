//! Connect requests: a new session is created through the leader (a createSession transaction),
//! a resumed one is checked here and claimed for this server.

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
        if !serving {
            // No established leader here: the client tries another server.
            state.clients.close(conn, false);
            return Ok(());
        }
        if request.last_zxid_seen > our_last {
            // The client saw more than this server has: it must find a server that is not
            // behind (ZooKeeper refuses the same way).
            tracing::info!(
                conn,
                client = request.last_zxid_seen,
                ours = our_last,
                "refusing a client that is ahead of us"
            );
            state.clients.close(conn, false);
            return Ok(());
        }
        if request.session_id != 0 {
            self.resume(conn, &request);
            return Ok(());
        }
        self.new_session(conn, &request)
    }

    /// A client resumes its session here. Any other connection of the session on this server
    /// is closed, and the leader learns that this server now holds it, so that writes still
    /// coming from a server it left are answered SESSIONMOVED (ZooKeeper does both).
    fn resume(&mut self, conn: ConnId, request: &ConnectRequest) {
        let session = request.session_id;
        let now = self.now().mono_us;
        let my_id = self.config.my_id;
        let leading = self.leading();
        let leader = self.leader_id();
        let state = self.state_mut();
        let timeout = state.tree.sessions().timeout(session);
        let valid =
            !state.sessions.is_closing(session) && request.passwd[..] == password(session)[..];
        let Some(timeout) = timeout.filter(|_| valid) else {
            crate::handshake::refuse_expired(state, conn);
            return;
        };
        let others: Vec<ConnId> = state
            .clients
            .iter()
            .filter(|c| c.session_id == session && c.id != conn)
            .map(|c| c.id)
            .collect();
        for other in others {
            tracing::debug!(
                conn = other,
                session = format!("0x{session:x}"),
                "session resumed on another connection: closing the old one"
            );
            state.clients.close(other, true);
        }
        if leading {
            state.sessions.set_owner(session, my_id);
            state.sessions.heard(session, now);
            crate::handshake::finish(state, conn, session, timeout);
        } else if let Some(leader) = leader {
            // As ZooKeeper's REVALIDATE: the handshake finishes once the leader recorded the
            // move, so nothing the client sends through the server it left can overtake it.
            state.sessions.touch(session);
            let pending = Connecting {
                conn,
                timeout_ms: timeout,
            };
            state.sessions.start_resuming(session, pending);
            self.send_peer(leader, PeerFrame::Attach { session });
        } else {
            state.clients.close(conn, false);
        }
    }

    /// On the leader: a follower's client resumes `session` there.
    pub(super) fn attach(&mut self, from: u64, session: i64) {
        let now = self.now().mono_us;
        let state = self.state_mut();
        let valid = state.tree.sessions().contains(session) && !state.sessions.is_closing(session);
        if valid {
            state.sessions.heard(session, now);
            state.sessions.set_owner(session, from);
        }
        self.send_peer(from, PeerFrame::Attached { session, valid });
    }

    /// On a follower: the leader answered a resume.
    pub(super) fn attached(&mut self, session: i64, valid: bool) {
        let state = self.state_mut();
        let Some(pending) = state.sessions.finish_resuming(session) else {
            return;
        };
        if valid {
            crate::handshake::finish(state, pending.conn, session, pending.timeout_ms);
        } else {
            crate::handshake::refuse_expired(state, pending.conn);
        }
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
        let zxid = zxid.as_u64() as i64;
        let txn = tree::prep::prep_create_session(
            &mut self.state_mut().outstanding,
            session,
            timeout_ms,
            zxid,
        );
        self.propose(zxid, session, 0, txn)
    }
}
