//! Server-wide counters for the four-letter words and metrics.

use crate::clients::LatencyStats;

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: LatencyStats,
}
