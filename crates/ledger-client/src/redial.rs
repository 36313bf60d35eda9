//! When to dial a bookie again after its connection failed, and which failure to warn about.
//!
//! A recovery asks a failed bookie again at once (it cannot finish without enough of them), so
//! a bookie that is down would be dialed, refused and dialed again as fast as the loop turns:
//! thousands of connection attempts and warnings a second for as long as the outage lasts.
//! Each failure since the bookie last answered doubles the wait before the next dial, from
//! [`FIRST_REDIAL_DELAY`] up to [`MAX_REDIAL_DELAY`], and only the first failure of an outage is
//! worth a warning. The wait is kept below the request timeouts the drivers use, so that a
//! request waiting to be dialed is not judged lost for the wait alone.

use std::collections::HashMap;
use std::time::Duration;

use ledger::BookieId;

/// The wait before dialing a bookie again after its first failure.
pub const FIRST_REDIAL_DELAY: Duration = Duration::from_millis(50);

/// The longest wait before dialing a bookie again.
pub const MAX_REDIAL_DELAY: Duration = Duration::from_millis(500);

/// Failures per bookie since it last answered.
#[derive(Debug, Default)]
pub struct Redial {
    failures: HashMap<BookieId, u32>,
}

impl Redial {
    /// `bookie`'s connection failed. Returns whether this begins an outage: the bookie had not
    /// failed since it last answered (or ever).
    pub fn failed(&mut self, bookie: BookieId) -> bool {
        let failures = self.failures.entry(bookie).or_insert(0);
        *failures = failures.saturating_add(1);
        *failures == 1
    }

    /// `bookie` answered: its outage, if it had one, is over.
    pub fn answered(&mut self, bookie: BookieId) {
        self.failures.remove(&bookie);
    }

    /// How long to wait before the next dial to `bookie`.
    pub fn delay(&self, bookie: BookieId) -> Duration {
        match self.failures.get(&bookie).copied().unwrap_or(0) {
            0 => Duration::ZERO,
            n => FIRST_REDIAL_DELAY
                .saturating_mul(1 << (n - 1).min(16))
                .min(MAX_REDIAL_DELAY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bookie_that_never_failed_is_dialed_at_once() {
        assert_eq!(Redial::default().delay(1), Duration::ZERO);
    }

    #[test]
    fn each_failure_doubles_the_wait_up_to_the_cap() {
        let mut redial = Redial::default();
        let mut waits = Vec::new();
        for _ in 0..8 {
            redial.failed(1);
            waits.push(redial.delay(1).as_millis());
        }
        assert_eq!(waits, [50, 100, 200, 400, 500, 500, 500, 500]);
        assert_eq!(
            redial.delay(2),
            Duration::ZERO,
            "another bookie is not delayed"
        );
    }

    #[test]
    fn only_the_first_failure_of_an_outage_is_reported() {
        let mut redial = Redial::default();
        assert!(redial.failed(1));
        assert!(!redial.failed(1));
        assert!(!redial.failed(1));
        redial.answered(1);
        assert_eq!(redial.delay(1), Duration::ZERO);
        assert!(redial.failed(1), "a new outage after an answer");
    }

    #[test]
    fn endless_failures_do_not_overflow() {
        let mut redial = Redial::default();
        redial.failures.insert(1, u32::MAX - 1);
        redial.failed(1);
        redial.failed(1);
        assert_eq!(redial.delay(1), MAX_REDIAL_DELAY);
    }
}
