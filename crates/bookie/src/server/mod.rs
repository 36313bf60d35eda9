//! The bookie server: a tokio driver of `ledger::bookie::Bookie` over the [`crate::store`] and
//! the [`crate::wire`] protocol.
//!
//! Tasks: an accept loop (connections bounded by `max_connections`, accept errors backed off),
//! one task per connection ([`conn`]), one core task owning the protocol state and the store's
//! read side ([`core`]), the journal's group-commit thread, and, with a Quorum connect string,
//! the registration loop ([`crate::register`]).

pub mod config;
pub mod conn;
pub mod core;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger::bookie::Bookie;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::{Config, Limits};

use crate::store::journal::Journal;
use crate::store::{Opened, Store};

/// Counters a test or an operator can read while the server runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Open connections (after accept, before close).
    pub connections: AtomicUsize,
    /// Reply bytes queued on all connections and not yet written.
    pub out_bytes: AtomicUsize,
    /// The largest `out_bytes` seen.
    pub out_bytes_peak: AtomicUsize,
    /// Journal syncs and the records they covered (records / syncs = the group-commit factor).
    pub journal_syncs: AtomicU64,
    pub journal_records: AtomicU64,
    pub checkpoints: AtomicU64,
}

impl Stats {
    fn add_out_bytes(&self, n: usize) {
        let now = self.out_bytes.fetch_add(n, Ordering::AcqRel) + n;
        self.out_bytes_peak.fetch_max(now, Ordering::AcqRel);
    }

    fn sub_out_bytes(&self, n: usize) {
        let _ = self
            .out_bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

/// A running bookie.
pub struct BookieServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    /// `None` once awaited.
    core: Option<JoinHandle<Result<(), String>>>,
    accept: JoinHandle<()>,
    registration: Option<JoinHandle<()>>,
    stop_registration: watch::Sender<bool>,
}

impl BookieServer {
    /// Opens and recovers the store, binds the port, and starts serving (and registering, if
    /// `config.quorum` is set). Fails if the store is damaged or the port is taken.
    pub async fn start(config: Config) -> Result<BookieServer, String> {
        config.validate()?;
        let dir = config.data_dir.clone();
        let store_opts = config.store_options();
        let Opened { store, journal } =
            tokio::task::spawn_blocking(move || Store::open(&dir, store_opts))
                .await
                .map_err(|e| format!("store recovery panicked: {e}"))??;
        let last_seq = store.last_seq();
        let bookie = Bookie::restore(store.facts(), last_seq, config.limits.bookie);
        let journal = Journal::start(journal, last_seq, config.fsync)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", config.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        let stats = Arc::new(Stats::default());
        let (tx, rx) = mpsc::channel(config.limits.core_queue_requests);
        let core = core::Core::new(bookie, store, journal, config.limits, stats.clone());
        let core = tokio::spawn(core.run(rx));
        let accept = tokio::spawn(accept_loop(listener, tx, config.limits, stats.clone()));
        let (stop_registration, stop) = watch::channel(false);
        let registration = config.quorum.clone().map(|quorum| {
            let advertise = config.advertise.clone().unwrap_or_else(|| addr.to_string());
            tokio::spawn(crate::register::keep_registered(
                quorum, config.id, advertise, stop,
            ))
        });
        tracing::info!(id = config.id, %addr, fsync = config.fsync, "bookie serving");
        Ok(BookieServer {
            addr,
            stats,
            accept,
            core: Some(core),
            registration,
            stop_registration,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Runs until the store fails (the only way a bookie stops on its own). Call
    /// [`BookieServer::shutdown`] afterwards (or instead, to stop it).
    pub async fn wait(&mut self) -> Result<(), String> {
        match self.core.as_mut() {
            None => Ok(()),
            Some(core) => {
                let result = core
                    .await
                    .unwrap_or_else(|e| Err(format!("core task ended: {e}")));
                self.core = None;
                result
            }
        }
    }

    /// Stops everything at once, as a crash would for the network side: connections are cut,
    /// queued replies dropped. The journal thread finishes the records it was handed and
    /// exits; only what was acknowledged is promised durable either way. The Quorum session is
    /// closed so the registration goes at once.
    pub async fn shutdown(mut self) {
        self.accept.abort();
        if let Some(core) = self.core.take() {
            core.abort();
            let _ = core.await;
        }
        let _ = (&mut self.accept).await;
        let _ = self.stop_registration.send(true);
        if let Some(mut r) = self.registration.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut r)
                .await
                .is_err()
            {
                r.abort();
            }
        }
    }
}

impl Drop for BookieServer {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some(core) = &self.core {
            core.abort();
        }
        if let Some(r) = &self.registration {
            r.abort();
        }
    }
}

/// Accepts connections until aborted (see [`framing::accept_loop`]), counting them in
/// [`Stats::connections`].
async fn accept_loop(
    listener: TcpListener,
    core: mpsc::Sender<core::CoreMsg>,
    limits: Limits,
    stats: Arc<Stats>,
) {
    let mut next_id: core::ConnId = 0;
    framing::accept_loop(listener, limits.max_connections, |stream| {
        next_id += 1;
        let (id, core, stats) = (next_id, core.clone(), stats.clone());
        async move {
            stats.connections.fetch_add(1, Ordering::Relaxed);
            conn::serve(stream, id, core, limits, stats.clone()).await;
            stats.connections.fetch_sub(1, Ordering::Relaxed);
        }
    })
    .await
}
