//! Judging a bookie failed: it has had a request unanswered for longer than the request
//! timeout.
//!
//! The protocol cannot tell a dead bookie from a slow one, and does not need to: a bookie judged
//! failed is only replaced (by the writer) or asked again (by recovery and readers), and every
//! state machine stays safe whatever the judgement.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ledger::BookieId;

/// Requests in flight per bookie, with the time each was sent.
pub struct Watchdog {
    timeout: Duration,
    in_flight: HashMap<BookieId, BTreeMap<u64, Instant>>,
}

impl Watchdog {
    pub fn new(timeout: Duration) -> Watchdog {
        Watchdog {
            timeout,
            in_flight: HashMap::new(),
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
    }

    /// Forgets everything in flight to `bookie` (it was judged failed).
    pub fn forget(&mut self, bookie: BookieId) {
        self.in_flight.remove(&bookie);
    }

    /// Bookies with a request older than the timeout; they are forgotten.
    pub fn expired(&mut self, now: Instant) -> Vec<BookieId> {
        let timeout = self.timeout;
        let late: Vec<BookieId> = self
            .in_flight
            .iter()
            .filter(|(_, tags)| {
                tags.values()
                    .any(|sent| now.duration_since(*sent) >= timeout)
            })
            .map(|(bookie, _)| *bookie)
            .collect();
        for bookie in &late {
            self.in_flight.remove(bookie);
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
}
