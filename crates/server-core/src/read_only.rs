//! ZooKeeper's read-only mode (`readonlymode.enabled`): a member of an ensemble that has been
//! cut off from the quorum for a grace period keeps serving the clients that said they accept
//! a read-only server (the ConnectRequest's canBeReadOnly), from the state it last applied.
//!
//! What is decided here, without IO: when the mode starts and ends ([`ReadOnlyMode`]), which
//! requests a read-only server answers and which it refuses ([`gate`]), and the sessions made
//! in the current read-only spell ([`LocalSessions`](crate::local_sessions::LocalSessions)). The core (`core/read_only.rs`) acts
//! on it.

use crate::local_sessions::LocalSessions;

use proto::Request;

/// The least time a server looks for a leader before it turns read-only, in ms: ZooKeeper
/// waits `max(2000 ms, tickTime)` so that an ordinary election does not flap the mode.
pub const READ_ONLY_GRACE_MS: u64 = 2000;

/// What a read-only server does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Answered from the local tree, in its turn (reads, pings, watch registration).
    Read,
    /// Answered NOT_READONLY: it would change state, or (sync) needs a leader.
    Refuse,
    /// Authentication, answered locally as on any server.
    Auth,
    /// closeSession: the session is local to this server, so it ends here.
    Close,
}

/// Which requests a read-only server serves. ZooKeeper's ReadOnlyRequestProcessor refuses
/// sync, create (all kinds), delete, setData, setACL, reconfig, check and multi (even a multi
/// of checks); everything else goes on to be answered locally, closeSession included.
pub fn gate(request: &Request) -> Gate {
    match request {
        Request::Auth(_) => Gate::Auth,
        Request::CloseSession => Gate::Close,
        Request::Sync(_) => Gate::Refuse,
        r if tree::prep::is_write(r) => Gate::Refuse,
        _ => Gate::Read,
    }
}

/// A change of mode decided by [`ReadOnlyMode::update`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    None,
    /// The server turned read-only: it now accepts read-only clients.
    Entered,
    /// The server left read-only mode (it found a leader): every read-only connection closes.
    Left,
}

/// When the server is read-only.
#[derive(Debug)]
pub struct ReadOnlyMode {
    enabled: bool,
    grace_us: u64,
    /// Since when (monotonic µs) the server has been looking for a leader, while it is.
    looking_since_us: Option<u64>,
    active: bool,
    /// The sessions made in the current spell (forgotten when it ends).
    pub sessions: LocalSessions,
}

impl ReadOnlyMode {
    /// `enabled` is `readonlymode.enabled`; the grace is ZooKeeper's `max(2 s, tickTime)`.
    pub fn new(enabled: bool, tick_ms: u64) -> ReadOnlyMode {
        ReadOnlyMode {
            enabled,
            grace_us: READ_ONLY_GRACE_MS.max(tick_ms) * 1000,
            looking_since_us: None,
            active: false,
            sessions: LocalSessions::default(),
        }
    }

    /// Whether the server is read-only now.
    pub fn active(&self) -> bool {
        self.active
    }

    /// Notes whether the server is looking for a leader at `now_us`.
    pub fn update(&mut self, looking: bool, now_us: u64) -> Change {
        if !looking {
            self.looking_since_us = None;
            if self.active {
                self.active = false;
                self.sessions = LocalSessions::default();
                return Change::Left;
            }
            return Change::None;
        }
        let since = *self.looking_since_us.get_or_insert(now_us);
        if self.enabled && !self.active && now_us.saturating_sub(since) >= self.grace_us {
            self.active = true;
            return Change::Entered;
        }
        Change::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn turns_read_only_after_the_grace_and_back_when_the_quorum_returns() {
        let mut mode = ReadOnlyMode::new(true, 500);
        assert_eq!(mode.update(true, 10_000 * MS), Change::None);
        assert_eq!(mode.update(true, 11_999 * MS), Change::None);
        assert!(!mode.active());
        assert_eq!(mode.update(true, 12_000 * MS), Change::Entered);
        assert!(mode.active());
        assert!(mode.sessions.open(8, 4000, 12_000 * MS));
        assert_eq!(mode.update(true, 13_000 * MS), Change::None);
        assert_eq!(mode.update(false, 14_000 * MS), Change::Left);
        assert!(
            !mode.active() && !mode.sessions.contains(8),
            "sessions end with the spell"
        );
        assert_eq!(mode.update(false, 15_000 * MS), Change::None);
    }

    #[test]
    fn the_grace_is_a_tick_when_ticks_are_longer_and_restarts_with_each_election() {
        let mut mode = ReadOnlyMode::new(true, 3000);
        mode.update(true, 0);
        assert_eq!(mode.update(true, 2999 * MS), Change::None);
        mode.update(false, 2999 * MS);
        mode.update(true, 4000 * MS);
        assert_eq!(mode.update(true, 6999 * MS), Change::None);
        assert_eq!(mode.update(true, 7000 * MS), Change::Entered);
    }

    #[test]
    fn never_read_only_unless_enabled() {
        let mut mode = ReadOnlyMode::new(false, 2000);
        mode.update(true, 0);
        assert_eq!(mode.update(true, 1_000_000 * MS), Change::None);
        assert!(!mode.active());
    }

    #[test]
    fn the_gate_is_zookeepers() {
        use proto::*;
        let path = || "/a".to_string();
        let read = [
            Request::Ping,
            Request::GetData(GetDataRequest {
                path: path(),
                watch: true,
            }),
            Request::Exists(ExistsRequest {
                path: path(),
                watch: false,
            }),
            Request::GetChildren2(GetChildrenRequest {
                path: path(),
                watch: false,
            }),
            Request::GetAcl(GetAclRequest { path: path() }),
        ];
        for r in &read {
            assert_eq!(gate(r), Gate::Read, "{r:?}");
        }
        let refused = [
            Request::Sync(SyncRequest { path: path() }),
            Request::Delete(DeleteRequest {
                path: path(),
                version: -1,
            }),
            Request::SetData(SetDataRequest {
                path: path(),
                data: Default::default(),
                version: -1,
            }),
            Request::Multi(Vec::new()),
        ];
        for r in &refused {
            assert_eq!(gate(r), Gate::Refuse, "{r:?}");
        }
        assert_eq!(gate(&Request::CloseSession), Gate::Close);
    }
}
