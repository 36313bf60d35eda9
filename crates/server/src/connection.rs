//! One client connection: framing in, frames out.
//!
//! The reader decodes frames (refusing any above the configured maximum, which closes only this
//! connection) and hands requests to the core task; the writer sends whatever the core queues
//! for it. A client that sends without reading runs out of permits (a bounded number of
//! outstanding requests) and is simply not read from until its answers drain, so memory stays
//! bounded.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use proto::{ConnectRequest, Decode, FrameDecoder, RequestPacket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::events::{CoreEvent, Outgoing};
use crate::watches::ConnId;

/// Bytes of queued answers written to a client socket at once.
const WRITE_BATCH: usize = 64 * 1024;
/// Largest write buffer a connection keeps between writes.
const KEEP_BUFFER: usize = 16 * 1024;

/// Most requests one connection may have waiting for an answer.
pub const MAX_OUTSTANDING_PER_CONNECTION: usize = 1000;

/// Serves one accepted connection until it closes.
pub async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    conn: ConnId,
    core: mpsc::UnboundedSender<CoreEvent>,
    max_packet_bytes: usize,
) {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outgoing>();
    let writer_task = tokio::spawn(async move {
        // Answers queued while the last write was in flight go out in one write; their
        // permits are returned once it is done, so a client that does not read stays throttled.
        let mut batch = Vec::new();
        let mut permits = Vec::new();
        let mut next = out_rx.recv().await;
        while let Some(item) = next.take() {
            let mut close = false;
            let mut item = Some(item);
            while let Some(queued) = item.take() {
                match queued {
                    Outgoing::Frame(bytes, permit) => {
                        batch.extend_from_slice(&bytes);
                        permits.push(permit);
                    }
                    Outgoing::Close => {
                        close = true;
                        break;
                    }
                }
                if batch.len() < WRITE_BATCH {
                    item = out_rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                if writer.write_all(&batch).await.is_err() {
                    break;
                }
                permits.clear();
                if batch.capacity() > KEEP_BUFFER {
                    // Thousands of mostly idle connections must not each keep a large buffer.
                    batch = Vec::new();
                } else {
                    batch.clear();
                }
            }
            if close {
                break;
            }
            next = out_rx.recv().await;
        }
        let _ = writer.shutdown().await;
    });

    let decoder = FrameDecoder::new(max_packet_bytes);
    let permits = Arc::new(Semaphore::new(MAX_OUTSTANDING_PER_CONNECTION));
    let mut buffer = BytesMut::with_capacity(16 * 1024);
    let mut handshaken = false;
    let reason = 'read: loop {
        match reader.read_buf(&mut buffer).await {
            Ok(0) => break 'read "closed by the client".to_string(),
            Ok(_) => {}
            Err(e) => break 'read format!("read error: {e}"),
        }
        if !handshaken {
            if let Some(word) = proto::four_letter_word(&buffer) {
                let (reply_tx, reply_rx) = oneshot::channel();
                let _ = core.send(CoreEvent::FourLetterWord {
                    word,
                    reply: reply_tx,
                });
                if let Ok(text) = reply_rx.await {
                    let _ = out_tx.send(Outgoing::Frame(text.into(), None));
                }
                let _ = out_tx.send(Outgoing::Close);
                let _ = writer_task.await;
                return;
            }
        }
        loop {
            let frame = match decoder.decode(&mut buffer) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => break 'read format!("bad frame: {e}"),
            };
            let mut body = frame;
            if !handshaken {
                match ConnectRequest::decode(&mut body) {
                    Ok(request) => {
                        handshaken = true;
                        let out = out_tx.clone();
                        if core
                            .send(CoreEvent::Handshake {
                                conn,
                                remote,
                                request,
                                out,
                            })
                            .is_err()
                        {
                            break 'read "server stopping".into();
                        }
                    }
                    Err(e) => break 'read format!("bad ConnectRequest: {e}"),
                }
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break 'read "server stopping".into();
            };
            let event = match RequestPacket::decode(&mut body) {
                Ok(packet) => CoreEvent::Request {
                    conn,
                    packet,
                    permit,
                },
                Err(error) if error.header.is_some() => CoreEvent::BadRequest {
                    conn,
                    error,
                    permit,
                },
                Err(error) => break 'read format!("undecodable request: {error}"),
            };
            if core.send(event).is_err() {
                break 'read "server stopping".into();
            }
        }
    };
    if reason.starts_with("bad") || reason.starts_with("undecodable") {
        tracing::warn!(%remote, conn, %reason, "closing connection");
    } else {
        tracing::debug!(%remote, conn, %reason, "connection closed");
    }
    let _ = core.send(CoreEvent::Closed { conn });
    drop(out_tx);
    let _ = writer_task.await;
}
