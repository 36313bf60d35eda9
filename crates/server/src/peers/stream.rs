//! The byte stream under an established peer link: plain TCP, or TLS over TCP with
//! `sslQuorum=true`. Plain TCP is split into its owned halves as before TLS existed, so the
//! plain path costs nothing more; a TLS stream is one rustls session that both halves share.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// An established peer connection.
pub enum PeerStream {
    Tcp(TcpStream),
    /// Boxed: a TLS session is large, and a link holds one for its life anyway.
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl From<TcpStream> for PeerStream {
    fn from(stream: TcpStream) -> Self {
        PeerStream::Tcp(stream)
    }
}

impl From<tokio_rustls::server::TlsStream<TcpStream>> for PeerStream {
    fn from(stream: tokio_rustls::server::TlsStream<TcpStream>) -> Self {
        PeerStream::Tls(Box::new(stream.into()))
    }
}

impl From<tokio_rustls::client::TlsStream<TcpStream>> for PeerStream {
    fn from(stream: tokio_rustls::client::TlsStream<TcpStream>) -> Self {
        PeerStream::Tls(Box::new(stream.into()))
    }
}

/// The reading half of a link.
pub type PeerReader = Box<dyn AsyncRead + Unpin + Send>;
/// The writing half of a link.
pub type PeerWriter = Box<dyn AsyncWrite + Unpin + Send>;

impl PeerStream {
    /// The two halves, for the link's reader and writer tasks.
    pub fn split(self) -> (PeerReader, PeerWriter) {
        match self {
            PeerStream::Tcp(stream) => {
                let (reader, writer) = stream.into_split();
                (Box::new(reader), Box::new(writer))
            }
            PeerStream::Tls(stream) => {
                let (reader, writer) = tokio::io::split(*stream);
                (Box::new(reader), Box::new(writer))
            }
        }
    }
}
