//! Time-driven work: the leader expires sessions not heard from within their timeout and
//! removes expired TTL nodes and empty containers; every server closes connections that did
//! not establish a session in time.

use super::Core;
use crate::clients::{ConnId, Stage};
use crate::clock::Now;
use crate::replica::ReplicaError;
use crate::replica::Storage;

impl<S: Storage> Core<S> {
    /// Runs the time-driven work due at `now`.
    pub fn expire(&mut self, now: Now) -> Result<(), ReplicaError> {
        self.begin(now);
        self.close_sessionless_connections();
        self.expire_read_only_sessions();
        self.expire_local_sessions();
        let result = if self.replica.peer().is_leading() {
            self.expire_sessions()
                .and_then(|()| self.remove_expired_nodes())
        } else {
            Ok(())
        };
        let after = self.after_event();
        result.and(after)
    }

    /// Closes connections without a session `sessionless_connection_timeout_ms` after they
    /// were accepted: a stranger who opens connections and says nothing holds no file
    /// descriptor for long (ZooKeeper's sessionlessCnxnTimeout).
    fn close_sessionless_connections(&mut self) {
        let now = self.now();
        let state = self.state_mut();
        let timeout_ms = state.clients.limits().sessionless_connection_timeout_ms;
        let idle: Vec<ConnId> = state
            .clients
            .iter()
            .filter(|c| matches!(c.stage, Stage::Greeting | Stage::Connecting))
            .filter(|c| now.ms_since(c.accepted_us) >= timeout_ms)
            .map(|c| c.id)
            .collect();
        for conn in idle {
            tracing::debug!(conn, "no session established in time: closing");
            state.clients.close(conn, false);
        }
    }

    /// The leader proposes closeSession for every session not heard from within its timeout.
    fn expire_sessions(&mut self) -> Result<(), ReplicaError> {
        let now = self.now().mono_us;
        let sessions: Vec<(i64, i32)> = self.state().tree.sessions().iter().collect();
        for (session, timeout_ms) in sessions {
            let book = &mut self.state_mut().sessions;
            if book.is_closing(session) || book.is_connecting(session) {
                continue;
            }
            let seen = book.last_heard(session, now);
            if now.saturating_sub(seen) < (timeout_ms.max(0) as u64) * 1000 {
                continue;
            }
            let Some(zxid) = self.replica.peer().next_zxid() else {
                return Ok(());
            };
            tracing::info!(session = format!("0x{session:x}"), "session expired");
            let state = &mut self.replica.app;
            state.sessions.start_closing(session);
            let txn =
                tree::prep::prep_close_session(&state.tree, &mut state.outstanding, session, zxid);
            self.propose(zxid, session, 0, txn)?;
        }
        Ok(())
    }

    /// The leader deletes TTL nodes past their time and empty containers.
    fn remove_expired_nodes(&mut self) -> Result<(), ReplicaError> {
        let wall_ms = self.now().wall_ms;
        let mut doomed = self.state().tree.container_candidates();
        doomed.extend(self.state().tree.expired_ttl_nodes(wall_ms));
        for path in doomed {
            let Some(zxid) = self.replica.peer().next_zxid() else {
                return Ok(());
            };
            let state = &mut self.replica.app;
            if let Ok(txn) =
                tree::prep::prep_delete_container(&state.tree, &mut state.outstanding, &path, zxid)
            {
                self.propose(zxid, 0, 0, txn)?;
            }
        }
        Ok(())
    }
}
