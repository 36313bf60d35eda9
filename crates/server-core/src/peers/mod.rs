//! What the core knows of the other servers: the frames it exchanges with them, the secret they
//! share, and the bounds the configuration sets on their links. The links themselves (sockets,
//! the handshake, keepalives) are the server's.

pub mod codec;
pub mod secret;

pub use secret::PeerSecret;

/// Default bound on the bytes queued for one peer and not yet written to its socket: room for
/// the largest frame ([`codec::MAX_FRAME`], 1 GiB: a SNAP of a whole tree) and 256 MiB of
/// proposals behind it. A link whose queue would pass it is dropped.
pub const DEFAULT_MAX_PEER_SEND_QUEUE_BYTES: usize = codec::MAX_FRAME + (256 << 20);
