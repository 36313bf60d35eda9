//! What this server keeps about sessions beyond the replicated sessions table in the tree,
//! in one place: which are being created or closed, when each was last heard from, and which
//! server holds each session's connection.

use std::collections::{BTreeMap, BTreeSet};

use crate::clients::ConnId;
use crate::session::SessionIds;

/// A new session waiting for its createSession transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connecting {
    pub conn: ConnId,
    pub timeout_ms: i32,
}

/// Session bookkeeping.
#[derive(Debug)]
pub struct SessionBook {
    pub ids: SessionIds,
    /// On the leader: when each session was last heard from (monotonic µs), here or at a
    /// follower. A new leader starts every session's clock afresh.
    seen: BTreeMap<i64, u64>,
    /// On a follower: sessions heard from since the last tick, reported to the leader.
    touched: BTreeSet<i64>,
    /// On the leader: the server holding each session's connection. A write from any other
    /// server is answered SESSIONMOVED (ZooKeeper's session owner).
    owner: BTreeMap<i64, u64>,
    /// Sessions whose closeSession was proposed (leader) or asked for (here).
    closing: BTreeSet<i64>,
    /// New sessions waiting for their createSession to commit.
    connecting: BTreeMap<i64, Connecting>,
    /// On a follower: sessions a client resumes here, waiting for the leader's `Attached`.
    resuming: BTreeMap<i64, Connecting>,
}

impl SessionBook {
    pub fn new(ids: SessionIds) -> SessionBook {
        SessionBook {
            ids,
            seen: BTreeMap::new(),
            touched: BTreeSet::new(),
            owner: BTreeMap::new(),
            closing: BTreeSet::new(),
            connecting: BTreeMap::new(),
            resuming: BTreeMap::new(),
        }
    }

    /// The leader heard from `session` at `now_us`.
    pub fn heard(&mut self, session: i64, now_us: u64) {
        self.seen.insert(session, now_us);
    }

    /// The leader heard from these sessions through a follower: only known ones are renewed.
    pub fn heard_known(&mut self, sessions: &[i64], now_us: u64) {
        for session in sessions {
            if let Some(seen) = self.seen.get_mut(session) {
                *seen = now_us;
            }
        }
    }

    /// When the leader last heard from `session`, starting its clock now if it never did.
    pub fn last_heard(&mut self, session: i64, now_us: u64) -> u64 {
        *self.seen.entry(session).or_insert(now_us)
    }

    /// A follower's client used `session`.
    pub fn touch(&mut self, session: i64) {
        self.touched.insert(session);
    }

    /// The sessions touched since the last call, in order.
    pub fn take_touched(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    /// Records that server `server` now holds `session`'s connection.
    pub fn set_owner(&mut self, session: i64, server: u64) {
        self.owner.insert(session, server);
    }

    /// Whether a write of `session` from server `origin` may be prepped: the session is not
    /// held by another server. A session nobody claimed yet (a new leader) is `origin`'s.
    pub fn owned_by(&mut self, session: i64, origin: u64) -> bool {
        *self.owner.entry(session).or_insert(origin) == origin
    }

    /// The session's holder, as the leader knows it.
    pub fn owner(&self, session: i64) -> Option<u64> {
        self.owner.get(&session).copied()
    }

    pub fn is_closing(&self, session: i64) -> bool {
        self.closing.contains(&session)
    }

    pub fn start_closing(&mut self, session: i64) {
        self.closing.insert(session);
    }

    /// `session` was closed (its closeSession applied): forget it.
    pub fn closed(&mut self, session: i64) {
        self.closing.remove(&session);
        self.seen.remove(&session);
        self.owner.remove(&session);
        self.touched.remove(&session);
    }

    pub fn start_connecting(&mut self, session: i64, pending: Connecting) {
        self.connecting.insert(session, pending);
    }

    pub fn is_connecting(&self, session: i64) -> bool {
        self.connecting.contains_key(&session)
    }

    /// The connection waiting for `session`'s createSession, if any.
    pub fn finish_connecting(&mut self, session: i64) -> Option<Connecting> {
        self.connecting.remove(&session)
    }

    /// Forgets what a leader must not carry into another leadership: sessions' clocks, owners
    /// and closings proposed under it. A new leader (`leading`) starts every session in
    /// `sessions` afresh at `now_us` rather than expire sessions it did not watch.
    pub fn new_leadership(&mut self, leading: bool, sessions: &[i64], now_us: u64) {
        self.seen.clear();
        self.owner.clear();
        self.closing.clear();
        if leading {
            for &session in sessions {
                self.seen.insert(session, now_us);
            }
        }
    }

    /// A client resumes `session` here; the leader is asked to confirm it.
    pub fn start_resuming(&mut self, session: i64, pending: Connecting) {
        self.resuming.insert(session, pending);
    }

    /// The connection waiting for the leader to confirm `session`, if any.
    pub fn finish_resuming(&mut self, session: i64) -> Option<Connecting> {
        self.resuming.remove(&session)
    }

    /// Forgets the sessions being created or resumed here (the server stopped serving: their
    /// connections are closed).
    pub fn forget_connecting(&mut self) {
        self.connecting.clear();
        self.resuming.clear();
    }
}
