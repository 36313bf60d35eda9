//! The measuring steps of a side-by-side comparison, one subcommand each, for Quorum and Apache
//! ZooKeeper ensembles alike (the driver that starts both is scripts/bench-compare):
//!
//! * `quorum bench ready`: wait until the servers form an ensemble and each opens a session;
//! * `quorum bench failover`: run a set load, SIGKILL the leader partway, time the first write
//!   sent after the kill;
//! * `quorum bench serving`: time a restarted server until it serves;
//! * `quorum bench disk-usage`: bytes per file, log and snapshots apart, and what was written
//!   since an earlier measurement;
//! * `quorum bench memory`: a process's resident memory, file-backed apart from anonymous.

use std::path::PathBuf;
use std::time::Duration;

use bench::disk_usage::DiskUsage;

use crate::bench_cmd::server_list;

/// Arguments of `quorum bench ready`.
#[derive(clap::Args)]
pub struct ReadyArgs {
    /// The servers, host:port,….
    #[arg(long)]
    servers: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout_secs: f64,
}

/// Arguments of `quorum bench failover`.
#[derive(clap::Args)]
pub struct FailoverArgs {
    /// The servers, host:port,….
    #[arg(long)]
    servers: String,
    /// The process id of each server, in the order of --servers: the leader's is killed.
    #[arg(long)]
    pids: String,
    /// Sessions of the set load.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests in flight per session.
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    /// Unmeasured warm-up of the load, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Measured stretch of the load, seconds.
    #[arg(long, default_value_t = 11.0)]
    load_secs: f64,
    /// Seconds from the start of the load until the leader is killed.
    #[arg(long, default_value_t = 4.0)]
    kill_after_secs: f64,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Arguments of `quorum bench serving`.
#[derive(clap::Args)]
pub struct ServingArgs {
    /// The servers, host:port,….
    #[arg(long)]
    servers: String,
    /// The restarted server, counted from 1 in --servers.
    #[arg(long)]
    restarted: usize,
    /// Its process id: the wait ends if the process does.
    #[arg(long)]
    pid: u32,
    /// A znode that was there before the restart.
    #[arg(long)]
    read_path: String,
    /// When the server was started, µs since the Unix epoch (default: now).
    #[arg(long)]
    started_unix_us: Option<u64>,
    /// Give up this many seconds after the start.
    #[arg(long, default_value_t = 120.0)]
    timeout_secs: f64,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Arguments of `quorum bench disk-usage`.
#[derive(clap::Args)]
pub struct DiskUsageArgs {
    /// A server's data folder (its log folder too, if apart); repeat for several.
    #[arg(long = "dir", required = true)]
    dirs: Vec<PathBuf>,
    /// An earlier measurement (this command's --json) to report the growth since.
    #[arg(long)]
    since: Option<PathBuf>,
    /// Also write the measurement as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Arguments of `quorum bench memory`.
#[derive(clap::Args)]
pub struct MemoryArgs {
    /// The process to read.
    #[arg(long)]
    pid: u32,
    /// Also write the reading as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn secs(s: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("--{what}: not a duration: {s}"))
}

fn write_json(path: &Option<PathBuf>, json: String) -> Result<(), String> {
    match path {
        Some(p) => std::fs::write(p, json + "\n").map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(()),
    }
}

pub fn ready(args: ReadyArgs) -> Result<(), String> {
    let servers = server_list(&args.servers);
    let timeout = secs(args.timeout_secs, "timeout-secs")?;
    let modes = runtime()?.block_on(bench::probe::wait_ready(&servers, timeout))?;
    let names: Vec<&str> = modes.iter().map(|m| m.mode.as_str()).collect();
    println!("ready: {}", names.join(", "));
    Ok(())
}

pub fn failover(args: FailoverArgs) -> Result<(), String> {
    let servers = server_list(&args.servers);
    let pids = parse_pids(&args.pids)?;
    if pids.len() != servers.len() {
        return Err(format!("{} pids for {} servers", pids.len(), servers.len()));
    }
    let mut load = bench::Config::new(servers, bench::Workload::Set);
    load.clients = args.clients;
    load.inflight = args.inflight;
    load.warmup = secs(args.warmup_secs, "warmup-secs")?;
    load.duration = secs(args.load_secs, "load-secs")?;
    let kill_after = secs(args.kill_after_secs, "kill-after-secs")?;
    let kill = |i: usize| sigkill(pids[i]);
    let report = runtime()?.block_on(bench::failover::measure(load, kill_after, kill))?;
    let recovery = report
        .recovery_ms
        .map_or("no write succeeded".to_string(), |ms| format!("{ms:.0} ms"));
    println!(
        "killed server {}: first write after the kill {recovery}, longest gap {:.0} ms, errors {}",
        report.killed, report.max_gap_ms, report.errors
    );
    write_json(&args.json, report.json())
}

pub fn serving(args: ServingArgs) -> Result<(), String> {
    let servers = server_list(&args.servers);
    if args.restarted == 0 || args.restarted > servers.len() {
        return Err(format!("--restarted {} is not a server", args.restarted));
    }
    let config = bench::serving::ServingConfig {
        servers,
        restarted: args.restarted - 1,
        read_path: args.read_path,
        started_us: args.started_unix_us.unwrap_or_else(bench::probe::unix_us),
        timeout: secs(args.timeout_secs, "timeout-secs")?,
    };
    let pid = args.pid;
    let report = runtime()?.block_on(bench::serving::watch(config, || alive(pid)))?;
    let shown = |s: Option<f64>| s.map_or("never".to_string(), |s| format!("{s:.2} s"));
    println!(
        "server {}: first session after {}, serving after {}{}",
        report.restarted,
        shown(report.first_session_s),
        shown(report.serving_s),
        if report.exited {
            " (the process exited)"
        } else {
            ""
        }
    );
    write_json(&args.json, report.json())
}

pub fn disk_usage(args: DiskUsageArgs) -> Result<(), String> {
    let usage = DiskUsage::measure(&args.dirs).map_err(|e| format!("measuring: {e}"))?;
    println!(
        "log {} bytes, snapshots {} bytes, other {} bytes, in {} files",
        usage.log_bytes,
        usage.snapshot_bytes,
        usage.other_bytes,
        usage.files.len()
    );
    if let Some(path) = &args.since {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let before: DiskUsage =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let g = usage.growth_since(&before);
        println!(
            "since {}: log +{} bytes, {} new snapshots of {} bytes",
            path.display(),
            g.log_bytes,
            g.snapshots_written,
            g.snapshot_bytes
        );
        let both = serde_json::json!({ "usage": usage, "growth": g });
        return write_json(&args.json, both.to_string());
    }
    write_json(&args.json, usage.json())
}

pub fn memory(args: MemoryArgs) -> Result<(), String> {
    let r =
        bench::memory::MemoryReport::of(args.pid).map_err(|e| format!("pid {}: {e}", args.pid))?;
    println!(
        "pid {}: VmRSS {} KiB ({} file-backed, {} anonymous), {} threads",
        r.pid, r.rss_kib, r.file_kib, r.anonymous_kib, r.threads
    );
    write_json(&args.json, r.json())
}

/// Process ids, each above 0: kill(2) reads 0 as this process group and -1 as every process.
fn parse_pids(text: &str) -> Result<Vec<i32>, String> {
    server_list(text)
        .iter()
        .map(|p| match p.parse::<i32>() {
            Ok(pid) if pid > 0 => Ok(pid),
            _ => Err(format!("--pids: not a process id: {p}")),
        })
        .collect()
}

fn sigkill(pid: i32) -> Result<(), String> {
    // SAFETY: kill(2) with a pid the caller named; no memory is shared.
    match unsafe { libc::kill(pid, libc::SIGKILL) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().to_string()),
    }
}

/// Whether process `pid` is running: there, and not a zombie waiting for its parent.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may hold anything.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}
