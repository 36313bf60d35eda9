//! Which local connection each write in flight belongs to.
//!
//! A write leaves this server (forwarded to the leader, or proposed here) and comes back as a
//! transaction whose header carries the session and the client's xid. A session's writes go to
//! the leader in order over one link and the leader preps them in arrival order, so they are
//! applied in the order they were sent: the next transaction of a session answers the oldest
//! write still in flight for it. Matching by order rather than by xid alone means a client
//! that reuses an xid is answered in order instead of stalling, and a transaction prepped for
//! the same session elsewhere (the session moved) matches nothing here.

use std::collections::{BTreeMap, VecDeque};

use crate::clients::ConnId;

/// Writes in flight per session, oldest first: (connection, xid).
#[derive(Debug, Default)]
pub struct PendingWrites {
    by_session: BTreeMap<i64, VecDeque<(ConnId, i32)>>,
    count: usize,
}

impl PendingWrites {
    /// A write of `session` with `xid` left from `conn`.
    pub fn push(&mut self, session: i64, conn: ConnId, xid: i32) {
        self.by_session
            .entry(session)
            .or_default()
            .push_back((conn, xid));
        self.count += 1;
    }

    /// The connection a transaction of `session` with `xid` answers, if it is the oldest write
    /// in flight for that session.
    pub fn take(&mut self, session: i64, xid: i32) -> Option<ConnId> {
        let queue = self.by_session.get_mut(&session)?;
        let &(conn, oldest) = queue.front()?;
        if oldest != xid {
            return None;
        }
        queue.pop_front();
        if queue.is_empty() {
            self.by_session.remove(&session);
        }
        self.count -= 1;
        Some(conn)
    }

    /// When a transaction of `session` with `xid` answers a write in flight here that is not
    /// the oldest, the older ones were lost on their way (a session's writes are applied in
    /// the order this server sent them): they are dropped, and their connections returned, to
    /// be closed rather than wait forever. A transaction that answers nothing here (prepped
    /// for another server) leaves everything as it is.
    pub fn lost_before(&mut self, session: i64, xid: i32) -> Vec<ConnId> {
        let Some(queue) = self.by_session.get_mut(&session) else {
            return Vec::new();
        };
        let Some(at) = queue.iter().position(|&(_, x)| x == xid) else {
            return Vec::new();
        };
        let lost: Vec<ConnId> = queue.drain(..at).map(|(conn, _)| conn).collect();
        self.count -= lost.len();
        lost
    }

    /// Writes in flight.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forgets everything (the server stopped serving; its connections are closed).
    pub fn clear(&mut self) {
        self.by_session.clear();
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_xid_is_matched_in_order() {
        let mut p = PendingWrites::default();
        p.push(7, 1, 5);
        p.push(7, 1, 5);
        p.push(7, 2, 6);
        assert_eq!(p.take(7, 5), Some(1));
        assert_eq!(p.take(7, 6), None, "not the oldest");
        assert_eq!(p.take(7, 5), Some(1));
        assert_eq!(p.take(7, 6), Some(2));
        assert!(p.is_empty());
    }

    #[test]
    fn writes_lost_before_an_answered_one_are_given_up() {
        let mut p = PendingWrites::default();
        p.push(7, 1, 10);
        p.push(7, 2, 11);
        p.push(7, 1, 12);
        assert_eq!(p.take(7, 12), None);
        assert_eq!(p.lost_before(7, 12), [1, 2]);
        assert_eq!(p.take(7, 12), Some(1));
        assert!(p.is_empty());
        assert!(p.lost_before(7, 99).is_empty());
    }

    #[test]
    fn another_servers_write_matches_nothing() {
        let mut p = PendingWrites::default();
        p.push(7, 1, 10);
        assert_eq!(p.take(7, 3), None);
        assert_eq!(p.take(8, 10), None);
        assert_eq!(p.len(), 1);
    }
}
