//! Server-to-server communication: the wire format, the authenticated handshake (inside mutual
//! TLS with `sslQuorum=true`), and the connections with their keepalives, silence timeout and
//! bounded send queues.

pub mod auth;
mod directory;
pub mod frame_io;
mod link;
pub mod net;
pub mod stream;

use std::time::Duration;

use crate::tls::quorum::QuorumTls;

pub use server_core::peers::{codec, secret, PeerSecret, DEFAULT_MAX_PEER_SEND_QUEUE_BYTES};

/// Frames from all peers handed to the core and not yet handled; readers wait beyond it.
pub const MAX_INBOUND_PEER_FRAMES: usize = 4096;

/// Most peer connections at once that have not finished the handshake; more are closed at
/// once. An ensemble has a handful of members, so this is only ever reached by strangers.
pub const MAX_UNIDENTIFIED_PEER_CONNECTIONS: usize = 64;

/// Most links at once from servers outside this server's configuration (joining servers,
/// which dial the members before a reconfiguration adds them). A member is always admitted.
pub const MAX_JOINING_PEERS: usize = 8;

/// Longest a handshake may take (shorter when `syncLimit` ticks are shorter).
pub const MAX_HANDSHAKE_TIME: Duration = Duration::from_secs(5);
/// Shortest handshake timeout, whatever the tick.
pub const MIN_HANDSHAKE_TIME: Duration = Duration::from_millis(500);

/// Longest wait between two attempts to reach a peer (so a healed partition is rejoined
/// within about a second).
pub const MAX_DIAL_BACKOFF: Duration = Duration::from_secs(1);
/// First wait after a failed attempt to reach a peer.
pub const FIRST_DIAL_BACKOFF: Duration = Duration::from_millis(50);

/// How the peer links behave; from the configuration.
#[derive(Clone, Debug)]
pub struct PeerOptions {
    /// tickTime: a link that sent nothing for this long sends a keepalive.
    pub tick: Duration,
    /// syncLimit: a link that received nothing for this many ticks is dropped.
    pub sync_limit: u64,
    /// The ensemble's shared secret; `None` trusts anyone who reaches the peer port.
    pub secret: Option<PeerSecret>,
    /// Bound on the bytes queued for one peer (`quorum.maxPeerSendQueueBytes`).
    pub max_send_queue_bytes: usize,
    /// Mutual TLS on every link (`sslQuorum=true`); `None` is plain TCP.
    pub tls: Option<QuorumTls>,
}

impl PeerOptions {
    /// Options for `tick` and `sync_limit`, without a secret, with the default queue bound.
    pub fn new(tick: Duration, sync_limit: u64) -> PeerOptions {
        PeerOptions {
            tick,
            sync_limit,
            secret: None,
            max_send_queue_bytes: DEFAULT_MAX_PEER_SEND_QUEUE_BYTES,
            tls: None,
        }
    }

    /// How long a link may receive nothing (and a write may make no progress) before it is
    /// declared dead: `syncLimit` ticks, as ZooKeeper bounds a follower's silence.
    pub fn silence(&self) -> Duration {
        let ticks = u32::try_from(self.sync_limit.max(1)).unwrap_or(u32::MAX);
        self.tick.saturating_mul(ticks)
    }

    /// How long a link may send nothing before it sends a keepalive: a tick, and at most half
    /// the silence timeout so that one late keepalive does not drop a healthy link.
    pub fn keepalive(&self) -> Duration {
        self.tick.min(self.silence() / 2)
    }

    /// How long a handshake may take: half the silence timeout, within
    /// [`MIN_HANDSHAKE_TIME`]..=[`MAX_HANDSHAKE_TIME`]. A dial that went into a black hole is
    /// given up after this and tried again, so after a partition heals the dialler may still
    /// be waiting out one such attempt: this bounds how long (a healthy handshake is one round
    /// trip).
    pub fn handshake_timeout(&self) -> Duration {
        (self.silence() / 2).clamp(MIN_HANDSHAKE_TIME, MAX_HANDSHAKE_TIME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_the_tick_and_sync_limit() {
        let o = PeerOptions::new(Duration::from_millis(200), 5);
        assert_eq!(o.silence(), Duration::from_secs(1));
        assert_eq!(o.keepalive(), Duration::from_millis(200));
        assert_eq!(o.handshake_timeout(), Duration::from_millis(500));
        let o = PeerOptions::new(Duration::from_millis(2000), 5);
        assert_eq!(o.handshake_timeout(), MAX_HANDSHAKE_TIME);
        let o = PeerOptions::new(Duration::from_millis(100), 1);
        assert_eq!(o.keepalive(), Duration::from_millis(50));
        assert_eq!(o.handshake_timeout(), MIN_HANDSHAKE_TIME);
    }
}
