//! Counters of what the core ignored or noticed, for metrics and tests.

/// Counters. Stale or malformed input is never a panic; it is counted here and ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages that claim to come from this server itself.
    pub unknown_server: u64,
    /// Messages for an older or otherwise wrong epoch, or an abandoned link.
    pub stale: u64,
    /// Duplicated leader messages (same link, already-seen sequence number).
    pub duplicate: u64,
    /// Gaps in a link's sequence numbers: the link is treated as broken.
    pub out_of_order: u64,
    /// Messages that make no sense in the current phase, or that break a protocol rule
    /// (for instance a TRUNC below what was committed).
    pub protocol_error: u64,
    /// Times this server went back to election.
    pub elections: u64,
    /// Epochs this server led to establishment.
    pub established: u64,
    /// Prospective leaderships abandoned because a follower was ahead.
    pub follower_ahead: u64,
    /// Syncs by kind.
    pub sync_diff: u64,
    pub sync_trunc: u64,
    pub sync_snap: u64,
    /// Log reads asked for DIFFs older than the payloads held in memory.
    pub log_reads: u64,
    /// Log reads that failed or did not match the history; the follower got a SNAP instead.
    pub log_reads_refused: u64,
    /// Times the configuration in force changed here.
    pub reconfigs_activated: u64,
}
