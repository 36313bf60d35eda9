//! One client connection's IO: framing in, frames out. Every decision is the core's; this
//! task only moves bytes.
//!
//! The reader takes a request only when the connection holds credit for it (one request and
//! its frame's bytes, granted by the core as answers are written), so a client that sends
//! without reading stops being read. Its first frame is capped at a ConnectRequest's size. The
//! writer writes what the core queues, in batches, and reports each write back, which is what
//! lets the core give credit back and bound what a connection holds unwritten.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use proto::{ConnectRequest, Decode, FrameDecoder, RequestPacket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use crate::clients::{ClientEvent, ConnId};
use crate::events::{ConnIo, CoreEvent, Outgoing};
use crate::limits::Limits;

/// Bytes of queued answers written to a client socket at once.
const WRITE_BATCH_BYTES: usize = 64 * 1024;
/// Largest write buffer a connection keeps between writes.
const KEEP_BUFFER_BYTES: usize = 16 * 1024;
/// Largest first frame (a ConnectRequest is under 100 bytes): a stranger cannot make the server
/// buffer more before saying who it is.
pub const MAX_FIRST_FRAME_BYTES: usize = 1024;
/// Read buffer of a connection that has not said anything yet.
const INITIAL_READ_BUFFER_BYTES: usize = 256;
/// Most bytes reserved ahead for the rest of a large frame, per read.
const READ_RESERVE_BYTES: usize = 64 * 1024;
/// How long a connection asked to close may take to write what it was sent.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a connection that sent a four-letter word ends (its answer is flushed first).
const FOUR_LETTER_WORD_ANSWERED: &str = "four-letter word answered";

/// Serves one accepted plain connection until it closes.
pub async fn serve_tcp(
    stream: TcpStream,
    remote: SocketAddr,
    conn: ConnId,
    core: mpsc::Sender<CoreEvent>,
    max_packet_bytes: usize,
    limits: &Limits,
) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    serve(reader, writer, remote, conn, core, max_packet_bytes, limits).await
}

/// Serves one connection, given its two halves (a TCP socket's, or a TLS stream's once its
/// handshake is done), until it closes.
pub async fn serve<R, W>(
    reader: R,
    writer: W,
    remote: SocketAddr,
    conn: ConnId,
    core: mpsc::Sender<CoreEvent>,
    max_packet_bytes: usize,
    limits: &Limits,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::unbounded_channel::<Outgoing>();
    let io = ConnIo {
        out: out_tx.clone(),
        requests: Arc::new(Semaphore::new(limits.max_requests_per_connection as usize)),
        bytes: Arc::new(Semaphore::new(
            limits.max_request_bytes_per_connection as usize,
        )),
        abort: Arc::new(Notify::new()),
        closing: Arc::new(Notify::new()),
    };
    let accepted = CoreEvent::Accepted {
        conn,
        remote,
        io: io.clone(),
    };
    if core.send(accepted).await.is_err() {
        return;
    }
    let mut writer_task = tokio::spawn(write_loop(writer, out_rx, conn, core.clone()));
    let reading = Reader {
        conn,
        remote,
        core: core.clone(),
        out: out_tx,
        io: io.clone(),
        decoder: FrameDecoder::new(max_packet_bytes),
    }
    .run(reader);
    let reason = tokio::select! {
        reason = reading => {
            if reason == FOUR_LETTER_WORD_ANSWERED {
                let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, &mut writer_task).await;
            }
            reason
        }
        _ = &mut writer_task => "closed by the server".to_string(),
        _ = io.abort.notified() => "aborted by the server".to_string(),
        _ = io.closing.notified() => {
            if tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, &mut writer_task).await.is_err() {
                tracing::debug!(%remote, conn, "close did not flush in time");
            }
            "closed by the server".to_string()
        }
    };
    writer_task.abort();
    if reason.starts_with("bad") || reason.starts_with("undecodable") {
        tracing::warn!(%remote, conn, %reason, "closing connection");
    } else {
        tracing::debug!(%remote, conn, %reason, "connection closed");
    }
    let _ = core
        .send(CoreEvent::Client(ClientEvent::Closed { conn }))
        .await;
}

/// Writes what the core queues, in batches, reporting each batch once written.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    conn: ConnId,
    core: mpsc::Sender<CoreEvent>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut close = false;
        let mut item = Some(first);
        while let Some(queued) = item.take() {
            match queued {
                Outgoing::Frame(bytes) => batch.extend_from_slice(&bytes),
                Outgoing::Close => {
                    close = true;
                    break;
                }
            }
            if batch.len() < WRITE_BATCH_BYTES {
                item = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            if writer.write_all(&batch).await.is_err() {
                break;
            }
            let written = ClientEvent::Written {
                conn,
                bytes: batch.len() as u64,
            };
            if core.send(CoreEvent::Client(written)).await.is_err() {
                break;
            }
            if batch.capacity() > KEEP_BUFFER_BYTES {
                // Thousands of mostly idle connections must not each keep a large buffer.
                batch = Vec::new();
            } else {
                batch.clear();
            }
        }
        if close {
            break;
        }
    }
    let _ = writer.shutdown().await;
}

/// The reading half of a connection.
struct Reader {
    conn: ConnId,
    remote: SocketAddr,
    core: mpsc::Sender<CoreEvent>,
    out: mpsc::UnboundedSender<Outgoing>,
    io: ConnIo,
    decoder: FrameDecoder,
}

impl Reader {
    /// Reads until the connection ends; returns why.
    async fn run<R: AsyncRead + Unpin>(self, mut reader: R) -> String {
        let mut buffer = BytesMut::with_capacity(INITIAL_READ_BUFFER_BYTES);
        let first = FrameDecoder::new(MAX_FIRST_FRAME_BYTES);
        // The ConnectRequest, or a four-letter word in place of its length.
        let body = loop {
            if let Some(word) = proto::four_letter_word(&buffer) {
                self.four_letter_word(word).await;
                return FOUR_LETTER_WORD_ANSWERED.into();
            }
            match first.decode(&mut buffer) {
                Ok(Some(frame)) => break frame,
                Ok(None) => {}
                Err(e) => return format!("bad first frame: {e}"),
            }
            if let Err(reason) = read_more(&mut reader, &mut buffer, &first).await {
                return reason;
            }
        };
        let mut body = body;
        let request = match ConnectRequest::decode(&mut body) {
            Ok(request) => request,
            Err(e) => return format!("bad ConnectRequest: {e}"),
        };
        let conn = self.conn;
        if !self.send(ClientEvent::Connect { conn, request }).await {
            return "server stopping".into();
        }
        loop {
            loop {
                let total = match self.decoder.check(&buffer) {
                    Ok(Some(total)) => total,
                    Ok(None) => break,
                    Err(e) => return format!("bad frame: {e}"),
                };
                if !self.take_credit(total).await {
                    return "server stopping".into();
                }
                let frame = self.decoder.decode(&mut buffer).ok().flatten();
                let Some(mut body) = frame else {
                    unreachable!("check found a whole frame")
                };
                let bytes = total as u32;
                let event = match RequestPacket::decode(&mut body) {
                    Ok(packet) => ClientEvent::Request {
                        conn,
                        packet,
                        bytes,
                    },
                    Err(error) if error.header.is_some() => {
                        ClientEvent::BadRequest { conn, error, bytes }
                    }
                    Err(error) => return format!("undecodable request: {error}"),
                };
                if !self.send(event).await {
                    return "server stopping".into();
                }
            }
            if let Err(reason) = read_more(&mut reader, &mut buffer, &self.decoder).await {
                return reason;
            }
        }
    }

    /// Waits until the connection holds credit for a frame of `total` bytes, and takes it.
    async fn take_credit(&self, total: usize) -> bool {
        let Ok(request) = self.io.requests.acquire().await else {
            return false;
        };
        let Ok(bytes) = self.io.bytes.acquire_many(total as u32).await else {
            return false;
        };
        // The core gives the credit back (ClientEffect::Grant) once the answer is written.
        request.forget();
        bytes.forget();
        true
    }

    async fn send(&self, event: ClientEvent) -> bool {
        self.core.send(CoreEvent::Client(event)).await.is_ok()
    }

    async fn four_letter_word(&self, word: &'static str) {
        let (reply_tx, reply_rx) = oneshot::channel();
        let event = CoreEvent::FourLetterWord {
            word,
            reply: reply_tx,
        };
        if self.core.send(event).await.is_ok() {
            if let Ok(mut text) = reply_rx.await {
                if word == "mntr" && !text.ends_with("whitelist.\n") {
                    text.push_str(&crate::fds::descriptor_lines().await);
                }
                let _ = self.out.send(Outgoing::Frame(text.into()));
            }
        }
        let _ = self.out.send(Outgoing::Close);
        tracing::trace!(remote = %self.remote, word, "four-letter word");
    }
}

/// Reads more bytes, reserving room for the frame being read (a little at a time, so a claimed
/// length is not allocated before its bytes arrive). Errs with the reason at the end.
async fn read_more<R: AsyncRead + Unpin>(
    reader: &mut R,
    buffer: &mut BytesMut,
    decoder: &FrameDecoder,
) -> Result<(), String> {
    let wanted = match buffer.first_chunk::<4>() {
        Some(prefix) => {
            let len = u32::from_be_bytes(*prefix) as usize;
            (len.min(decoder.max_packet()) + 4).saturating_sub(buffer.len())
        }
        None => 4,
    };
    buffer.reserve(wanted.clamp(64, READ_RESERVE_BYTES));
    match reader.read_buf(buffer).await {
        Ok(0) => Err("closed by the client".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("read error: {e}")),
    }
}
