//! Every bound the server keeps on what clients can make it hold, in one place, each with its
//! unit in its name. docs/operations.md lists them with their zoo.cfg keys, defaults and what
//! happens when one is hit.
//!
//! How they fit: a connection's reader may only take a request when the connection holds
//! credit for it (one request and its bytes); the credit comes back when the answer has been
//! *written to the socket*, so a client that stops reading stops being read. Answers that
//! nobody reads are bounded in bytes: reads wait while a connection has
//! `read_pause_outbound_bytes` unwritten, and a connection whose unwritten bytes (answers and
//! watch notifications) pass `max_outbound_bytes_per_connection` is closed, as is the
//! connection holding the most when all of them together pass `max_outbound_bytes_total`.

/// The bounds, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Requests one connection may have in flight (received, answer not yet written);
    /// beyond it the connection is not read from.
    pub max_requests_per_connection: u32,
    /// Bytes of those requests (frames, length prefix included); beyond it the connection is
    /// not read from. At least one largest packet (`jute.maxbuffer`) plus its prefix.
    pub max_request_bytes_per_connection: u32,
    /// Bytes of answers and notifications handed to a connection's writer and not yet
    /// written; beyond it the connection is closed.
    pub max_outbound_bytes_per_connection: u64,
    /// While a connection has this many bytes unwritten, its reads wait (in order) instead of
    /// making more answers.
    pub read_pause_outbound_bytes: u64,
    /// Requests in flight over all connections (ZooKeeper's globalOutstandingLimit); beyond
    /// it no connection gets credit back until the total falls, and a leader with this many
    /// proposals uncommitted does the same.
    pub global_outstanding_requests: u64,
    /// Unwritten bytes over all connections; beyond it the connection holding the most is
    /// closed.
    pub max_outbound_bytes_total: u64,
    /// Connections from one IP address (ZooKeeper's maxClientCnxns); 0: no limit.
    pub max_connections_per_ip: usize,
    /// Client connections in all (ZooKeeper's maxCnxns); the server also keeps enough file
    /// descriptors free for its own files.
    pub max_connections: usize,
    /// A connection that has no session this long after it was accepted is closed
    /// (ZooKeeper's sessionlessCnxnTimeout).
    pub sessionless_connection_timeout_ms: u64,
}

impl Limits {
    /// The defaults for a server accepting packets of up to `max_packet_bytes`.
    pub fn defaults(max_packet_bytes: usize) -> Limits {
        let packet = max_packet_bytes as u64;
        Limits {
            max_requests_per_connection: 1000,
            max_request_bytes_per_connection: Self::min_request_bytes(max_packet_bytes)
                .max(2 << 20),
            max_outbound_bytes_per_connection: (16 << 20).max(packet * 4),
            read_pause_outbound_bytes: (1 << 20).max(packet),
            global_outstanding_requests: 1000,
            max_outbound_bytes_total: 256 << 20,
            max_connections_per_ip: 60,
            max_connections: 10_000,
            sessionless_connection_timeout_ms: 10_000,
        }
    }

    /// The least request budget that still admits one largest packet.
    pub fn min_request_bytes(max_packet_bytes: usize) -> u32 {
        u32::try_from(max_packet_bytes.saturating_add(4)).unwrap_or(u32::MAX)
    }
}
