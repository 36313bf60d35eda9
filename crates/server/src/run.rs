//! Running a server: open the replica, listen for clients, and drive the core.
//!
//! The driver is the only place where the core meets tokio: it reads the clock, feeds the
//! core one event at a time, and carries out the effects the core decides on client
//! connections through their [`ConnIo`] handles.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::accept::{accept_loop, Clients};
use crate::clients::{ClientEffect, ClientEvent, ConnId};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::core::Core;
use crate::core::{MembershipNews, PeerOutbox, ServerReplica};
use crate::events::{ConnIo, CoreEvent, Outgoing};
use crate::peers::net::PeerNet;
use crate::replica::{FileStorage, ReplicaError, ReplicaOptions};
use crate::session::SessionIds;
use crate::state::ServerState;
use crate::tls::quorum::QuorumTls;
use crate::tls::SecurePort;

/// Client-side events (requests, writes done, four-letter words) waiting for the core; readers
/// and writers wait when it is full.
const CLIENT_EVENT_QUEUE_EVENTS: usize = 16 * 1024;

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error(
        "cannot start the AdminServer on {address} (admin.serverAddress, admin.serverPort; \
         admin.enableServer=false turns it off): {source}"
    )]
    AdminListen {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("{0}")]
    Unsupported(String),
    /// A client or quorum TLS setting or store that cannot be used.
    #[error("{0}")]
    Tls(String),
}

/// Runs a server until it fails (storage errors are fatal) or the process is stopped.
pub async fn run(mut config: Config) -> Result<(), ServerError> {
    if config.peer_secret.is_none() {
        config
            .read_peer_secret()
            .map_err(|e| ServerError::Unsupported(e.to_string()))?;
    }
    for warning in &config.warnings {
        tracing::warn!("configuration: {warning}");
    }
    let fd_limit = crate::fds::raise_open_files_limit();
    let allowed = crate::fds::connections_allowed(fd_limit);
    if config.limits.max_connections > allowed {
        tracing::warn!(
            configured = config.limits.max_connections,
            allowed,
            fd_limit,
            "maxCnxns lowered to what the open-files limit allows"
        );
        config.limits.max_connections = allowed;
    }
    let (client_tx, client_rx) = mpsc::channel::<CoreEvent>(CLIENT_EVENT_QUEUE_EVENTS);
    // Peer frames and the log writer's reports. The log writer is a thread that must never
    // wait on the core (the core waits on it for truncations), and sends one report per
    // fsync batch; peer frames come from authenticated members of the ensemble.
    let (core_tx, core_rx) = mpsc::unbounded_channel::<CoreEvent>();
    let net = start_peers(&config, core_tx.clone()).await?;
    // Recovery reads the newest snapshot and the log, seconds for a big tree: off the runtime
    // thread, which meanwhile answers the other servers' handshakes on the peer port.
    let recovering = config.clone();
    let replica = crate::off_thread::run((), move |_| open_replica(&recovering, core_tx))
        .await
        .1?;
    start_clients(&config, client_tx.clone()).await?;
    if config.metrics_port != 0 {
        let address = SocketAddr::new(config.client_port_address, config.metrics_port);
        let metrics = bind(address).await?;
        tracing::info!(%address, "serving /metrics");
        tokio::spawn(crate::metrics::serve(metrics, client_tx.clone()));
    }
    if config.admin.enabled {
        start_admin(&config, client_tx.clone()).await?;
    }
    drop(client_tx);
    let tick_time = config.tick_time;
    let core = Core::new(config, replica)?;
    Driver::new(core, net)
        .run(client_rx, core_rx, tick_time)
        .await
}

/// Binds the AdminServer's port (failing the start if it cannot) and serves it.
async fn start_admin(config: &Config, core: mpsc::Sender<CoreEvent>) -> Result<(), ServerError> {
    let address = SocketAddr::new(config.admin.address, config.admin.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::AdminListen {
            address: address.to_string(),
            source,
        })?;
    let url = &config.admin.command_url;
    tracing::info!(%address, "AdminServer answering {url}/<command>");
    let context = crate::admin::AdminContext {
        config: Arc::new(config.clone()),
        started: Instant::now(),
    };
    tokio::spawn(crate::admin::serve(listener, core, context));
    Ok(())
}

/// Listens for clients on the plain and the secure client port, whichever are configured.
async fn start_clients(
    config: &Config,
    client_tx: mpsc::Sender<CoreEvent>,
) -> Result<(), ServerError> {
    // The stores are opened before anything listens: a bad one stops the server at start.
    let secure = match config.secure_client_address() {
        Some(address) => Some((
            address,
            SecurePort::new(&config.tls).map_err(ServerError::Tls)?,
        )),
        None => None,
    };
    let clients = Arc::new(Clients::new(
        client_tx,
        config.max_packet_bytes,
        config.limits.clone(),
    ));
    let standalone = config.is_standalone();
    if config.plain_client_port().is_some() {
        let address = config.client_address();
        let listener = bind(address).await?;
        tracing::info!(%address, standalone, "listening for clients");
        tokio::spawn(accept_loop(listener, clients.clone(), None));
    }
    if let Some((address, port)) = secure {
        let listener = bind(address).await?;
        tracing::info!(%address, standalone, "listening for TLS clients");
        tokio::spawn(accept_loop(listener, clients, Some(port)));
    }
    Ok(())
}

async fn bind(address: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Listen {
            address: address.to_string(),
            source,
        })
}

/// Listens for and dials the other servers (nothing in a standalone server).
async fn start_peers(
    config: &Config,
    core_tx: mpsc::UnboundedSender<CoreEvent>,
) -> Result<PeerNet, ServerError> {
    if config.is_standalone() {
        return Ok(PeerNet::default());
    }
    let me = config
        .members
        .iter()
        .find(|m| m.id == config.my_id)
        .ok_or_else(|| {
            ServerError::Unsupported(format!(
                "server {} is not among the server.N lines",
                config.my_id
            ))
        })?;
    let listen = resolve(&me.host, me.peer_port)?;
    let peers: Vec<(u64, String)> = config
        .members
        .iter()
        .map(|m| (m.id, format!("{}:{}", m.host, m.peer_port)))
        .collect();
    // The quorum stores are opened before anything listens: a bad one stops the server at start.
    let tls = match config.quorum_tls.enabled {
        true => Some(QuorumTls::new(&config.quorum_tls.settings).map_err(ServerError::Tls)?),
        false => None,
    };
    let options = crate::peers::PeerOptions {
        secret: config.peer_secret.clone(),
        tls,
        max_send_queue_bytes: config.max_peer_send_queue_bytes,
        ..crate::peers::PeerOptions::new(config.tick_time, config.sync_limit)
    };
    let net = crate::peers::net::start(config.my_id, listen, peers, core_tx, options)
        .await
        .map_err(|source| ServerError::Listen {
            address: listen.to_string(),
            source,
        })?;
    let tls = config.quorum_tls.enabled;
    tracing::info!(%listen, members = config.members.len(), tls, "listening for peers");
    Ok(net)
}

/// Recovers the replica from disk and starts its Zab core.
fn open_replica(
    config: &Config,
    core_tx: mpsc::UnboundedSender<CoreEvent>,
) -> Result<ServerReplica<FileStorage>, ServerError> {
    #[cfg(feature = "bugs")]
    if let Some(bug) = config.unsafe_bug {
        tracing::error!(
            bug = bug.name(),
            "running a DELIBERATELY BROKEN Zab core: this server may lose acknowledged writes \
             or serve stale reads; for testing checkers only"
        );
    }
    let zab_config = config.zab_config();
    let clock = SystemClock::new().now();
    let options = ReplicaOptions {
        zab: zab_config,
        snap_count: config.snap_count,
        snap_retain: config.snap_retain_count,
        log_options: storage::LogOptions {
            max_payload: u32::try_from(config.max_packet_bytes.saturating_mul(2))
                .unwrap_or(u32::MAX),
            segment_size: (64u64 << 20).max(config.max_packet_bytes as u64 * 4),
            slow_sync_warning: std::time::Duration::from_millis(config.fsync_warning_ms),
            preallocate_ahead: true,
            ..storage::LogOptions::default()
        },
        nonce: std::process::id() as u64 ^ (clock.wall_ms as u64).rotate_left(20),
        // The dynamic file is written when a configuration is activated, so its version is
        // the newest this server activated.
        activated: zab::Zxid::from_u64(config.config_version),
    };
    let state = ServerState::new(
        config.limits.clone(),
        SessionIds::new(config.my_id, clock.wall_ms as u64),
    );
    let replica = crate::replica::open(
        &config.data_dir,
        &config.data_log_dir,
        options,
        state,
        PeerOutbox::default(),
        move |event| {
            let _ = core_tx.send(CoreEvent::Storage(event));
        },
    )?;
    Ok(replica)
}

/// Events on the core that take longer than this are logged: the core task holds up every
/// client while it works (a snapshot of a big tree, say).
const SLOW_EVENT: Duration = Duration::from_millis(100);

/// Feeds the core and carries out its effects.
struct Driver {
    core: Core<FileStorage>,
    net: PeerNet,
    clock: SystemClock,
    conns: HashMap<ConnId, ConnIo>,
    effects: Vec<ClientEffect>,
    frames: Vec<(u64, crate::peers::codec::PeerFrame)>,
    news: Vec<MembershipNews>,
}

impl Driver {
    fn new(core: Core<FileStorage>, net: PeerNet) -> Driver {
        Driver {
            core,
            net,
            clock: SystemClock::new(),
            conns: HashMap::new(),
            effects: Vec::new(),
            frames: Vec::new(),
            news: Vec::new(),
        }
    }

    async fn run(
        mut self,
        mut clients: mpsc::Receiver<CoreEvent>,
        mut others: mpsc::UnboundedReceiver<CoreEvent>,
        tick_time: Duration,
    ) -> Result<(), ServerError> {
        let mut zab_tick = tokio::time::interval(tick_time);
        let mut expiry_tick = tokio::time::interval(Duration::from_millis(100).min(tick_time));
        zab_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        expiry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = clients.recv() => {
                    let Some(event) = event else { return Ok(()) };
                    self = self.take_all(event, || clients.try_recv().ok()).await?;
                }
                event = others.recv() => {
                    let Some(event) = event else { return Ok(()) };
                    self = self.take_all(event, || others.try_recv().ok()).await?;
                }
                _ = zab_tick.tick() => {
                    let now = self.clock.now();
                    self.core.tick(now)?;
                    self.carry_out();
                }
                _ = expiry_tick.tick() => {
                    let now = self.clock.now();
                    self.core.expire(now)?;
                    self.carry_out();
                }
            }
        }
    }

    /// Hands the core `first` and whatever else `next` finds already waiting, before the loop
    /// looks at the timers again.
    async fn take_all(
        mut self,
        first: CoreEvent,
        mut next: impl FnMut() -> Option<CoreEvent>,
    ) -> Result<Driver, ServerError> {
        let mut event = Some(first);
        while let Some(taken) = event {
            match takes_long(&taken) {
                true => self = self.take_long(taken).await?,
                false => self.handle(taken)?,
            }
            event = next();
        }
        Ok(self)
    }

    /// Hands the core an event that may keep it busy for seconds ([`takes_long`]), on a
    /// blocking thread ([`crate::off_thread`]) while this one keeps serving sockets. The core
    /// still sees one event at a time, in order: the loop waits for this one.
    async fn take_long(self, event: CoreEvent) -> Result<Driver, ServerError> {
        let (driver, result) = crate::off_thread::run(self, |d| d.handle(event)).await;
        result?;
        Ok(driver)
    }

    /// Hands one event to the core. An error is fatal for the server.
    fn handle(&mut self, event: CoreEvent) -> Result<(), ReplicaError> {
        let started = Instant::now();
        let kind = event_kind(&event);
        let result = self.dispatch(event);
        let took = started.elapsed();
        if took >= SLOW_EVENT {
            tracing::warn!(
                event = kind,
                ms = took.as_millis() as u64,
                "the core was busy"
            );
        }
        result
    }

    fn dispatch(&mut self, event: CoreEvent) -> Result<(), ReplicaError> {
        let now = self.clock.now();
        match event {
            CoreEvent::Accepted { conn, remote, io } => {
                self.conns.insert(conn, io);
                self.core
                    .client(ClientEvent::Accepted { conn, remote }, now)?;
            }
            CoreEvent::Client(event) => self.core.client(event, now)?,
            CoreEvent::FourLetterWord { word, reply } => {
                let _ = reply.send(self.core.four_letter_word(word, now));
            }
            CoreEvent::Peer { from, frame } => {
                self.net.frames_handled(1);
                self.core.peer(from, frame, now)?;
            }
            CoreEvent::PeerDisconnected { peer } => {
                // A reconnect may already be up; the core only hears of a peer that is gone.
                if !self.net.connected().contains(&peer) {
                    self.core.peer_disconnected(peer, now)?;
                }
            }
            CoreEvent::View { detail, reply } => {
                let _ = reply.send(self.core.view(detail));
            }
            CoreEvent::Storage(event) => self.core.storage_event(event, now)?,
        }
        self.carry_out();
        Ok(())
    }

    /// Carries out what the core decided, in order: frames to other servers, then what it
    /// decided for client connections.
    fn carry_out(&mut self) {
        self.core.drain_membership_news(&mut self.news);
        for news in std::mem::take(&mut self.news) {
            self.membership_news(news);
        }
        self.core.drain_peer_frames(&mut self.frames);
        for (to, frame) in self.frames.drain(..) {
            self.net.send(to, &frame);
        }
        self.core.drain_effects(&mut self.effects);
        for effect in self.effects.drain(..) {
            match effect {
                ClientEffect::Send { conn, frame } => {
                    if let Some(io) = self.conns.get(&conn) {
                        let _ = io.out.send(Outgoing::Frame(frame));
                    }
                }
                ClientEffect::Grant { conn, credit } => {
                    if let Some(io) = self.conns.get(&conn) {
                        io.requests.add_permits(credit.requests as usize);
                        io.bytes.add_permits(credit.bytes as usize);
                    }
                }
                ClientEffect::Close { conn, flush } => {
                    if let Some(io) = self.conns.remove(&conn) {
                        if flush {
                            let _ = io.out.send(Outgoing::Close);
                            io.closing.notify_one();
                        } else {
                            io.abort.notify_one();
                        }
                    }
                }
            }
        }
    }
}

impl Driver {
    /// A configuration was proposed here or activated: who the network dials and admits, and
    /// (activated) the dynamic file ZooKeeper would write, which a restart reads back.
    fn membership_news(&mut self, news: MembershipNews) {
        let (config, activated) = match news {
            MembershipNews::Proposed(config) => (config, false),
            MembershipNews::Activated(config) => (config, true),
        };
        let members = config
            .servers
            .iter()
            .map(|s| {
                (
                    s.member.id,
                    format!("{}:{}", s.member.host, s.member.peer_port),
                )
            })
            .collect();
        if !activated {
            self.net.add_members(members);
            return;
        }
        self.net.set_members(members);
        let Some(static_file) = self.core.config.static_file.clone() else {
            return;
        };
        let my_id = self.core.config.my_id;
        if !config.servers.iter().any(|s| s.member.id == my_id) {
            // A removed server keeps the last configuration it was part of: it holds its own
            // addresses, so the server can start again (and learn, outside the ensemble, until
            // a reconfiguration adds it back).
            tracing::info!(
                version = config.version,
                "this server is no longer a member"
            );
            return;
        }
        // Rare (one per reconfiguration) and small: written here, in order with the events.
        match server_core::config::dynamic_file::write_new_config(&static_file, &config) {
            Ok(path) => tracing::info!(path = %path.display(), "dynamic configuration written"),
            // Not fatal: a restart takes the configuration from the snapshot, or finds it
            // pending again in the log (then it needs quorums of both it and its predecessor:
            // safe, only slower to recover).
            Err(e) => tracing::error!(%e, "cannot write the dynamic configuration file"),
        }
    }
}

/// Whether the core may be busy with `event` for seconds: the messages of a follower's
/// synchronization with a new leader, which come once per sync. A snapshot is deserialized
/// and saved, a truncation waits for the log writer, a DIFF holds up to a snapshot interval of
/// transactions, and COMMIT-LD applies all of them at once.
fn takes_long(event: &CoreEvent) -> bool {
    use crate::peers::codec::PeerFrame;
    use zab::Message;
    matches!(
        event,
        CoreEvent::Peer {
            frame: PeerFrame::Zab(
                Message::Snap { .. }
                    | Message::Trunc { .. }
                    | Message::Diff { .. }
                    | Message::CommitNewLeader { .. }
            ),
            ..
        }
    )
}

/// The name of an event, for the slow-event log line.
fn event_kind(event: &CoreEvent) -> &'static str {
    match event {
        CoreEvent::Accepted { .. } => "accepted",
        CoreEvent::Client(_) => "client",
        CoreEvent::FourLetterWord { .. } => "four-letter word",
        CoreEvent::Peer { .. } => "peer frame",
        CoreEvent::PeerDisconnected { .. } => "peer disconnected",
        CoreEvent::View { .. } => "view",
        CoreEvent::Storage(_) => "storage",
    }
}

/// The socket address of `host:port` (the first the resolver gives).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, ServerError> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ServerError::Unsupported(format!("cannot resolve {host}:{port}")))
}
