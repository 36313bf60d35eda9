//! `quorum bookie --id N --data DIR --listen ADDR --quorum HOSTS`: run one bookie (a storage
//! node of ledgers, docs/ledgers.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use bookie::server::{BookieServer, Config};

/// Arguments of `quorum bookie`.
#[derive(clap::Args)]
pub struct Args {
    /// The bookie's id; it registers as the ephemeral znode /ledgers/bookies/<id>.
    #[arg(long)]
    id: u32,
    /// Directory of the bookie's store (journal, entry log, checkpoint); created if missing.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on for ledger clients.
    #[arg(long, default_value = "127.0.0.1:3181")]
    listen: SocketAddr,
    /// Quorum servers (host:port,…) to register with. Without it the bookie serves but no
    /// client will find it through Quorum.
    #[arg(long)]
    quorum: Option<String>,
    /// The host:port written in the registration (default: the address listened on).
    #[arg(long)]
    advertise: Option<String>,
    /// fdatasync the journal before acknowledging (off: an acknowledged entry survives a killed
    /// bookie but not a power cut; for tests and benchmarks only).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    fsync: String,
    /// Largest request frame after the hello, in bytes (bounds the entry size).
    #[arg(long)]
    max_frame_bytes: Option<u32>,
    /// Most client connections open at once.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Requests one connection may have in flight.
    #[arg(long)]
    connection_inflight_requests: Option<usize>,
    /// Reply bytes queued for one connection before it is closed (reading pauses at half).
    #[arg(long)]
    connection_outbound_bytes: Option<usize>,
}

pub fn run(args: Args) -> Result<(), String> {
    let mut config = Config::new(args.id, args.data, args.listen);
    config.quorum = args.quorum;
    config.advertise = args.advertise;
    config.fsync = args.fsync == "on";
    let limits = &mut config.limits;
    if let Some(v) = args.max_frame_bytes {
        limits.max_frame_bytes = v;
    }
    if let Some(v) = args.max_connections {
        limits.max_connections = v;
    }
    if let Some(v) = args.connection_inflight_requests {
        limits.connection_inflight_requests = v;
    }
    if let Some(v) = args.connection_outbound_bytes {
        limits.connection_outbound_bytes = v;
    }
    if config.quorum.is_none() {
        tracing::warn!("no --quorum given: the bookie will not be registered");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let mut server = BookieServer::start(config).await?;
        println!("bookie {} listening on {}", args.id, server.local_addr());
        let result = tokio::select! {
            result = server.wait() => result.map_err(|e| format!("bookie stopped: {e}")),
            signal = stop_signal() => {
                tracing::info!(signal, "stopping the bookie");
                Ok(())
            }
        };
        server.shutdown().await;
        result
    })
}

/// SIGINT or SIGTERM.
pub async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
