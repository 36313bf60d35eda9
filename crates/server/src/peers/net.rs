//! Connections between the servers of an ensemble: one TCP connection per pair, dialled by
//! the server with the larger id (as ZooKeeper does, so two servers never race to connect to
//! each other), opened with a `Hello` naming the speaker. A server accepts only members of its
//! own configuration. A broken connection is redialled with backoff; messages sent while a
//! peer is unreachable are dropped (Zab treats that as a lost message and recovers).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::codec::{self, PeerFrame, MAX_FRAME, PROTOCOL_VERSION};
use crate::events::CoreEvent;

/// Bytes read from a peer socket at a time.
const READ_BUFFER: usize = 64 * 1024;
/// Bytes of queued frames written to a peer socket at once.
const WRITE_BATCH: usize = 256 * 1024;

/// Per peer id: the generation of its current connection and that connection's writer.
type Writers = HashMap<u64, (u64, mpsc::UnboundedSender<Bytes>)>;

/// Where frames to each peer go: the writer of its current connection.
#[derive(Clone, Default)]
pub struct PeerNet {
    writers: Arc<Mutex<Writers>>,
    generation: Arc<AtomicU64>,
}

impl PeerNet {
    /// Sends a frame to a peer if it is connected; drops it otherwise.
    pub fn send(&self, to: u64, frame: &PeerFrame) {
        let writers = self.writers.lock().expect("peer table lock");
        if let Some((_, tx)) = writers.get(&to) {
            let _ = tx.send(codec::encode(frame));
        }
    }

    /// Peers with a live connection.
    pub fn connected(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .writers
            .lock()
            .expect("peer table lock")
            .keys()
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    fn register(&self, id: u64, tx: mpsc::UnboundedSender<Bytes>) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.writers
            .lock()
            .expect("peer table lock")
            .insert(id, (generation, tx));
        generation
    }

    fn unregister(&self, id: u64, generation: u64) {
        let mut writers = self.writers.lock().expect("peer table lock");
        if writers.get(&id).is_some_and(|(g, _)| *g == generation) {
            writers.remove(&id);
        }
    }
}

impl crate::replica::Transport for PeerNet {
    fn send(&mut self, to: zab::ServerId, message: zab::Message) {
        PeerNet::send(self, to.0, &PeerFrame::Zab(message));
    }
}

/// Starts listening on `listen` and dialling every member with a smaller id.
pub async fn start(
    my_id: u64,
    listen: SocketAddr,
    members: Vec<(u64, String)>,
    core: mpsc::UnboundedSender<CoreEvent>,
) -> std::io::Result<PeerNet> {
    let net = PeerNet::default();
    let listener = TcpListener::bind(listen).await?;
    let known: Vec<u64> = members.iter().map(|(id, _)| *id).collect();
    {
        let net = net.clone();
        let core = core.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, remote)) = listener.accept().await else {
                    continue;
                };
                let (net, core, known) = (net.clone(), core.clone(), known.clone());
                tokio::spawn(async move {
                    match accept(stream, my_id, &known).await {
                        Ok((id, stream)) => run(id, stream, net, core).await,
                        Err(reason) => {
                            tracing::warn!(%remote, %reason, "refused a peer connection")
                        }
                    }
                });
            }
        });
    }
    for (id, address) in members {
        if id < my_id {
            tokio::spawn(dial_forever(my_id, id, address, net.clone(), core.clone()));
        }
    }
    Ok(net)
}

async fn accept(
    mut stream: TcpStream,
    my_id: u64,
    known: &[u64],
) -> Result<(u64, TcpStream), String> {
    let hello = tokio::time::timeout(Duration::from_secs(5), read_frame(&mut stream))
        .await
        .map_err(|_| "no Hello within 5 s".to_string())?
        .map_err(|e| format!("reading Hello: {e}"))?;
    match codec::decode(&hello) {
        Ok(PeerFrame::Hello { version, id }) => {
            if version != PROTOCOL_VERSION {
                return Err(format!(
                    "server {id} speaks peer protocol {version}, this one {PROTOCOL_VERSION}"
                ));
            }
            if !known.contains(&id) || id == my_id {
                return Err(format!("server {id} is not a member of this ensemble"));
            }
            if id < my_id {
                return Err(format!(
                    "server {id} should wait for this server ({my_id}) to dial"
                ));
            }
            Ok((id, stream))
        }
        Ok(other) => Err(format!("expected Hello, got {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn dial_forever(
    my_id: u64,
    id: u64,
    address: String,
    net: PeerNet,
    core: mpsc::UnboundedSender<CoreEvent>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match TcpStream::connect(&address).await {
            Ok(mut stream) => {
                let _ = stream.set_nodelay(true);
                let hello = codec::encode(&PeerFrame::Hello {
                    version: PROTOCOL_VERSION,
                    id: my_id,
                });
                if stream.write_all(&hello).await.is_ok() {
                    backoff = Duration::from_millis(50);
                    run(id, stream, net.clone(), core.clone()).await;
                }
            }
            Err(e) => tracing::debug!(peer = id, %address, error = %e, "cannot reach peer"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Carries frames both ways until the connection breaks.
async fn run(id: u64, stream: TcpStream, net: PeerNet, core: mpsc::UnboundedSender<CoreEvent>) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    // Frames arrive back to back under load (PROPOSE, COMMIT, ACK); read them from a buffer
    // rather than with two syscalls each.
    let mut reader = tokio::io::BufReader::with_capacity(READ_BUFFER, reader);
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let generation = net.register(id, tx);
    tracing::info!(peer = id, "peer connected");
    let writer_task = tokio::spawn(async move {
        // Everything queued while the last write was in flight goes out in one write.
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while let Some(frame) = rx.recv().await {
            batch.clear();
            batch.extend_from_slice(&frame);
            while batch.len() < WRITE_BATCH {
                match rx.try_recv() {
                    Ok(frame) => batch.extend_from_slice(&frame),
                    Err(_) => break,
                }
            }
            if writer.write_all(&batch).await.is_err() {
                break;
            }
        }
    });
    loop {
        let payload = match read_frame(&mut reader).await {
            Ok(payload) => payload,
            Err(e) => {
                tracing::info!(peer = id, reason = %e, "peer connection closed");
                break;
            }
        };
        match codec::decode(&payload) {
            Ok(frame) => {
                if core.send(CoreEvent::Peer { from: id, frame }).is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(peer = id, error = %e, "dropping a connection that sent a bad frame");
                break;
            }
        }
    }
    net.unregister(id, generation);
    writer_task.abort();
    let _ = core.send(CoreEvent::PeerDisconnected { peer: id });
}

async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> std::io::Result<Bytes> {
    let len = reader.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut buf = BytesMut::zeroed(len);
    reader.read_exact(&mut buf).await?;
    Ok(buf.freeze())
}
