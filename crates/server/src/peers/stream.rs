//! The byte stream under an established peer link: plain TCP, or TLS over TCP with
//! `sslQuorum=true`. Boxed so the link, its reader and its writer are one code path either way.

use tokio::io::{AsyncRead, AsyncWrite};

/// What a peer link reads and writes.
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> PeerIo for T {}

/// An established peer connection, TCP or TLS.
pub type PeerStream = Box<dyn PeerIo>;
