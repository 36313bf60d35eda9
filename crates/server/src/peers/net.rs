//! Connections between the servers of an ensemble: one TCP connection per pair, dialled by
//! the server with the larger id (as ZooKeeper does, so two servers never race to connect to
//! each other), opened with the authenticated handshake of `auth.rs`. A server accepts the
//! members of its configuration, and up to [`MAX_JOINING_PEERS`] servers outside it (joining
//! servers, before the reconfiguration that adds them; see `directory.rs`), each proving the
//! shared secret. With `sslQuorum=true` every
//! connection is mutual TLS first (`tls/quorum.rs`) and the handshake runs inside it.
//!
//! A connection still in its handshakes (TLS, then the secret's) holds one of
//! [`MAX_UNIDENTIFIED_PEER_CONNECTIONS`] places and is dropped when either handshake runs out
//! of time, so a stranger on the peer port holds neither memory nor a member's place for long.
//!
//! A link that receives nothing for `syncLimit` ticks is dropped (every link sends a keepalive
//! after a tick without traffic, so only a dead or partitioned link is that quiet); the
//! dialling side then redials at once, and with a backoff of at most a second after failures,
//! so a healed partition is rejoined quickly. Messages sent while a peer is unreachable are
//! dropped (Zab treats that as a lost message and recovers by resynchronizing).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::auth::{self, AcceptPolicy};
use super::codec::{self, PeerFrame};
use super::directory::Directory;
use super::link::{self, Closer, Registered, Times};
use super::stream::PeerStream;
use super::{
    PeerOptions, DEFAULT_MAX_PEER_SEND_QUEUE_BYTES, FIRST_DIAL_BACKOFF, MAX_DIAL_BACKOFF,
    MAX_INBOUND_PEER_FRAMES, MAX_JOINING_PEERS, MAX_UNIDENTIFIED_PEER_CONNECTIONS,
};
use crate::accept_backoff::{AcceptBackoff, LogLimit};
use crate::events::CoreEvent;

/// A registered link, as the senders see it.
struct LinkHandle {
    generation: u64,
    tx: mpsc::UnboundedSender<bytes::Bytes>,
    queued_bytes: Arc<AtomicUsize>,
    closer: Arc<Closer>,
}

/// Where frames to each peer go: the writer of its current link.
#[derive(Clone)]
pub struct PeerNet {
    links: Arc<Mutex<HashMap<u64, LinkHandle>>>,
    /// The peer addresses of the servers this one talks to (see `directory.rs`).
    directory: Directory,
    generation: Arc<AtomicU64>,
    max_send_queue_bytes: usize,
    /// Frames received from peers and not yet handled by the core: a reader takes one before
    /// handing a frame on, the driver gives it back once the core handled it, so a core that
    /// falls behind is not buried (the links' TCP windows fill instead).
    inbound_frames: Arc<tokio::sync::Semaphore>,
}

impl Default for PeerNet {
    fn default() -> PeerNet {
        PeerNet::new(DEFAULT_MAX_PEER_SEND_QUEUE_BYTES)
    }
}

impl PeerNet {
    fn new(max_send_queue_bytes: usize) -> PeerNet {
        PeerNet {
            links: Arc::default(),
            directory: Directory::default(),
            generation: Arc::default(),
            max_send_queue_bytes,
            inbound_frames: Arc::new(tokio::sync::Semaphore::new(MAX_INBOUND_PEER_FRAMES)),
        }
    }

    /// The core handled `frames` frames from peers: their readers may hand on as many more.
    pub fn frames_handled(&self, frames: usize) {
        self.inbound_frames.add_permits(frames);
    }

    /// Waits until the core may take one more frame (see `inbound_frames`).
    pub(super) async fn inbound_slot(&self) -> bool {
        match self.inbound_frames.acquire().await {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        }
    }

    /// The table; a panic elsewhere while holding it leaves it consistent (every change is
    /// one insert or remove), so a poisoned lock is used as it is.
    fn table(&self) -> MutexGuard<'_, HashMap<u64, LinkHandle>> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame for a peer if it is connected; drops it otherwise. A frame that would
    /// take the peer's queue past its bound closes the link instead: the peer is behind by
    /// more than Zab can keep in flight, and rejoining (DIFF or SNAP) catches it up.
    pub fn send(&self, to: u64, frame: &PeerFrame) {
        let parts = codec::encode_parts(frame);
        let frame_bytes: usize = parts.iter().map(|p| p.len()).sum();
        let links = self.table();
        let Some(link) = links.get(&to) else { return };
        if link.closer.is_closing() {
            return;
        }
        let queued = link.queued_bytes.load(Ordering::Acquire);
        if queued.saturating_add(frame_bytes) > self.max_send_queue_bytes {
            tracing::warn!(
                peer = to,
                queued_bytes = queued,
                frame_bytes,
                max_peer_send_queue_bytes = self.max_send_queue_bytes,
                "peer send queue full: dropping the link (the peer resynchronizes when it rejoins)"
            );
            link.closer.close();
            return;
        }
        link.queued_bytes.fetch_add(frame_bytes, Ordering::AcqRel);
        // In one go under the table's lock, so no other frame comes between the pieces.
        for part in parts {
            let _ = link.tx.send(part);
        }
    }

    /// The members changed (a configuration was activated): from now on this server dials
    /// and admits the servers of `members` (id, `host:peerPort`); links to others are left to
    /// end on their own, and nobody redials them.
    pub fn set_members(&self, members: Vec<(u64, String)>) {
        self.directory.replace(members);
    }

    /// This leader proposed a configuration: dial and admit its servers too, so that joining
    /// servers sync before the change commits.
    pub fn add_members(&self, members: Vec<(u64, String)>) {
        self.directory.add(members);
    }

    /// Links of servers outside the directory (joining servers that dialled in).
    fn non_member_links(&self) -> usize {
        let links = self.table();
        links
            .keys()
            .filter(|id| !self.directory.knows(**id))
            .count()
    }

    /// Peers with a live link.
    pub fn connected(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.table().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Whether `id` has a live link.
    pub fn is_connected(&self, id: u64) -> bool {
        self.table().contains_key(&id)
    }

    /// Makes a new link the current one for `id`. A live link is replaced only if `replace`
    /// (the new one proved the secret); the old one is closed and the core told it is gone,
    /// before the new link can deliver anything. Without `replace`, a live link wins.
    fn register(
        &self,
        id: u64,
        replace: bool,
        core: &mpsc::UnboundedSender<CoreEvent>,
    ) -> Option<Registered> {
        let mut links = self.table();
        if let Some(old) = links.get(&id) {
            if !replace {
                return None;
            }
            old.closer.close();
            links.remove(&id);
            let _ = core.send(CoreEvent::PeerDisconnected { peer: id });
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let closer = Arc::new(Closer::default());
        links.insert(
            id,
            LinkHandle {
                generation,
                tx,
                queued_bytes: queued_bytes.clone(),
                closer: closer.clone(),
            },
        );
        Some(Registered {
            generation,
            rx,
            queued_bytes,
            closer,
        })
    }

    /// Removes a link that ended, if it is still the current one, and tells the core — under
    /// the lock, so that the news cannot overtake frames of a link registered after it.
    pub(super) fn unregister(
        &self,
        id: u64,
        generation: u64,
        core: &mpsc::UnboundedSender<CoreEvent>,
    ) {
        let mut links = self.table();
        if links.get(&id).is_some_and(|l| l.generation == generation) {
            links.remove(&id);
            let _ = core.send(CoreEvent::PeerDisconnected { peer: id });
        }
    }
}

impl crate::replica::Transport for PeerNet {
    fn send(&mut self, to: zab::ServerId, message: zab::Message) {
        PeerNet::send(self, to.0, &PeerFrame::Zab(message));
    }
}

/// What every connection task of one server shares.
struct Shared {
    my_id: u64,
    net: PeerNet,
    core: mpsc::UnboundedSender<CoreEvent>,
    options: PeerOptions,
    /// Connections accepted that have not finished the handshake.
    unidentified: Arc<AtomicUsize>,
    /// Refused handshakes are logged at most once a second: strangers must not flood the log.
    refusals: Mutex<LogLimit>,
}

impl Shared {
    fn times(&self) -> Times {
        Times {
            keepalive: self.options.keepalive(),
            silence: self.options.silence(),
        }
    }

    fn log_refusal(&self, remote: SocketAddr, reason: &str) {
        let allowed = self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow();
        if let Some(suppressed) = allowed {
            tracing::warn!(%remote, %reason, suppressed, "refused a peer connection");
        }
    }
}

/// Starts listening on `listen` and dialling every member with a smaller id.
pub async fn start(
    my_id: u64,
    listen: SocketAddr,
    members: Vec<(u64, String)>,
    core: mpsc::UnboundedSender<CoreEvent>,
    options: PeerOptions,
) -> std::io::Result<PeerNet> {
    if options.secret.is_none() && options.tls.is_some() {
        tracing::warn!(
            %listen,
            "no peer secret configured: the peer port trusts any server holding a certificate \
             the quorum trust store vouches for; set quorum.peerSecretFile on every server to \
             authenticate the ensemble as well"
        );
    } else if options.secret.is_none() {
        tracing::warn!(
            %listen,
            "NO PEER SECRET CONFIGURED: the peer port trusts anyone who can reach it (a \
             stranger can pose as a member, forward writes with any credentials and disrupt \
             the ensemble); set quorum.peerSecretFile on every server"
        );
    }
    let listener = TcpListener::bind(listen).await?;
    let (dials, mut to_dial) = mpsc::unbounded_channel();
    let mut net = PeerNet::new(options.max_send_queue_bytes);
    net.directory = Directory::new(my_id, dials);
    let shared = Arc::new(Shared {
        my_id,
        net,
        core,
        options,
        unidentified: Arc::default(),
        refusals: Mutex::default(),
    });
    tokio::spawn(accept_loop(listener, shared.clone()));
    let dialler = shared.clone();
    tokio::spawn(async move {
        while let Some((id, address, generation)) = to_dial.recv().await {
            tokio::spawn(dial_forever(id, address, generation, dialler.clone()));
        }
    });
    shared.net.directory.replace(members);
    Ok(shared.net.clone())
}

/// One of the [`MAX_UNIDENTIFIED_PEER_CONNECTIONS`] places for a connection still in its
/// handshake; given back when dropped.
struct UnidentifiedSlot(Arc<AtomicUsize>);

impl UnidentifiedSlot {
    fn take(count: &Arc<AtomicUsize>) -> Option<UnidentifiedSlot> {
        let before = count.fetch_add(1, Ordering::AcqRel);
        if before >= MAX_UNIDENTIFIED_PEER_CONNECTIONS {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(UnidentifiedSlot(count.clone()))
    }
}

impl Drop for UnidentifiedSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts peer connections forever, backing off on accept errors (EMFILE must not spin).
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut backoff = AcceptBackoff::new("peer");
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                backoff.succeeded();
                let Some(slot) = UnidentifiedSlot::take(&shared.unidentified) else {
                    shared.log_refusal(remote, "too many connections in their handshake");
                    continue;
                };
                tokio::spawn(inbound(stream, remote, slot, shared.clone()));
            }
            Err(e) => backoff.failed(&e).await,
        }
    }
}

/// The host part of `host:port` (an IPv6 host keeps its brackets).
fn host_of(address: &str) -> &str {
    address.rsplit_once(':').map_or(address, |(host, _)| host)
}

/// One accepted connection: the handshakes within their timeouts, then the link. A refused or
/// failed handshake closes only this connection; the peer's live link is not touched.
async fn inbound(
    stream: TcpStream,
    remote: SocketAddr,
    slot: UnidentifiedSlot,
    shared: Arc<Shared>,
) {
    let _ = stream.set_nodelay(true);
    let identified = identify(stream, remote, &shared).await;
    drop(slot);
    let (id, stream) = match identified {
        Ok(identified) => identified,
        Err(reason) => return shared.log_refusal(remote, &reason),
    };
    // A connection that proved the secret, or whose TLS certificate names the member it claims
    // to be, replaces a live one (a restarted peer comes back at once). Otherwise the live
    // link wins.
    let replace = shared.options.secret.is_some()
        || shared
            .options
            .tls
            .as_ref()
            .is_some_and(|t| t.checks_host_names());
    let Some(registered) = shared.net.register(id, replace, &shared.core) else {
        return shared.log_refusal(remote, &format!("server {id} is already connected"));
    };
    let tls = shared.options.tls.is_some();
    tracing::info!(peer = id, %remote, authenticated = replace, tls, "peer connected");
    link::run(
        id,
        stream,
        registered,
        shared.net.clone(),
        shared.core.clone(),
        shared.times(),
    )
    .await;
}

/// The listener's handshakes: TLS if configured (its own deadline), then who the peer is (the
/// secret's handshake, within the handshake timeout), then, over TLS, that its certificate is
/// that member's.
async fn identify(
    stream: TcpStream,
    remote: SocketAddr,
    shared: &Shared,
) -> Result<(u64, PeerStream), String> {
    let Some(tls) = &shared.options.tls else {
        let mut stream = stream;
        let id = accept_member(&mut stream, shared).await?;
        return Ok((id, stream.into()));
    };
    let mut stream = tls.accept(stream).await?;
    let id = accept_member(&mut stream, shared).await?;
    // A member's certificate must name the host of its server line; a joining server's, the
    // address it connects from.
    let host = match shared.net.directory.address(id) {
        Some(address) => host_of(&address).to_string(),
        None => remote.ip().to_string(),
    };
    tls.check_dialler(stream.get_ref().1.peer_certificates(), &host)
        .map_err(|e| format!("server {id}: {e}"))?;
    Ok((id, stream.into()))
}

/// The secret's handshake on an accepted connection, within the handshake timeout: the id of
/// the member that dialled.
async fn accept_member<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    shared: &Shared,
) -> Result<u64, String> {
    let net = shared.net.clone();
    // A certificate checked against the member's host proves who dialled as the secret does,
    // so a second connection of a live member need not be refused for lack of a secret.
    let proven_by_certificate = shared
        .options
        .tls
        .as_ref()
        .is_some_and(|t| t.checks_host_names());
    let is_live = move |id: u64| !proven_by_certificate && net.is_connected(id);
    let net = shared.net.clone();
    let admits =
        move |id: u64| net.directory.knows(id) || net.non_member_links() < MAX_JOINING_PEERS;
    let policy = AcceptPolicy {
        me: shared.my_id,
        admits: &admits,
        secret: shared.options.secret.as_ref(),
        is_live: &is_live,
    };
    let timeout = shared.options.handshake_timeout();
    match tokio::time::timeout(timeout, auth::accept(stream, &policy)).await {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(e)) => Err(e.0),
        Err(_) => Err(format!("no handshake within {timeout:?}")),
    }
}

/// Connects to `address` (over TLS if configured) and proves who this server is to `peer`.
async fn connect_and_prove(
    address: &str,
    peer: u64,
    shared: &Shared,
) -> Result<PeerStream, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let secret = shared.options.secret.as_ref();
    let Some(tls) = &shared.options.tls else {
        let mut stream = stream;
        auth::dial(&mut stream, shared.my_id, peer, secret)
            .await
            .map_err(|e| e.0)?;
        return Ok(stream.into());
    };
    let mut stream = tls.connect(host_of(address), stream).await?;
    auth::dial(&mut stream, shared.my_id, peer, secret)
        .await
        .map_err(|e| e.0)?;
    Ok(stream.into())
}

/// The wait before the next dial after `previous` (zero: the link just ended).
fn next_dial_backoff(previous: Duration) -> Duration {
    if previous.is_zero() {
        FIRST_DIAL_BACKOFF
    } else {
        (previous * 2).min(MAX_DIAL_BACKOFF)
    }
}

/// Keeps a link to `peer` up: redials at once when a link that lasted ends or an attempt timed
/// out (it has already waited a handshake timeout), and after quick failures (refused, reset,
/// not proven) backs off from 50 ms to [`MAX_DIAL_BACKOFF`], counted from each attempt's start.
/// Ends when `peer`'s entry of `generation` leaves the directory (removed, or replaced: a new
/// dialler takes over).
async fn dial_forever(peer: u64, address: String, generation: u64, shared: Arc<Shared>) {
    let mut backoff = Duration::ZERO;
    let mut log = LogLimit::default();
    let timeout = shared.options.handshake_timeout();
    while shared.net.directory.is_current(peer, generation) {
        let started = Instant::now();
        let attempt = tokio::time::timeout(timeout, connect_and_prove(&address, peer, &shared));
        match attempt.await {
            Ok(Ok(stream)) => {
                if let Some(registered) = shared.net.register(peer, true, &shared.core) {
                    tracing::info!(peer, %address, "peer connected");
                    let (net, core) = (shared.net.clone(), shared.core.clone());
                    link::run(peer, stream, registered, net, core, shared.times()).await;
                    if started.elapsed() >= MAX_DIAL_BACKOFF {
                        backoff = Duration::ZERO;
                        continue;
                    }
                }
            }
            Ok(Err(reason)) => {
                if log.allow().is_some() {
                    tracing::info!(peer, %reason, "cannot connect to peer");
                }
            }
            Err(_) => {
                if log.allow().is_some() {
                    tracing::info!(peer, %address, ?timeout, "no handshake with peer in time");
                }
                // A black hole (a silent partition): the attempt itself waited, and the next
                // starts at once, so that once the network heals the peer is reached within one
                // handshake timeout.
                continue;
            }
        }
        backoff = next_dial_backoff(backoff);
        tokio::time::sleep(backoff.saturating_sub(started.elapsed())).await;
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "net_tls_tests.rs"]
mod tls_tests;
