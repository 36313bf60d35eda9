//! `quorum bench run`: drive any ZooKeeper-protocol ensemble (Quorum or Apache ZooKeeper) with
//! one of the `bench` crate's workloads and report throughput and latency.

use std::time::Duration;

/// Arguments of `quorum bench run`.
#[derive(clap::Args)]
pub struct Args {
    /// Servers to connect to, host:port,…; sessions are spread over them round-robin.
    #[arg(long, default_value = "127.0.0.1:2181")]
    servers: String,
    /// create, set, get, mixed or watch.
    #[arg(long, default_value = "set")]
    workload: bench::Workload,
    /// Sessions (one TCP connection each).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Share of gets in the mixed workload.
    #[arg(long, default_value_t = 0.9)]
    read_ratio: f64,
    /// Unmeasured warm-up, seconds.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// Measured stretch, seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Session timeout to ask for, ms.
    #[arg(long, default_value_t = 10_000)]
    session_timeout_ms: i32,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let servers: Vec<String> = args
        .servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let secs = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).map_err(|_| format!("--{what}: not a duration: {s}"))
    };
    let config = bench::Config {
        servers,
        workload: args.workload,
        clients: args.clients,
        inflight: args.inflight,
        value_size: args.value_size,
        read_ratio: args.read_ratio,
        warmup: secs(args.warmup_secs, "warmup-secs")?,
        duration: secs(args.duration_secs, "duration-secs")?,
        session_timeout_ms: args.session_timeout_ms,
    };
    if config.duration.is_zero() {
        return Err("--duration-secs must be positive".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime.block_on(bench::run(config))?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, report.json() + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
