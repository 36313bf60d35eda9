//! Accept loops that survive errors without spinning. An accept error such as EMFILE (out of
//! file descriptors) repeats at once if the loop simply tries again, burning a core and
//! flooding the log; the loop waits instead, longer each time the error repeats, and logs at
//! most once per [`LOG_EVERY`].

use std::time::{Duration, Instant};

/// First wait after an accept error.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between accept attempts while errors repeat.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Least time between two log lines of one rate-limited kind.
pub const LOG_EVERY: Duration = Duration::from_secs(1);

/// Lets a log line through at most once per [`LOG_EVERY`], counting what it held back.
#[derive(Debug, Default)]
pub struct LogLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    /// `Some(lines held back since the last one let through)` when a line may be logged now.
    pub fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < LOG_EVERY)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// The state of one accept loop's backoff.
#[derive(Debug)]
pub struct AcceptBackoff {
    what: &'static str,
    delay: Duration,
    log: LogLimit,
}

impl AcceptBackoff {
    /// `what` names the listener in log lines ("peer", "metrics", …).
    pub fn new(what: &'static str) -> AcceptBackoff {
        AcceptBackoff {
            what,
            delay: FIRST_BACKOFF,
            log: LogLimit::default(),
        }
    }

    /// An accept succeeded: the next error waits the shortest time again.
    pub fn succeeded(&mut self) {
        self.delay = FIRST_BACKOFF;
    }

    /// The wait before the next attempt after an error; doubles up to [`MAX_BACKOFF`].
    pub fn next_delay(&mut self, error: &std::io::Error) -> Duration {
        if let Some(suppressed) = self.log.allow() {
            tracing::warn!(
                listener = self.what,
                %error,
                suppressed,
                "accept failed; backing off"
            );
        }
        let delay = self.delay;
        self.delay = (self.delay * 2).min(MAX_BACKOFF);
        delay
    }

    /// Logs the error (rate-limited) and sleeps before the next attempt.
    pub async fn failed(&mut self, error: &std::io::Error) {
        let delay = self.next_delay(error);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_errors_back_off_up_to_a_second_and_success_resets() {
        let mut backoff = AcceptBackoff::new("test");
        let error = std::io::Error::other("EMFILE");
        let delays: Vec<u64> = (0..8)
            .map(|_| backoff.next_delay(&error).as_millis() as u64)
            .collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.next_delay(&error), FIRST_BACKOFF);
    }

    #[test]
    fn the_log_limit_lets_one_line_through_per_second() {
        let mut limit = LogLimit::default();
        assert_eq!(limit.allow(), Some(0));
        assert_eq!(limit.allow(), None);
        assert_eq!(limit.allow(), None);
        limit.last = Some(Instant::now() - LOG_EVERY);
        assert_eq!(limit.allow(), Some(2));
    }
}
