//! Session ids, passwords and timeouts, as ZooKeeper makes them.

use std::time::Duration;

use crate::mix::{mix64, GOLDEN};

/// A fixed secret mixed into session passwords. As in ZooKeeper (its `superSecret`), the
/// password is derived from the session id so every server of the ensemble can check it; it
/// guards against accidents (a client resuming someone else's session), not attackers.
const PASSWORD_SECRET: u64 = 0x5155_4f52_554d_2121;

/// The 16-byte password of a session.
pub fn password(session_id: i64) -> [u8; 16] {
    let mut state = (session_id as u64) ^ PASSWORD_SECRET;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(GOLDEN);
        chunk.copy_from_slice(&mix64(state).to_be_bytes());
    }
    out
}

/// Makes session ids: the server id in the top byte, then time, then a counter — unique across
/// the servers of an ensemble and across restarts (ZooKeeper's scheme).
#[derive(Debug)]
pub struct SessionIds {
    next: i64,
}

impl SessionIds {
    pub fn new(server_id: u64, now_ms: u64) -> SessionIds {
        let time_part = ((now_ms << 24) >> 8) as i64;
        SessionIds {
            next: ((server_id as i64) << 56) | time_part,
        }
    }

    pub fn next_id(&mut self) -> i64 {
        self.next += 1;
        self.next
    }
}

/// The server that made `session` (its id's top byte; ids of servers above 255 wrap).
pub fn server_of(session: i64) -> u64 {
    (session as u64) >> 56
}

/// The timeout a session gets: the client's wish, within the server's bounds.
pub fn negotiate_timeout(requested_ms: i32, min: Duration, max: Duration) -> i32 {
    let requested = u64::try_from(requested_ms).unwrap_or(0);
    let min_ms = min.as_millis() as u64;
    let max_ms = max.as_millis() as u64;
    requested
        .clamp(min_ms, max_ms.max(min_ms))
        .min(i32::MAX as u64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_carry_the_server() {
        let mut ids = SessionIds::new(3, 1_700_000_000_000);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!((a as u64) >> 56, 3);
    }

    #[test]
    fn timeouts_are_clamped() {
        let (min, max) = (Duration::from_millis(4000), Duration::from_millis(40000));
        assert_eq!(negotiate_timeout(100, min, max), 4000);
        assert_eq!(negotiate_timeout(10_000, min, max), 10_000);
        assert_eq!(negotiate_timeout(1_000_000, min, max), 40000);
        assert_ne!(password(1), password(2));
    }
}
