//! Judging a bookie failed: it has had a request unanswered for longer than the request
//! timeout.
//!
//! The protocol cannot tell a dead bookie from a slow one, and does not need to: a bookie judged
//! failed is only replaced (by the writer) or asked again (by recovery and readers), and every
//! state machine stays safe whatever the judgement.
//!
//! Each judgement doubles that bookie's timeout (up to 64 times the base) until it answers
//! again: a bookie that is slow rather than dead is otherwise asked everything again on every
//! timeout and falls further behind for ever (the simulator found this as a liveness failure).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ledger::BookieId;

/// Requests in flight per bookie, with the time each was sent.
pub struct Watchdog {
    timeout: Duration,
    in_flight: HashMap<BookieId, BTreeMap<u64, Instant>>,
    /// Judgements since the bookie last answered: its timeout is doubled this many times.
    strikes: HashMap<BookieId, u32>,
}

/// Most doublings of a bookie's timeout.
const MAX_STRIKES: u32 = 6;

impl Watchdog {
    pub fn new(timeout: Duration) -> Watchdog {
        Watchdog {
            timeout,
            in_flight: HashMap::new(),
            strikes: HashMap::new(),
        }
    }

    /// A request with `tag` went to `bookie`.
    pub fn sent(&mut self, bookie: BookieId, tag: u64, now: Instant) {
        self.in_flight.entry(bookie).or_default().insert(tag, now);
    }

    /// `bookie` answered the request with `tag`.
    pub fn answered(&mut self, bookie: BookieId, tag: u64) {
        if let Some(tags) = self.in_flight.get_mut(&bookie) {
            tags.remove(&tag);
        }
        self.strikes.remove(&bookie);
    }

    /// The current timeout of `bookie`.
    pub fn timeout_of(&self, bookie: BookieId) -> Duration {
        let strikes = self.strikes.get(&bookie).copied().unwrap_or(0);
        self.timeout * (1 << strikes.min(MAX_STRIKES))
    }

    /// Forgets everything in flight to `bookie` (it was judged failed).
    pub fn forget(&mut self, bookie: BookieId) {
        self.in_flight.remove(&bookie);
    }

    /// Bookies with a request older than their timeout; they are forgotten and their timeout
    /// doubles.
    pub fn expired(&mut self, now: Instant) -> Vec<BookieId> {
        let late: Vec<BookieId> = self
            .in_flight
            .iter()
            .filter(|(bookie, tags)| {
                let timeout = self.timeout_of(**bookie);
                tags.values()
                    .any(|sent| now.duration_since(*sent) >= timeout)
            })
            .map(|(bookie, _)| *bookie)
            .collect();
        for bookie in &late {
            self.in_flight.remove(bookie);
            *self.strikes.entry(*bookie).or_default() += 1;
        }
        late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bookie_is_late_only_when_a_request_outlives_the_timeout() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(Duration::from_secs(1));
        watchdog.sent(1, 10, start);
        watchdog.sent(2, 11, start);
        watchdog.answered(2, 11);
        assert!(watchdog
            .expired(start + Duration::from_millis(999))
            .is_empty());
        assert_eq!(watchdog.expired(start + Duration::from_secs(1)), vec![1]);
        assert!(watchdog.expired(start + Duration::from_secs(5)).is_empty());
    }

    #[test]
    fn a_late_bookie_gets_more_time_until_it_answers() {
        let start = Instant::now();
        let mut watchdog = Watchdog::new(Duration::from_secs(1));
        watchdog.sent(1, 1, start);
        assert_eq!(watchdog.expired(start + Duration::from_secs(1)), vec![1]);
        watchdog.sent(1, 2, start);
        assert!(watchdog
            .expired(start + Duration::from_millis(1999))
            .is_empty());
        assert_eq!(watchdog.expired(start + Duration::from_secs(2)), vec![1]);
        assert_eq!(watchdog.timeout_of(1), Duration::from_secs(4));
        for _ in 0..10 {
            watchdog.sent(1, 3, start);
            watchdog.expired(start + Duration::from_secs(1000));
        }
        assert_eq!(watchdog.timeout_of(1), Duration::from_secs(64));
        watchdog.answered(1, 3);
        assert_eq!(watchdog.timeout_of(1), Duration::from_secs(1));
    }
}
