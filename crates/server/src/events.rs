//! What the IO tasks tell the driver, and the handles the driver keeps to act on a connection.
//!
//! The driver (crates/server/src/run.rs) turns these into the core's inputs, with the time,
//! and carries the core's [`crate::clients::ClientEffect`]s out through the [`ConnIo`] handles.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::clients::{ClientEvent, ConnId};
use crate::replica::StorageEvent;

/// To a connection's writer. The channel has no bound of its own: the core counts every byte
/// it puts there against the connection's `max_outbound_bytes_per_connection` and closes the
/// connection beyond it.
#[derive(Debug)]
pub enum Outgoing {
    /// Encoded frames (length prefixes included).
    Frame(Bytes),
    /// Write what was queued before, then close.
    Close,
}

/// The driver's handles on one connection's tasks.
#[derive(Debug, Clone)]
pub struct ConnIo {
    pub out: mpsc::UnboundedSender<Outgoing>,
    /// Requests the reader may still take (credit from the core).
    pub requests: Arc<Semaphore>,
    /// Request bytes the reader may still take.
    pub bytes: Arc<Semaphore>,
    /// Close now, dropping what is unwritten.
    pub abort: Arc<Notify>,
    /// A close was asked for: the connection gives its writer a little time, then aborts.
    pub closing: Arc<Notify>,
}

/// Into the driver. Client events come through a bounded channel (readers and writers wait
/// when it is full); peer frames and the log writer's reports through their own.
pub enum CoreEvent {
    /// A connection was accepted; the driver keeps its handles.
    Accepted {
        conn: ConnId,
        remote: SocketAddr,
        io: ConnIo,
    },
    /// Something happened on a client connection.
    Client(ClientEvent),
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
    /// The figures the metrics endpoint and the AdminServer report, walking as much of the
    /// server as `detail` asks.
    View {
        detail: crate::core::Detail,
        reply: oneshot::Sender<crate::four_letter_words::ServerView>,
    },
    /// From the storage's writer threads.
    Storage(StorageEvent),
}
