//! `quorum bench run`: drive any ZooKeeper-protocol ensemble (Quorum or Apache ZooKeeper) with
//! one of the `bench` crate's workloads and report throughput and latency.
//! `quorum bench baseline`: one fdatasync plus two loopback round trips, what a 1 × 1 write is
//! compared with. `quorum bench chart`: SVG charts from a JSON description.

use std::path::PathBuf;
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
    /// Measured stretch, seconds (with --ops: the longest the run may take).
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Send exactly this many requests, without warm-up, and report how long they took
    /// (create, set, get, mixed): e.g. load a million znodes with the create workload.
    #[arg(long)]
    ops: Option<u64>,
    /// Session timeout to ask for, ms.
    #[arg(long, default_value_t = 10_000)]
    session_timeout_ms: i32,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write every measured request to this file, one a line: sent and done in µs since the
    /// Unix epoch, then `ok` or the error kind.
    #[arg(long)]
    timeline: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let servers = server_list(&args.servers);
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
        max_ops: args.ops,
        timeline: args.timeline.is_some(),
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
    if let Some(path) = &args.timeline {
        std::fs::write(path, bench::timeline_text(&report.timeline))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Arguments of `quorum bench baseline`.
#[derive(clap::Args)]
pub struct BaselineArgs {
    /// Folder for the fdatasync file (a temporary file is created and removed): the data
    /// folder of the servers it is compared with.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Bytes written before each fdatasync (a 100-byte setData is a log record of about 200).
    #[arg(long, default_value_t = 200)]
    record_bytes: usize,
    /// fdatasyncs to time.
    #[arg(long, default_value_t = 300)]
    syncs: usize,
    /// Loopback round trips to time.
    #[arg(long, default_value_t = 5000)]
    round_trips: usize,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The servers of a comma-separated `--servers` value, blanks dropped.
pub fn server_list(servers: &str) -> Vec<String> {
    servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub fn baseline(args: BaselineArgs) -> Result<(), String> {
    let b = bench::baseline::Baseline::measure(
        &args.dir,
        args.record_bytes,
        args.syncs,
        args.round_trips,
    )
    .map_err(|e| format!("{}: {e}", args.dir.display()))?;
    print!("{}", b.table());
    if let Some(path) = &args.json {
        std::fs::write(path, b.json() + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Arguments of `quorum bench chart`.
#[derive(clap::Args)]
pub struct ChartArgs {
    /// JSON description of the charts (see the bench crate's chart_spec module), each with
    /// the SVG file it is written to.
    #[arg(long)]
    spec: PathBuf,
}

pub fn chart(args: ChartArgs) -> Result<(), String> {
    for path in bench::chart_spec::render_file(&args.spec)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
