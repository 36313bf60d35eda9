//! Sessions that live on one server only (ZooKeeper's local sessions, `localSessionsEnabled`):
//! opened, resumed and expired here, without a transaction; the ensemble never hears of one
//! unless it is upgraded to a global session (its first ephemeral create).

use std::collections::BTreeMap;

/// Most local sessions a server keeps at once (in each table): past it, new clients are
/// refused until some expire (each costs little, but a client looping on connect must not grow
/// the table without end).
pub const MAX_LOCAL_SESSIONS: usize = 100_000;

/// ZooKeeper's local sessions: known to this server only, resumable here until they expire (a
/// client whose connection broke comes back to them), never to the ensemble. A read-only spell
/// keeps its own table; with `localSessionsEnabled` the server keeps one for the sessions it
/// opens while it serves.
#[derive(Debug, Default)]
pub struct LocalSessions {
    /// Session id → (timeout in ms, last heard of in monotonic µs).
    open: BTreeMap<i64, (i32, u64)>,
}

impl LocalSessions {
    /// Records a new session; false when the table is full.
    pub fn open(&mut self, session: i64, timeout_ms: i32, now_us: u64) -> bool {
        if self.open.len() >= MAX_LOCAL_SESSIONS {
            return false;
        }
        self.open.insert(session, (timeout_ms, now_us));
        true
    }

    /// The session's timeout, if it is open here (heard of now).
    pub fn resume(&mut self, session: i64, now_us: u64) -> Option<i32> {
        let (timeout_ms, heard) = self.open.get_mut(&session)?;
        *heard = now_us;
        Some(*timeout_ms)
    }

    pub fn heard(&mut self, session: i64, now_us: u64) {
        if let Some((_, heard)) = self.open.get_mut(&session) {
            *heard = now_us;
        }
    }

    pub fn contains(&self, session: i64) -> bool {
        self.open.contains_key(&session)
    }

    pub fn close(&mut self, session: i64) {
        self.open.remove(&session);
    }

    /// Removes and returns the sessions not heard of within their timeout.
    pub fn expire(&mut self, now_us: u64) -> Vec<i64> {
        let due = |(timeout_ms, heard): &(i32, u64)| {
            now_us.saturating_sub(*heard) >= (*timeout_ms).max(0) as u64 * 1000
        };
        let expired: Vec<i64> = self
            .open
            .iter()
            .filter(|(_, v)| due(v))
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.open.remove(id);
        }
        expired
    }

    /// The session's timeout, if it is open here.
    pub fn timeout(&self, session: i64) -> Option<i32> {
        self.open.get(&session).map(|(timeout_ms, _)| *timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn sessions_expire_unless_heard_of_and_the_table_is_bounded() {
        let mut sessions = LocalSessions::default();
        assert!(sessions.open(1, 4000, 0));
        assert!(sessions.open(2, 4000, 0));
        sessions.heard(1, 3000 * MS);
        assert_eq!(sessions.expire(3999 * MS), Vec::<i64>::new());
        assert_eq!(sessions.expire(4000 * MS), vec![2]);
        assert_eq!(sessions.resume(1, 6000 * MS), Some(4000));
        assert_eq!(sessions.resume(2, 6000 * MS), None);
        sessions.close(1);
        assert!(!sessions.contains(1));
        for id in 0..MAX_LOCAL_SESSIONS as i64 {
            assert!(sessions.open(id, 4000, 0));
        }
        assert!(!sessions.open(-1, 4000, 0), "full");
    }
}
