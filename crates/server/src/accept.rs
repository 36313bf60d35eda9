//! Accepting client connections on the plain and the secure client port.
//!
//! Both ports share one count of open connections, so `maxCnxns` bounds them together, and a
//! TLS connection counts from the moment it is accepted: its handshake runs in its own task
//! under a timeout, so a stranger that never finishes one holds its slot only that long. At
//! most [`MAX_TLS_HANDSHAKES_IN_PROGRESS`] handshakes run at once (more are closed at accept):
//! the per-address limit applies only once a client says who it is, after its handshake, so
//! without this bound one stranger opening sockets it never completes could take every slot
//! of `maxCnxns` and lock out the clients of both ports.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::clients::ConnId;
use crate::events::CoreEvent;
use crate::limits::Limits;
use crate::tls::SecurePort;

/// Least time between two log lines about connections refused at `maxCnxns`.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);
/// TLS handshakes under way at once on the secure port; a connection beyond them is closed at
/// accept. Each also costs the server a signature, on a runtime shared with every client.
pub const MAX_TLS_HANDSHAKES_IN_PROGRESS: usize = 256;

/// What the client listeners share.
pub struct Clients {
    core: mpsc::Sender<CoreEvent>,
    max_packet_bytes: usize,
    limits: Limits,
    /// Connections open on either port, handshakes under way included.
    open: AtomicUsize,
    next_conn: AtomicU64,
}

impl Clients {
    pub fn new(core: mpsc::Sender<CoreEvent>, max_packet_bytes: usize, limits: Limits) -> Self {
        Clients {
            core,
            max_packet_bytes,
            limits,
            open: AtomicUsize::new(0),
            next_conn: AtomicU64::new(0),
        }
    }

    /// Connections open now, on both ports.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// Gives a connection's slot back when its task ends, however it ends.
struct Slot(Arc<Clients>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts client connections (TLS ones when `secure` is given). Beyond `max_connections`
/// open sockets a new one is closed at once, so clients can never take the descriptors the
/// server needs; accept errors (out of descriptors, say) back off instead of spinning.
pub async fn accept_loop(listener: TcpListener, clients: Arc<Clients>, secure: Option<SecurePort>) {
    let name = if secure.is_some() {
        "secure client"
    } else {
        "client"
    };
    let mut backoff = crate::accept_backoff::AcceptBackoff::new(name);
    let mut last_refusal: Option<Instant> = None;
    let handshakes = Arc::new(Semaphore::new(MAX_TLS_HANDSHAKES_IN_PROGRESS));
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                backoff.failed(&e).await;
                continue;
            }
        };
        let handshake = match &secure {
            Some(_) => match handshakes.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    if last_refusal.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL) {
                        let max = MAX_TLS_HANDSHAKES_IN_PROGRESS;
                        tracing::warn!(%remote, max, "TLS handshakes in progress at their bound: refused");
                        last_refusal = Some(Instant::now());
                    }
                    continue;
                }
            },
            None => None,
        };
        let max = clients.limits.max_connections;
        // Checked and taken in one step: the other port's loop takes slots too.
        let taken = clients
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |open| {
                (open < max).then_some(open + 1)
            });
        if taken.is_err() {
            if last_refusal.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL) {
                tracing::warn!(%remote, max, "client connections at maxCnxns: refused");
                last_refusal = Some(Instant::now());
            }
            continue;
        }
        let slot = Slot(clients.clone());
        let conn = clients.next_conn.fetch_add(1, Ordering::Relaxed) + 1;
        let secure = secure.clone();
        tokio::spawn(async move {
            serve(stream, remote, conn, &slot.0, secure, handshake).await;
            drop(slot);
        });
    }
}

/// Serves one accepted connection, after its TLS handshake on the secure port.
async fn serve(
    stream: TcpStream,
    remote: SocketAddr,
    conn: ConnId,
    clients: &Clients,
    secure: Option<SecurePort>,
    handshake: Option<OwnedSemaphorePermit>,
) {
    let (core, max_packet, limits) = (
        clients.core.clone(),
        clients.max_packet_bytes,
        &clients.limits,
    );
    let Some(secure) = secure else {
        return crate::connection::serve_tcp(stream, remote, conn, core, max_packet, limits).await;
    };
    let shaken = secure.handshake(stream).await;
    drop(handshake);
    match shaken {
        Ok(tls) => {
            let (reader, writer) = tokio::io::split(tls);
            crate::connection::serve(reader, writer, remote, conn, core, max_packet, limits).await
        }
        Err(reason) => tracing::debug!(%remote, %reason, "secure connection dropped"),
    }
}
