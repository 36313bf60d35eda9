//! What a bookie server is told at start, and every bound it keeps, each named with its unit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ledger::bookie::BookieLimits;

use crate::store::StoreOptions;
use crate::wire;

/// A bookie server's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bookie's id (its znode is `/ledgers/bookies/<id>`).
    pub id: u32,
    /// The store's directory.
    pub data_dir: PathBuf,
    /// Where to listen (port 0: any free port, see `BookieServer::local_addr`).
    pub listen: SocketAddr,
    /// Quorum's connect string; `None` runs without registration (tests, local tools).
    pub quorum: Option<String>,
    /// The "host:port" registered; defaults to the address actually listened on.
    pub advertise: Option<String>,
    /// fdatasync the journal before answering (off: survives a killed process, not a power cut).
    pub fsync: bool,
    pub limits: Limits,
}

impl Config {
    /// A configuration with default limits.
    pub fn new(id: u32, data_dir: PathBuf, listen: SocketAddr) -> Config {
        Config {
            id,
            data_dir,
            listen,
            quorum: None,
            advertise: None,
            fsync: true,
            limits: Limits::default(),
        }
    }

    /// Checks that every bound lets the server work at all (and that none would make a
    /// constructor panic: a zero-capacity queue, a zero-period timer).
    pub fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        let positive = [
            ("max_connections", l.max_connections),
            (
                "connection_inflight_requests",
                l.connection_inflight_requests,
            ),
            ("connection_outbound_bytes", l.connection_outbound_bytes),
            ("core_queue_requests", l.core_queue_requests),
            ("journal_inflight_bytes", l.journal_inflight_bytes),
            ("max_ledgers", l.bookie.max_ledgers),
            ("max_held_replies", l.bookie.max_held_replies),
            ("max_held_bytes", l.bookie.max_held_bytes),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if l.connection_inflight_requests > u32::MAX as usize >> 1 {
            return Err("connection_inflight_requests is too large".into());
        }
        if l.checkpoint_interval.is_zero() {
            return Err("checkpoint_interval must be positive".into());
        }
        if l.max_frame_bytes <= wire::ADD_HEADER_BYTES {
            return Err(format!(
                "max_frame_bytes must exceed {} (an add's header)",
                wire::ADD_HEADER_BYTES
            ));
        }
        Ok(())
    }

    /// The store options these limits imply: an entry is as large as a frame allows.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_entry_bytes: self
                .limits
                .max_frame_bytes
                .saturating_sub(wire::ADD_HEADER_BYTES),
            journal_segment_bytes: self.limits.journal_segment_bytes,
        }
    }
}

/// Every bound of the server. Exceeding one refuses, pauses or closes; nothing grows without
/// one.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest frame body after the hello (the hello itself is capped at
    /// `wire::MAX_HELLO_BYTES`). Also bounds the entry size.
    pub max_frame_bytes: u32,
    /// Open client connections; more are closed at accept.
    pub max_connections: usize,
    /// Requests of one connection handed to the core and not yet answered; the connection is
    /// not read further until one is answered.
    pub connection_inflight_requests: usize,
    /// Reply bytes queued for one connection and not yet written to its socket. Reading from
    /// the connection pauses at half of it; a reply that would exceed it closes the connection
    /// (a client that does not read its replies).
    pub connection_outbound_bytes: usize,
    /// How long a new connection may take to send its hello.
    pub hello_timeout: Duration,
    /// Requests queued from all connections to the core task.
    pub core_queue_requests: usize,
    /// Record bytes handed to the journal and not yet durable; the core stops taking requests
    /// beyond it until the journal catches up.
    pub journal_inflight_bytes: usize,
    /// Length of each journal segment file.
    pub journal_segment_bytes: u64,
    /// Journal bytes after which a checkpoint is taken (and older segments purged).
    pub checkpoint_journal_bytes: u64,
    /// Longest time between checkpoints while records arrive.
    pub checkpoint_interval: Duration,
    /// The protocol state's bounds (ledgers known, answers held for durability).
    pub bookie: BookieLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: wire::DEFAULT_MAX_FRAME_BYTES,
            max_connections: 1024,
            connection_inflight_requests: 1024,
            connection_outbound_bytes: 64 << 20,
            hello_timeout: Duration::from_secs(10),
            core_queue_requests: 4096,
            journal_inflight_bytes: 64 << 20,
            journal_segment_bytes: 64 << 20,
            checkpoint_journal_bytes: 256 << 20,
            checkpoint_interval: Duration::from_secs(60),
            bookie: BookieLimits::default(),
        }
    }
}
