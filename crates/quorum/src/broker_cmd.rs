//! `quorum broker --id N --data DIR --listen ADDR --quorum HOSTS`: run one broker of the
//! partition log (docs/log.md).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use broker::server::{BrokerServer, Config};
use broker::store::FsyncPolicy;

/// Arguments of `quorum broker`.
#[derive(clap::Args)]
pub struct Args {
    /// The broker's id; it registers as the ephemeral znode /brokers/ids/<id>.
    #[arg(long)]
    id: u32,
    /// Directory of the broker's partition logs; created if missing.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on for clients and other brokers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    listen: SocketAddr,
    /// Quorum servers (host:port,…): the configuration master.
    #[arg(long)]
    quorum: String,
    /// The host:port written in the registration (default: the address listened on).
    #[arg(long)]
    advertise: Option<String>,
    /// When appended batches are made durable: `every-batch` (fdatasync before a batch counts,
    /// the default) or `never` (the file system decides; a power cut can lose what a quorum of
    /// replicas did not also hold).
    #[arg(long, default_value = "every-batch")]
    fsync: String,
    /// `min.insync.replicas` for topics that do not set their own.
    #[arg(long, default_value_t = 1)]
    min_insync: usize,
    /// `unclean.leader.election.enable`: elect a replica outside the ISR rather than stay
    /// offline (committed records may be lost; each such election is logged as an error).
    #[arg(long)]
    unclean_leader_election: bool,
    /// `replica.lag.time.max.ms`.
    #[arg(long, default_value_t = 10_000)]
    replica_lag_time_max_ms: u64,
    /// How long a fetch with nothing to return waits at the leader, in ms.
    #[arg(long, default_value_t = 200)]
    fetch_max_wait_ms: u64,
    /// Quorum session timeout, in ms.
    #[arg(long, default_value_t = 6_000)]
    session_timeout_ms: u64,
    /// Largest request frame after the hello, in bytes (bounds a batch).
    #[arg(long)]
    max_frame_bytes: Option<u32>,
    /// Most connections open at once.
    #[arg(long)]
    max_connections: Option<usize>,
}

pub fn run(args: Args) -> Result<(), String> {
    let mut config = Config::new(args.id, args.data, args.listen, args.quorum);
    config.advertise = args.advertise;
    config.fsync = FsyncPolicy::parse(&args.fsync)?;
    config.min_insync = args.min_insync;
    config.unclean_election = args.unclean_leader_election;
    config.lag_max = Duration::from_millis(args.replica_lag_time_max_ms);
    config.fetch_max_wait = Duration::from_millis(args.fetch_max_wait_ms);
    config.session_timeout = Duration::from_millis(args.session_timeout_ms);
    if let Some(v) = args.max_frame_bytes {
        config.limits.max_frame_bytes = v;
    }
    if let Some(v) = args.max_connections {
        config.limits.max_connections = v;
    }
    if config.unclean_election {
        tracing::warn!(
            "unclean leader election is enabled: a partition may lose committed records"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let mut server = BrokerServer::start(config).await?;
        println!("broker {} listening on {}", args.id, server.local_addr());
        let result = tokio::select! {
            result = server.wait() => result.map_err(|e| format!("broker stopped: {e}")),
            signal = crate::bookie_cmd::stop_signal() => {
                tracing::info!(signal, "stopping the broker");
                Ok(())
            }
        };
        server.shutdown().await;
        result
    })
}
