//! The broker server: a tokio driver of `partition::Replica` (one per partition the broker
//! holds) and, while this broker is controller, of `partition::Controller`.
//!
//! Tasks and threads: an accept loop (connections bounded by `max_connections`, accept errors
//! backed off), one task per connection ([`conn`]), the core task owning every replica
//! ([`core`]), one disk thread per partition with group commit ([`disk`]), the peers task with
//! a link to each other broker ([`peers`]), a ticker, and the Quorum session ([`session`]) that
//! registers the broker, follows the metadata and runs the controller duty ([`controller`]).

pub mod config;
pub mod conn;
mod controller;
pub mod core;
mod disk;
mod peers;
mod session;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use partition::{Recovered, TopicPartition};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::{Config, Limits};

use crate::store::{list_partitions, partition_dir, PartitionStore, StoreConfig};

/// How often replicas are told the time (their lag, timeout and long-poll clocks).
const TICK: Duration = Duration::from_millis(10);

/// A running broker.
pub struct BrokerServer {
    addr: SocketAddr,
    core: Option<JoinHandle<Result<(), String>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerServer {
    /// Opens every partition log in the data directory (refusing to start on a damaged one),
    /// binds the port, and starts serving and registering.
    pub async fn start(config: Config) -> Result<BrokerServer, String> {
        config.validate()?;
        let opened = open_logs(&config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", config.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let advertise = config.advertise.clone().unwrap_or_else(|| addr.to_string());
        let limits = config.limits;
        let (core_tx, core_rx) = mpsc::channel(limits.core_queue_messages);
        let (peers_tx, peers_rx) = mpsc::channel(limits.core_queue_messages);
        let (alter_tx, alter_rx) = mpsc::channel(256);
        let core = core::Core::new(
            config.clone(),
            opened,
            peers_tx.clone(),
            alter_tx,
            core_tx.clone(),
        );
        let core = tokio::spawn(core.run(core_rx));
        let peer_limits = peers::PeerLimits {
            inflight_requests: limits.peer_inflight_requests,
            request_timeout: config.request_timeout,
            max_frame_bytes: limits.max_frame_bytes,
        };
        let tasks = vec![
            tokio::spawn(accept_loop(listener, core_tx.clone(), limits)),
            tokio::spawn(peers::run(peers_rx, core_tx.clone(), peer_limits)),
            tokio::spawn(ticker(core_tx.clone())),
            tokio::spawn(session::run(
                config.clone(),
                advertise,
                core_tx,
                peers_tx,
                alter_rx,
            )),
        ];
        tracing::info!(id = config.id, %addr, fsync = config.fsync.as_str(), "broker serving");
        Ok(BrokerServer {
            addr,
            core: Some(core),
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until a partition's log fails (the only way a broker stops on its own).
    pub async fn wait(&mut self) -> Result<(), String> {
        match self.core.take() {
            None => Ok(()),
            Some(core) => core
                .await
                .unwrap_or_else(|e| Err(format!("core task ended: {e}"))),
        }
    }

    /// Stops everything at once, as a crash would for the network side.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(core) = self.core.take() {
            core.abort();
            let _ = core.await;
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for BrokerServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(core) = &self.core {
            core.abort();
        }
    }
}

/// Opens (and checks) every partition log already on disk, before anything is served.
async fn open_logs(
    config: &Config,
) -> Result<BTreeMap<TopicPartition, (PartitionStore, Recovered)>, String> {
    let data = config.data_dir.clone();
    let fsync = config.fsync;
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&data).map_err(|e| format!("data directory: {e}"))?;
        let mut opened = BTreeMap::new();
        for tp in list_partitions(&data).map_err(|e| e.to_string())? {
            let dir = partition_dir(&data, &tp).map_err(|e| e.to_string())?;
            let store_config = StoreConfig {
                fsync,
                ..StoreConfig::default()
            };
            let (store, recovered) =
                PartitionStore::open(&dir, &store_config).map_err(|e| format!("{tp}: {e}"))?;
            tracing::info!(%tp, log_end = recovered.log_end, "partition log opened");
            opened.insert(tp, (store, recovered));
        }
        Ok(opened)
    })
    .await
    .map_err(|e| format!("opening the logs panicked: {e}"))?
}

async fn ticker(core: mpsc::Sender<core::CoreMsg>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        // A busy core skips ticks rather than queueing them.
        match core.try_send(core::CoreMsg::Tick) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Accepts connections until aborted (see [`framing::accept_loop`]).
async fn accept_loop(listener: TcpListener, core: mpsc::Sender<core::CoreMsg>, limits: Limits) {
    let mut next_id: core::ConnId = 0;
    framing::accept_loop(listener, limits.max_connections, |stream| {
        next_id += 1;
        conn::serve(stream, next_id, core.clone(), limits)
    })
    .await
}
