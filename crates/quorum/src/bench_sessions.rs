//! `quorum bench sessions`: many sessions watching one znode — how fast they open, how long one
//! setData takes to reach every watcher, and (with `--hold-secs`) idle sessions held open for
//! an outside reading of the servers' memory. The figures come from `bench::sessions`.

use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `quorum bench sessions`.
#[derive(clap::Args)]
pub struct Args {
    /// Servers to connect to, host:port,…; sessions are spread over them round-robin.
    #[arg(long, default_value = "127.0.0.1:2181")]
    servers: String,
    /// Watcher sessions (one TCP connection each; raise `ulimit -n` and the servers'
    /// maxClientCnxns / maxCnxns to match).
    #[arg(long, default_value_t = 10_000)]
    sessions: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Session timeout to ask for, ms.
    #[arg(long, default_value_t = 30_000)]
    session_timeout_ms: i32,
    /// Keep the sessions open and idle this long after the notification, then close them.
    #[arg(long, default_value_t = 0.0)]
    hold_secs: f64,
    /// How long every watcher may take to be notified before the run fails, seconds.
    #[arg(long, default_value_t = 60.0)]
    notify_timeout_secs: f64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let secs = |s: f64, what: &str| {
        Duration::try_from_secs_f64(s).map_err(|_| format!("--{what}: not a duration: {s}"))
    };
    let config = bench::sessions::SessionsConfig {
        servers: crate::bench_cmd::server_list(&args.servers),
        sessions: args.sessions,
        connect_concurrency: args.connect_concurrency,
        session_timeout_ms: args.session_timeout_ms,
        hold: secs(args.hold_secs, "hold-secs")?,
        notify_timeout: secs(args.notify_timeout_secs, "notify-timeout-secs")?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = runtime.block_on(bench::sessions::run(config))?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        std::fs::write(path, report.json() + "\n")
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
