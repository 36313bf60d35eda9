//! `quorum chaos`: a real ensemble of this binary's servers under faults, a concurrent
//! workload recording a history, and the checkers of `crates/chaos` (issue 6, docs/chaos.md).
//!
//! The servers are OS processes in a temporary directory, on loopback ports. Every peer link
//! (server i dialling server j) goes through an in-process TCP proxy that can blackhole it, so the
//! nemesis can partition the ensemble; it can also SIGKILL (and restart) a server or the leader,
//! and SIGSTOP/SIGCONT one for shorter or longer than the session timeout. Faults are healed
//! between each other, and everything is healed before the final reads and the check.

mod chart;
mod ensemble;
mod fleet;
mod ledgers;
mod links;
mod log;
mod nemesis;
mod reconfig;
mod recorder;
mod rejoin;
mod workload;

use chaos::history::{write_jsonl, Event, OpKind};
use clap::builder::TypedValueParser;
use client::zk;
use ensemble::Ensemble;
use nemesis::{inject, Fault, Window};
use recorder::{read_result, Recorder};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workload::{connect, worker, Rng, Shared};

/// Arguments of `quorum chaos`.
#[derive(clap::Args)]
pub struct Args {
    /// What to run under faults: the Zab ensemble's ZooKeeper workload (zab), ledgers on
    /// bookies with Quorum as their metadata store (ledgers; 3 servers, 5 bookies), or the
    /// partition log on brokers with Quorum as configuration master (log; 3 servers, 3 or 4
    /// brokers).
    #[arg(long, value_enum, default_value = "zab")]
    target: Target,
    /// With --target ledgers: writer tasks, each writing ledger after ledger.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// With --target ledgers: tasks recovering ledgers while they are written.
    #[arg(long, default_value_t = 2)]
    recoveries: usize,
    /// With --target log: brokers (3 or 4).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=4).map(usize::from))]
    brokers: usize,
    /// With --target log: producers (acks=all, idempotent), each writing to every partition.
    #[arg(long, default_value_t = 3)]
    producers: usize,
    /// How long to run the workload under faults, in seconds (at least long enough for each
    /// fault of the nemesis once).
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Ensemble size.
    #[arg(long, default_value_t = 3, value_parser = clap::builder::PossibleValuesParser::new(["3", "5"]).map(|s| s.parse::<usize>().unwrap()))]
    servers: usize,
    /// Faults to inject: kill, kill-leader, pause, partition, reconfig, all, or none. With
    /// reconfig the ensemble has one more server, an observer, that the nemesis makes a voter
    /// and back.
    #[arg(long, default_value = "all")]
    nemesis: Nemesis,
    /// Concurrent client sessions.
    #[arg(long, default_value_t = 12)]
    sessions: usize,
    /// Register znodes the workload reads and writes.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Keep the history (JSON lines) in this file.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Test only: every server runs this deliberately broken Zab core (a simulator `--bug` name,
    /// e.g. commit-on-minority), to show that the checkers catch an unsafe server. Only in
    /// builds with the `bugs` feature.
    #[cfg(feature = "bugs")]
    #[arg(long, value_parser = crate::server_cmd::parse_bug)]
    unsafe_bug: Option<zab::Bug>,
    /// Test only, with --target ledgers: the workload's recoveries run this deliberately broken
    /// variant (recovery-without-fence, fence-too-few, recovery-trusts-one-lac), to show that
    /// the checker catches a broken recovery on real processes. Only in builds with the `bugs`
    /// feature.
    #[cfg(feature = "bugs")]
    #[arg(long, value_parser = ledgers::parse_bug)]
    unsafe_ledger_bug: Option<ledger::bug::Bug>,
    /// Test only, with --target log: the brokers run with unclean leader election enabled and
    /// the nemesis only runs the fault that makes it lose acknowledged records (a lagging
    /// replica left alone), to show that the checker catches lost records on real processes.
    /// Only in builds with the `bugs` feature.
    #[cfg(feature = "bugs")]
    #[arg(long)]
    unsafe_log_unclean: bool,
    /// Draw latency over time, with the fault windows shaded, into this SVG file.
    #[arg(long)]
    chart: Option<PathBuf>,
    /// Random seed (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Instead of a workload: silently partition one follower for each of these times
    /// (seconds, comma-separated), heal, and print how long it took to follow again.
    #[arg(long, value_delimiter = ',')]
    silent_rejoin: Vec<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    Zab,
    Ledgers,
    Log,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Nemesis {
    Kill,
    KillLeader,
    Pause,
    Partition,
    /// Membership changes (reconfig) with kills and partitions between and during them.
    Reconfig,
    All,
    None,
}

const TICK_MS: u64 = 200;
/// What the clients ask for; the server's maximum (20 ticks) is the same.
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
const OP_TIMEOUT: Duration = Duration::from_secs(5);
const HOST: &str = "127.0.0.1";

impl Args {
    /// The broken recovery the ledger workload runs (none without the `bugs` feature).
    fn ledger_bug(&self) -> Option<ledger::bug::Bug> {
        #[cfg(feature = "bugs")]
        return self.unsafe_ledger_bug;
        #[cfg(not(feature = "bugs"))]
        None
    }

    /// Whether the log target runs its unsafe unclean-election variant (never without the
    /// `bugs` feature).
    fn log_unclean(&self) -> bool {
        #[cfg(feature = "bugs")]
        return self.unsafe_log_unclean;
        #[cfg(not(feature = "bugs"))]
        false
    }

    /// The broken core every server runs (none without the `bugs` feature).
    fn unsafe_bug(&self) -> Option<zab::Bug> {
        #[cfg(feature = "bugs")]
        return self.unsafe_bug;
        #[cfg(not(feature = "bugs"))]
        None
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<(), String> {
    if !args.silent_rejoin.is_empty() {
        return rejoin::run(args.servers, &args.silent_rejoin).await;
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    }) | 1;
    if args.nemesis == Nemesis::Reconfig && args.target != Target::Zab {
        return Err("--nemesis reconfig changes the Zab ensemble: use it with --target zab".into());
    }
    if args.target == Target::Ledgers {
        return ledgers::run(&args, seed).await;
    }
    if args.target == Target::Log {
        return log::run(&args, seed).await;
    }
    let mut rng = Rng(seed);
    println!(
        "chaos: {} servers, {} sessions, nemesis {:?}, {} s, seed {seed}",
        args.servers,
        args.sessions,
        nemesis_name(args.nemesis),
        args.time
    );
    if let Some(bug) = args.unsafe_bug() {
        println!(
            "  every server runs the DELIBERATELY BROKEN core {:?}",
            bug.name()
        );
    }
    let started = Instant::now();
    let reconfig = args.nemesis == Nemesis::Reconfig;
    let mut ens = Ensemble::create(args.servers, args.unsafe_bug(), reconfig).await?;
    for id in 1..=ens.len() {
        ens.start(id)?;
    }
    ens.wait_for_leader(Duration::from_secs(30)).await?;
    let connect_string = ens.connect_string();
    let setup = connect(&connect_string)
        .await
        .ok_or("cannot connect to the new ensemble")?;
    let keys: Vec<String> = (0..args.keys).map(|k| format!("/chaos/r{k}")).collect();
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for path in ["/chaos", "/chaos/seq", "/chaos/eph"]
        .into_iter()
        .chain(keys.iter().map(String::as_str))
    {
        setup
            .create(path, b"", &opts)
            .await
            .map_err(|e| format!("create {path}: {e}"))?;
    }
    drop(setup);

    let shared = Arc::new(Shared {
        rec: Recorder {
            start: Instant::now(),
            next_id: AtomicU64::new(1),
            events: Mutex::new(Vec::new()),
        },
        stop: AtomicBool::new(false),
        next_session: AtomicU32::new(1),
        connect: connect_string.clone(),
        keys: keys.clone(),
    });
    let workers: Vec<_> = (0..args.sessions)
        .map(|i| {
            let seed = rng.next() ^ (i as u64) << 32 | 1;
            tokio::spawn(worker(shared.clone(), Rng(seed)))
        })
        .collect();

    // Faults, with quiet spells between them.
    let faults: Vec<Fault> = match args.nemesis {
        Nemesis::Kill => vec![Fault::Kill],
        Nemesis::KillLeader => vec![Fault::KillLeader],
        Nemesis::Pause => vec![Fault::PauseShort, Fault::PauseLong],
        Nemesis::Partition => vec![
            Fault::PartitionHalves,
            Fault::LeaderIsolated,
            Fault::Bridge,
            Fault::SilentIsolated,
        ],
        Nemesis::Reconfig => vec![
            Fault::Reconfig,
            Fault::Kill,
            Fault::Reconfig,
            Fault::PartitionHalves,
            Fault::Reconfig,
            Fault::LeaderIsolated,
        ],
        Nemesis::All => vec![
            Fault::KillLeader,
            Fault::LeaderIsolated,
            Fault::PauseShort,
            Fault::Bridge,
            Fault::Kill,
            Fault::PauseLong,
            Fault::PartitionHalves,
            Fault::SilentIsolated,
        ],
        Nemesis::None => vec![],
    };
    let t0 = shared.rec.start;
    let deadline = t0 + Duration::from_secs(args.time);
    let mut windows = Vec::new();
    let mut next = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Each fault lasts at most ~6 s; leave time to heal before the deadline.
        // Every fault of the nemesis runs at least once, however short `--time` is.
        let cycled = next >= faults.len();
        if faults.is_empty() || (cycled && Instant::now() + Duration::from_secs(7) > deadline) {
            break;
        }
        let w = inject(&mut ens, faults[next % faults.len()], &mut rng, t0).await?;
        println!(
            "  {:>6.1}s..{:>6.1}s  {}",
            w.start.as_secs_f64(),
            w.end.as_secs_f64(),
            w.what
        );
        windows.push(w);
        next += 1;
    }
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;

    // Heal, let the workload run a little on the healed ensemble, then stop it.
    ens.heal_all()?;
    ens.wait_for_leader(Duration::from_secs(30))
        .await
        .map_err(|e| format!("after healing: {e}"))?;
    let led = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut live = Vec::new();
    for w in workers {
        if let Ok(Some(session)) = w.await {
            live.push(session);
        }
    }
    // A client gives its session up on its own when it cannot reconnect in time, while the
    // servers keep it: a new leader restarts every session's clock (as ZooKeeper's does), so
    // an abandoned session is expired only a session timeout after the last election. The
    // final listing, which must not show its ephemerals, waits for that (twice over, in case
    // the healed ensemble elected once more after it was first seen led).
    tokio::time::sleep_until((led + 2 * SESSION_TIMEOUT).into()).await;

    // Final reads (session 0), then one read per live session to show it outlived the listing.
    let rec = &shared.rec;
    let fin = connect(&connect_string)
        .await
        .ok_or("cannot connect for the final reads")?;
    for key in &keys {
        let inv = rec.invoke(0, OpKind::SyncRead, key, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            fin.sync(key).await?;
            fin.get_data(key).await
        })
        .await;
        rec.finish(&inv, r, read_result);
    }
    for parent in ["/chaos/seq", "/chaos/eph"] {
        let inv = rec.invoke(0, OpKind::List, parent, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            fin.sync(parent).await?;
            fin.list_children(parent).await
        })
        .await;
        rec.finish(&inv, r, |e, children| e.children = Some(children));
    }
    for (s, client) in &live {
        let key = keys[0].as_str();
        let inv = rec.invoke(*s, OpKind::Read, key, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, client.get_data(key)).await;
        rec.finish(&inv, r, read_result);
    }
    drop(live);
    drop(fin);
    drop(ens);

    let events = std::mem::take(&mut *shared.rec.events.lock().unwrap());
    if let Some(path) = &args.history {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        write_jsonl(std::io::BufWriter::new(file), &events)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let checking = Instant::now();
    let report = chaos::check(&events);
    print_summary(
        &args,
        &events,
        &report,
        &windows,
        checking.elapsed(),
        started.elapsed(),
    );
    if let Some(path) = &args.history {
        println!("history: {} ({} events)", path.display(), events.len());
    }
    if let Some(path) = &args.chart {
        let title = format!(
            "quorum chaos: {} servers, nemesis {}, {} s",
            args.servers,
            nemesis_name(args.nemesis),
            args.time
        );
        let ops = chaos::history::pair(&events);
        chart::write(path, &ops, &windows, &title)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("chart: {}", path.display());
    }
    if report.anomalies.is_empty() {
        Ok(())
    } else {
        Err(format!("{} anomalies found", report.anomalies.len()))
    }
}

fn nemesis_name(n: Nemesis) -> &'static str {
    match n {
        Nemesis::Kill => "kill",
        Nemesis::KillLeader => "kill-leader",
        Nemesis::Pause => "pause",
        Nemesis::Partition => "partition",
        Nemesis::Reconfig => "reconfig",
        Nemesis::All => "all",
        Nemesis::None => "none",
    }
}

fn print_summary(
    args: &Args,
    events: &[Event],
    report: &chaos::Report,
    windows: &[Window],
    check_time: Duration,
    total: Duration,
) {
    let ops = chaos::history::pair(events);
    let mut by_op: std::collections::BTreeMap<String, [usize; 3]> = Default::default();
    for op in &ops {
        let c = by_op.entry(format!("{:?}", op.op)).or_default();
        c[match op.outcome {
            chaos::Outcome::Ok => 0,
            chaos::Outcome::Fail => 1,
            chaos::Outcome::Info => 2,
        }] += 1;
    }
    let sessions = ops.iter().map(|o| o.session).max().unwrap_or(0);
    println!(
        "summary ({} servers, nemesis {}):",
        args.servers,
        nemesis_name(args.nemesis)
    );
    println!(
        "  operations {}: ok {}, failed {}, indeterminate {}; {} sessions over {} workers",
        report.ops, report.ok, report.failed, report.indeterminate, sessions, args.sessions
    );
    for (op, [ok, fail, info]) in &by_op {
        println!("    {op:<16} ok {ok:>6}  failed {fail:>5}  indeterminate {info:>4}");
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for w in windows {
        *kinds.entry(format!("{:?}", w.fault)).or_default() += 1;
    }
    println!("  faults injected {}: {kinds:?}", windows.len());
    println!(
        "  checked in {:.2} s; whole run {:.1} s",
        check_time.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "  anomalies: {}{}",
        report.anomalies.len(),
        anomalies_by_checker(&report.anomalies)
    );
    for a in report.anomalies.iter().take(10) {
        print!("{a}");
    }
}

/// " (checker count, ...)" for a non-empty list: only the first ten anomalies are printed in
/// full, so the counts are what says which checkers fired.
fn anomalies_by_checker(anomalies: &[chaos::Anomaly]) -> String {
    if anomalies.is_empty() {
        return String::new();
    }
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in anomalies {
        *counts.entry(a.checker).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
    format!(" ({})", parts.join(", "))
}
