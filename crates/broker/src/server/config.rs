//! What a broker is told at start, and every bound it keeps, each named with its unit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use partition::BrokerId;

use crate::store::FsyncPolicy;
use crate::wire;

/// A broker's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The broker's id (`/brokers/ids/<id>`).
    pub id: BrokerId,
    pub data_dir: PathBuf,
    /// Where to listen (port 0: any free port, see `BrokerServer::local_addr`).
    pub listen: SocketAddr,
    /// Quorum's connect string.
    pub quorum: String,
    /// The "host:port" registered; defaults to the address actually listened on.
    pub advertise: Option<String>,
    pub fsync: FsyncPolicy,
    /// `min.insync.replicas` for topics that do not set their own.
    pub min_insync: usize,
    /// `unclean.leader.election.enable` (off by default; every unclean election is logged).
    pub unclean_election: bool,
    /// `replica.lag.time.max.ms`.
    pub lag_max: Duration,
    /// How long a fetch with nothing to return waits at the leader.
    pub fetch_max_wait: Duration,
    /// A request to another broker with no answer in this time is given up (and retried).
    pub request_timeout: Duration,
    /// Quorum session timeout asked for.
    pub session_timeout: Duration,
    pub limits: Limits,
}

impl Config {
    /// A configuration with default settings.
    pub fn new(id: BrokerId, data_dir: PathBuf, listen: SocketAddr, quorum: String) -> Config {
        Config {
            id,
            data_dir,
            listen,
            quorum,
            advertise: None,
            fsync: FsyncPolicy::EveryBatch,
            min_insync: 1,
            unclean_election: false,
            lag_max: Duration::from_secs(10),
            fetch_max_wait: Duration::from_millis(200),
            request_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(6),
            limits: Limits::default(),
        }
    }

    /// Checks that every bound lets the broker work at all.
    pub fn validate(&self) -> Result<(), String> {
        let l = &self.limits;
        let positive = [
            ("max_connections", l.max_connections),
            (
                "connection_inflight_requests",
                l.connection_inflight_requests,
            ),
            ("connection_outbound_bytes", l.connection_outbound_bytes),
            ("core_queue_messages", l.core_queue_messages),
            ("disk_queue_commands", l.disk_queue_commands),
            ("max_pending_produces", l.max_pending_produces),
            ("max_parked_fetches", l.max_parked_fetches),
            ("max_producers", l.max_producers),
            ("min_insync", self.min_insync),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if l.max_frame_bytes <= wire::FRAME_OVERHEAD_BYTES {
            return Err(format!(
                "max_frame_bytes must exceed {}",
                wire::FRAME_OVERHEAD_BYTES
            ));
        }
        for (name, d) in [
            ("lag_max", self.lag_max),
            ("request_timeout", self.request_timeout),
            ("session_timeout", self.session_timeout),
        ] {
            if d.is_zero() {
                return Err(format!("{name} must be positive"));
            }
        }
        Ok(())
    }
}

/// Every bound of the broker. Exceeding one refuses, pauses or closes; nothing grows without one.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest frame body after the hello; also bounds a batch.
    pub max_frame_bytes: u32,
    /// Open connections; more are closed at accept.
    pub max_connections: usize,
    /// Requests of one connection in flight; the connection is not read further until one is
    /// answered.
    pub connection_inflight_requests: usize,
    /// Reply bytes queued for one connection; reading pauses at half of it and a connection
    /// that would exceed it (a client that does not read) is closed.
    pub connection_outbound_bytes: usize,
    pub hello_timeout: Duration,
    /// Messages queued to the core task from connections, disks, peers and Quorum.
    pub core_queue_messages: usize,
    /// Commands queued to one partition's disk thread.
    pub disk_queue_commands: usize,
    /// Produces one partition leader holds waiting for durability or the HW.
    pub max_pending_produces: usize,
    /// Fetches one partition leader holds waiting for records.
    pub max_parked_fetches: usize,
    /// Idempotent producers remembered per partition.
    pub max_producers: usize,
    /// Bytes a follower asks for in one fetch.
    pub replica_fetch_bytes: u32,
    /// The most record bytes one fetch answer carries, whatever the fetch asked for (one batch
    /// more at most: a batch is never split).
    pub max_fetch_bytes: u32,
    /// Requests to one other broker in flight.
    pub peer_inflight_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: wire::DEFAULT_MAX_FRAME_BYTES,
            max_connections: 1024,
            connection_inflight_requests: 1024,
            connection_outbound_bytes: 64 << 20,
            hello_timeout: Duration::from_secs(10),
            core_queue_messages: 8192,
            disk_queue_commands: 4096,
            max_pending_produces: 4096,
            max_parked_fetches: 1024,
            max_producers: 10_000,
            replica_fetch_bytes: 1 << 20,
            max_fetch_bytes: 4 << 20,
            peer_inflight_requests: 1024,
        }
    }
}
