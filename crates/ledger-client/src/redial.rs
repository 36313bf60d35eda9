//! When to dial a bookie again after its connection failed, and which failure to warn about.
//!
//! A recovery asks a failed bookie again at once (it cannot finish without enough of them), so
//! a bookie that is down would be dialed, refused and dialed again as fast as the loop turns:
//! thousands of connection attempts and warnings a second for as long as the outage lasts.
//! Each failure since the bookie last answered doubles the wait before the next dial, from
//! [`FIRST_REDIAL_DELAY`] up to [`MAX_REDIAL_DELAY`], and only the first failure of an outage is
//! worth a warning. The longest wait is a quarter of the shortest request timeout the drivers
//! use (1 s in the chaos runs), so a request waiting to be dialed is not judged lost for the
//! wait alone. Failures older than [`FORGET_FAILURES_AFTER`] are forgotten: a bookie a writer
//! replaced and chose again much later is dialed at once, and its next outage warns again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledger::BookieId;

/// The wait before dialing a bookie again after its first failure.
pub const FIRST_REDIAL_DELAY: Duration = Duration::from_millis(50);

/// The longest wait before dialing a bookie again.
pub const MAX_REDIAL_DELAY: Duration = Duration::from_millis(250);

/// A bookie's failures are forgotten once it has not failed for this long.
pub const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(30);

/// Failures per bookie since it last answered, and when the last one was.
#[derive(Debug, Default)]
pub struct Redial {
    failures: HashMap<BookieId, (u32, Instant)>,
}

impl Redial {
    /// `bookie`'s connection failed at `now`. Returns whether this begins an outage: the
    /// bookie had not failed since it last answered (or ever, or for a long time).
    pub fn failed(&mut self, bookie: BookieId, now: Instant) -> bool {
        let before = self.count(bookie, now);
        self.failures
            .insert(bookie, (before.saturating_add(1), now));
        before == 0
    }

    /// `bookie` answered: its outage, if it had one, is over.
    pub fn answered(&mut self, bookie: BookieId) {
        self.failures.remove(&bookie);
    }

    /// How long to wait, from `now`, before the next dial to `bookie`.
    pub fn delay(&self, bookie: BookieId, now: Instant) -> Duration {
        match self.count(bookie, now) {
            0 => Duration::ZERO,
            n => FIRST_REDIAL_DELAY
                .saturating_mul(1 << (n - 1).min(16))
                .min(MAX_REDIAL_DELAY),
        }
    }

    fn count(&self, bookie: BookieId, now: Instant) -> u32 {
        match self.failures.get(&bookie) {
            Some(&(n, last)) if now.saturating_duration_since(last) < FORGET_FAILURES_AFTER => n,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bookie_that_never_failed_is_dialed_at_once() {
        assert_eq!(Redial::default().delay(1, Instant::now()), Duration::ZERO);
    }

    #[test]
    fn each_failure_doubles_the_wait_up_to_the_cap() {
        let mut redial = Redial::default();
        let now = Instant::now();
        let mut waits = Vec::new();
        for _ in 0..6 {
            redial.failed(1, now);
            waits.push(redial.delay(1, now).as_millis());
        }
        assert_eq!(waits, [50, 100, 200, 250, 250, 250]);
        assert_eq!(redial.delay(2, now), Duration::ZERO, "another bookie");
    }

    #[test]
    fn only_the_first_failure_of_an_outage_is_reported() {
        let mut redial = Redial::default();
        let now = Instant::now();
        assert!(redial.failed(1, now));
        assert!(!redial.failed(1, now));
        assert!(!redial.failed(1, now));
        redial.answered(1);
        assert_eq!(redial.delay(1, now), Duration::ZERO);
        assert!(redial.failed(1, now), "a new outage after an answer");
    }

    #[test]
    fn old_failures_are_forgotten() {
        let mut redial = Redial::default();
        let start = Instant::now();
        redial.failed(1, start);
        redial.failed(1, start);
        let later = start + FORGET_FAILURES_AFTER;
        assert_eq!(redial.delay(1, later), Duration::ZERO);
        assert!(redial.failed(1, later), "a new outage");
        assert_eq!(redial.delay(1, later), FIRST_REDIAL_DELAY);
    }

    #[test]
    fn endless_failures_do_not_overflow() {
        let mut redial = Redial::default();
        let now = Instant::now();
        redial.failures.insert(1, (u32::MAX - 1, now));
        redial.failed(1, now);
        redial.failed(1, now);
        assert_eq!(redial.delay(1, now), MAX_REDIAL_DELAY);
    }
}
