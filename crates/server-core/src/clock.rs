//! Time as the core sees it. The core never reads a clock: the driver hands the time in with
//! every event, so that the simulator can run the very same code on simulated time.

/// A reading of the two clocks the server needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Now {
    /// Monotonic microseconds since an arbitrary origin: timeouts, expiry and latencies.
    pub mono_us: u64,
    /// Wall-clock milliseconds since the Unix epoch: znode ctime/mtime, TTLs, session ids.
    pub wall_ms: i64,
}

impl Now {
    /// Microseconds from `since` to this reading (0 if the readings are out of order).
    pub fn us_since(&self, since: u64) -> u64 {
        self.mono_us.saturating_sub(since)
    }

    /// Whole milliseconds from `since` to this reading.
    pub fn ms_since(&self, since: u64) -> u64 {
        self.us_since(since) / 1000
    }
}

/// The real clocks, for the server that runs on tokio.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            origin: std::time::Instant::now(),
        }
    }

    pub fn now(&self) -> Now {
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Now {
            mono_us: self.origin.elapsed().as_micros() as u64,
            wall_ms,
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}
