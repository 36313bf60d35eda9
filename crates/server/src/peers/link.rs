//! One established peer link: frames both ways until the connection breaks, goes silent for
//! the silence timeout, or is closed on purpose (replaced by a newer authenticated connection
//! of the same peer, or its send queue passed its bound).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::BufReader;
use tokio::sync::{mpsc, Notify};

use super::codec::{self, PeerFrame, MAX_FRAME};
use super::frame_io::{read_frame, write_all_within};
use super::net::PeerNet;
use super::stream::{PeerReader, PeerStream, PeerWriter};
use crate::events::CoreEvent;

/// Bytes read from a peer socket at a time.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Bytes of queued frames gathered into one socket write.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// Asks a link to close, from another task (the table, when the link is replaced; the sender,
/// when the queue is full).
#[derive(Debug, Default)]
pub(super) struct Closer {
    closing: AtomicBool,
    notify: Notify,
}

impl Closer {
    pub(super) fn close(&self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            // A stored permit: the link sees it even if it is not waiting yet.
            self.notify.notify_one();
        }
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    async fn closed(&self) {
        if !self.is_closing() {
            self.notify.notified().await;
        }
    }
}

/// What the table hands a link it registered.
pub(super) struct Registered {
    pub generation: u64,
    pub rx: mpsc::UnboundedReceiver<Bytes>,
    /// Bytes queued in `rx` and not yet written; the sender adds, the writer subtracts.
    pub queued_bytes: Arc<AtomicUsize>,
    pub closer: Arc<Closer>,
}

/// How long a link waits before it sends a keepalive, and how much silence kills it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Times {
    pub keepalive: Duration,
    pub silence: Duration,
}

/// Carries frames both ways until the link ends, then unregisters it (which tells the core
/// `PeerDisconnected`, unless a newer link of the same peer already replaced it).
pub(super) async fn run(
    id: u64,
    stream: PeerStream,
    link: Registered,
    net: PeerNet,
    core: mpsc::UnboundedSender<CoreEvent>,
    times: Times,
) {
    let (reader, writer) = stream.split();
    let mut writer_task = tokio::spawn(write_loop(writer, link.rx, link.queued_bytes, times));
    let reason = tokio::select! {
        reason = read_loop(id, reader, &net, &core, times.silence) => reason,
        reason = &mut writer_task => reason.unwrap_or_else(|e| format!("writer: {e}")),
        _ = link.closer.closed() => "closed by this server (replaced, or send queue full)".into(),
    };
    writer_task.abort();
    tracing::info!(peer = id, %reason, "peer link closed");
    net.unregister(id, link.generation, &core);
}

/// Hands every frame but keepalives to the core; returns why reading stopped.
async fn read_loop(
    id: u64,
    reader: PeerReader,
    net: &PeerNet,
    core: &mpsc::UnboundedSender<CoreEvent>,
    silence: Duration,
) -> String {
    // Frames arrive back to back under load (PROPOSE, COMMIT, ACK); read them from a buffer
    // rather than with two syscalls each.
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    loop {
        let payload = match read_frame(&mut reader, MAX_FRAME, silence).await {
            Ok(payload) => payload,
            Err(e) => return format!("reading: {e}"),
        };
        match codec::decode_shared(&payload) {
            Ok(PeerFrame::Keepalive) => {}
            Ok(PeerFrame::Hello { .. } | PeerFrame::Challenge { .. } | PeerFrame::Proof { .. }) => {
                return "a handshake frame on an established link".into()
            }
            Ok(frame) => {
                if !net.inbound_slot().await {
                    return "the core stopped".into();
                }
                if core.send(CoreEvent::Peer { from: id, frame }).is_err() {
                    return "the core stopped".into();
                }
            }
            Err(e) => return format!("a bad frame: {e}"),
        }
    }
}

/// Writes queued frames, gathering what is waiting into one write, and a keepalive whenever
/// nothing was sent for `times.keepalive`; returns why writing stopped.
async fn write_loop(
    mut writer: PeerWriter,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued_bytes: Arc<AtomicUsize>,
    times: Times,
) -> String {
    let keepalive = codec::encode(&PeerFrame::Keepalive);
    let mut frames: Vec<Bytes> = Vec::new();
    let mut batch: Vec<u8> = Vec::with_capacity(WRITE_BATCH_BYTES);
    // A big frame met while gathering a batch: written alone next, never copied into one.
    let mut big: Option<Bytes> = None;
    loop {
        let first = match big.take() {
            Some(frame) => frame,
            None => match tokio::time::timeout(times.keepalive, rx.recv()).await {
                Ok(Some(frame)) => frame,
                Ok(None) => return "the link was unregistered".into(),
                Err(_) => {
                    let written = write_all_within(&mut writer, &keepalive, times.silence).await;
                    if let Err(e) = written {
                        return format!("writing: {e}");
                    }
                    continue;
                }
            },
        };
        let mut taken = first.len();
        frames.clear();
        frames.push(first);
        while taken < WRITE_BATCH_BYTES {
            let Ok(frame) = rx.try_recv() else { break };
            if frame.len() >= WRITE_BATCH_BYTES {
                big = Some(frame);
                break;
            }
            taken += frame.len();
            frames.push(frame);
        }
        let bytes: &[u8] = if let [only] = &frames[..] {
            only
        } else {
            batch.clear();
            frames.iter().for_each(|f| batch.extend_from_slice(f));
            &batch
        };
        if let Err(e) = write_all_within(&mut writer, bytes, times.silence).await {
            return format!("writing: {e}");
        }
        queued_bytes.fetch_sub(taken, Ordering::AcqRel);
    }
}
