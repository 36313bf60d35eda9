//! What connections tell the server's core task, and what it sends back to them.

use std::net::SocketAddr;

use bytes::Bytes;
use proto::{ConnectRequest, PacketError, RequestPacket};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::replica::log_writer::LogEvent;
use crate::watches::ConnId;

/// To a connection's writer.
#[derive(Debug)]
pub enum Outgoing {
    /// An encoded frame (length prefix included), with the permit of the request it answers,
    /// released once the frame is written.
    Frame(Bytes, Option<OwnedSemaphorePermit>),
    /// Flush what was sent and close the connection.
    Close,
}

/// Into the core task.
pub enum CoreEvent {
    /// A connection sent its ConnectRequest.
    Handshake {
        conn: ConnId,
        remote: SocketAddr,
        request: ConnectRequest,
        out: mpsc::UnboundedSender<Outgoing>,
    },
    /// A request after the handshake. The permit bounds the requests a connection may have
    /// outstanding; the core drops it once the request is answered.
    Request {
        conn: ConnId,
        packet: RequestPacket,
        permit: OwnedSemaphorePermit,
    },
    /// A request that did not decode but whose header did: answered with an error.
    BadRequest {
        conn: ConnId,
        error: PacketError,
        permit: OwnedSemaphorePermit,
    },
    /// The connection is gone (the session lives on until it expires).
    Closed { conn: ConnId },
    /// A four-letter word; the answer goes back on `reply`.
    FourLetterWord {
        word: &'static str,
        reply: oneshot::Sender<String>,
    },
    /// A frame from another server of the ensemble.
    Peer {
        from: u64,
        frame: crate::peers::codec::PeerFrame,
    },
    /// The connection to another server broke.
    PeerDisconnected { peer: u64 },
    /// The figures the metrics endpoint reports.
    View {
        reply: oneshot::Sender<crate::four_letter_words::ServerView>,
    },
    /// From the log writer thread.
    Log(LogEvent),
}
