//! Running a server: open the replica, listen for clients, drive the core task.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::Core;
use crate::events::CoreEvent;
use crate::peers::net::PeerNet;
use crate::replica::{Replica, ReplicaError, ReplicaOptions};
use crate::state::ServerState;

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("{0}")]
    Unsupported(String),
}

/// Runs a server until it fails (storage errors are fatal) or the process is stopped.
pub async fn run(mut config: Config) -> Result<(), ServerError> {
    if config.peer_secret.is_none() {
        config
            .read_peer_secret()
            .map_err(|e| ServerError::Unsupported(e.to_string()))?;
    }
    let (core_tx, mut core_rx) = mpsc::unbounded_channel::<CoreEvent>();
    let log_tx = core_tx.clone();
    let net = if config.is_standalone() {
        PeerNet::default()
    } else {
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
        let options = crate::peers::PeerOptions {
            secret: config.peer_secret.clone(),
            max_send_queue_bytes: config.max_peer_send_queue_bytes,
            ..crate::peers::PeerOptions::new(config.tick_time, config.sync_limit)
        };
        let net = crate::peers::net::start(config.my_id, listen, peers, core_tx.clone(), options)
            .await
            .map_err(|source| ServerError::Listen {
                address: listen.to_string(),
                source,
            })?;
        tracing::info!(%listen, members = config.members.len(), "listening for peers");
        net
    };
    let members: Vec<zab::ServerId> = if config.is_standalone() {
        vec![zab::ServerId(config.my_id)]
    } else {
        config.members.iter().map(|m| zab::ServerId(m.id)).collect()
    };
    let mut zab_config = zab::Config::new(zab::ServerId(config.my_id), members);
    zab_config.init_limit = config.init_limit;
    zab_config.sync_limit = config.sync_limit;
    if let Some(bug) = config.unsafe_bug {
        tracing::error!(
            bug = bug.name(),
            "running a DELIBERATELY BROKEN Zab core: this server may lose acknowledged writes \
             or serve stale reads; for testing checkers only"
        );
        zab_config.bug = Some(bug);
    }
    let options = ReplicaOptions {
        zab: zab_config,
        snap_count: config.snap_count,
        snap_retain: config.snap_retain_count,
        log_options: storage::LogOptions {
            max_payload: u32::try_from(config.max_packet_bytes.saturating_mul(2))
                .unwrap_or(u32::MAX),
            segment_size: (64u64 << 20).max(config.max_packet_bytes as u64 * 4),
            ..storage::LogOptions::default()
        },
        nonce: std::process::id() as u64
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)),
    };
    let replica = Replica::open(
        &config.data_dir,
        &config.data_log_dir,
        options,
        ServerState::new(),
        net.clone(),
        move |event| {
            let _ = log_tx.send(CoreEvent::Log(event));
        },
    )?;
    let address = config.client_address();
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Listen {
            address: address.to_string(),
            source,
        })?;
    tracing::info!(%address, standalone = config.is_standalone(), "listening for clients");
    let max_packet = config.max_packet_bytes;
    let accept_tx = core_tx.clone();
    tokio::spawn(async move {
        let mut next_conn = 0u64;
        let mut backoff = crate::accept_backoff::AcceptBackoff::new("client");
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => {
                    backoff.succeeded();
                    next_conn += 1;
                    let core = accept_tx.clone();
                    tokio::spawn(crate::connection::serve(
                        stream, remote, next_conn, core, max_packet,
                    ));
                }
                Err(e) => backoff.failed(&e).await,
            }
        }
    });
    if config.metrics_port != 0 {
        let address = std::net::SocketAddr::new(config.client_port_address, config.metrics_port);
        let metrics = TcpListener::bind(address)
            .await
            .map_err(|source| ServerError::Listen {
                address: address.to_string(),
                source,
            })?;
        tracing::info!(%address, "serving /metrics");
        tokio::spawn(crate::metrics::serve(metrics, core_tx.clone()));
    }
    let tick_time = config.tick_time;
    let mut core = Core::new(config, replica, net);
    let mut zab_tick = tokio::time::interval(tick_time);
    let mut expiry_tick = tokio::time::interval(Duration::from_millis(100).min(tick_time));
    zab_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    expiry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = core_rx.recv() => {
                let Some(event) = event else { return Ok(()) };
                core.handle(event)?;
                // Take whatever else is already waiting before looking at the timers.
                while let Ok(event) = core_rx.try_recv() {
                    core.handle(event)?;
                }
            }
            _ = zab_tick.tick() => core.tick()?,
            _ = expiry_tick.tick() => core.expire()?,
        }
    }
}

/// The socket address of `host:port` (the first the resolver gives).
fn resolve(host: &str, port: u16) -> Result<std::net::SocketAddr, ServerError> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ServerError::Unsupported(format!("cannot resolve {host}:{port}")))
}
