//! `quorum chaos --target log`: the Kafka-style partition log (docs/log.md) on real processes
//! under faults. A 3-server Quorum ensemble (the same helpers as the Zab chaos, peer links
//! through cuttable proxies) and 3 or 4 `quorum broker` processes, each advertising an
//! in-process proxy (so clients and the other brokers reach it through the proxy) and reaching
//! Quorum through proxies of its own, so that the nemesis can cut it off. One topic of 3
//! partitions, replication 3, min.insync 2. In this process, using `log-client` as any
//! application would: idempotent acks=all producers and a following consumer per partition.
//! After healing, the replicas must catch up; every partition is read from its leader and from
//! each ISR member's disk, and the history is checked ([`check`]).

mod check;
mod finale;
mod history;
mod nemesis;
mod workload;

use super::ensemble::Ensemble;
use super::fleet::{Fleet, Spec};
use super::workload::Rng;
use super::{nemesis_name, Args};
use check::{FinalPartition, Violation};
use history::{History, Outcome};
use log_client::{Cluster, QuorumMeta};
use nemesis::{faults, inject, Injected, Target};
use partition::LeaderEpoch;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use workload::Shared;

const SERVERS: usize = 3;
const TOPIC: &str = "chaos";
const PARTITIONS: u32 = 3;
const REPLICATION: usize = 3;
const MIN_INSYNC: usize = 2;
/// The brokers' Quorum session timeout: short, so that failovers happen within a fault.
const SESSION_TIMEOUT_MS: u64 = 4000;
/// The brokers' `replica.lag.time.max.ms`: short, so that a lagging replica leaves the ISR
/// within a fault.
const LAG_MAX_MS: u64 = 2000;
/// Every partition at the end, by number.
type Finals = BTreeMap<u32, FinalPartition>;
/// How long tasks get to finish once told to stop, before they are aborted.
const WIND_DOWN: Duration = Duration::from_secs(30);

/// Runs the log chaos as `args` say; `Err` on any violation.
pub(super) async fn run(args: &Args, seed: u64) -> Result<(), String> {
    println!(
        "chaos --target log: {SERVERS} servers, {} brokers, topic of {PARTITIONS} partitions \
         (replication {REPLICATION}, min.insync {MIN_INSYNC}), {} producers, nemesis {}, {} s, \
         seed {seed}",
        args.brokers,
        args.producers,
        nemesis_name(args.nemesis),
        args.time
    );
    if args.log_unclean() {
        println!("  the brokers run with UNCLEAN LEADER ELECTION and the nemesis forces one");
    }
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut ens = Ensemble::create(SERVERS, None, false).await?;
    for id in 1..=SERVERS {
        ens.start(id)?;
    }
    ens.wait_for_leader(Duration::from_secs(30)).await?;
    let connect_string = ens.connect_string();
    let mut fleet = Fleet::start(
        args.brokers,
        &connect_string,
        broker_spec(args.log_unclean()),
    )
    .await?;
    let admin = setup(&connect_string, args.brokers).await?;
    let shared = Arc::new(Shared {
        rec: Default::default(),
        stop: AtomicBool::new(false),
        connect: connect_string,
    });
    let (producers, consumers) = spawn_workload(&shared, args);
    let t0 = Instant::now();
    let zk = admin.meta().zk().clone();
    let mut target = Target {
        ens: &mut ens,
        fleet: &mut fleet,
        zk: &zk,
    };
    let (windows, crashed) = run_nemesis(&mut target, args, &mut rng, t0).await?;
    ens.heal_all()?;
    fleet.heal_all()?;
    ens.wait_for_leader(Duration::from_secs(30))
        .await
        .map_err(|e| format!("after healing: {e}"))?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.stop.store(true, Ordering::Relaxed);
    wind_down(producers).await;
    // The consumers follow forever: a moment to read the last records, then they stop.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for task in consumers {
        task.abort();
    }
    let (fin, epochs, mut violations) = finale(&admin, &mut fleet).await;
    let history = shared.rec.history();
    let checking = Instant::now();
    violations.extend(check::check(&history, &fin));
    for id in crashed {
        violations.push(Violation {
            kind: "broker-crashed",
            detail: format!(
                "broker {id} exited by itself (log in {})",
                fleet.dir().display()
            ),
        });
    }
    if let Some(path) = &args.history {
        write_history(path, &history)?;
    }
    print_summary(&history, &fin, &epochs, &windows, &violations);
    println!(
        "  checked in {:.2} s; whole run {:.1} s",
        checking.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if violations.is_empty() {
        Ok(())
    } else {
        Err(format!("{} violations found", violations.len()))
    }
}

/// Once the producers are done: the final logs of every partition and the final leader
/// epochs, or a liveness violation if the replicas do not catch up.
async fn finale(
    admin: &Arc<Cluster<QuorumMeta>>,
    fleet: &mut Fleet,
) -> (Finals, Vec<LeaderEpoch>, Vec<Violation>) {
    match finale::wait_settled(admin).await {
        Ok(views) => {
            let epochs = views
                .iter()
                .map(|v| v.state.as_ref().map_or(0, |s| s.leader_epoch))
                .collect();
            let leaders = finale::read_leaders(admin).await;
            let fin = finale::read_replicas(fleet, &views, leaders);
            (fin, epochs, Vec::new())
        }
        Err(detail) => {
            let liveness = Violation {
                kind: "liveness",
                detail,
            };
            (BTreeMap::new(), Vec::new(), vec![liveness])
        }
    }
}

/// `quorum broker` with short timeouts, so that failovers happen within a fault.
fn broker_spec(unclean: bool) -> Spec {
    let mut args = vec![
        ("--replica-lag-time-max-ms", LAG_MAX_MS.to_string()),
        ("--session-timeout-ms", SESSION_TIMEOUT_MS.to_string()),
        ("--min-insync", MIN_INSYNC.to_string()),
    ];
    if unclean {
        args.push(("--unclean-leader-election", String::new()));
    }
    Spec {
        kind: "broker",
        args: args
            .into_iter()
            .flat_map(|(k, v)| [k.to_string(), v])
            .filter(|a| !a.is_empty())
            .collect(),
        own_quorum_links: true,
    }
}

/// Waits for `brokers` registrations, creates the topic, waits for every partition's first
/// leader; returns the admin's cluster.
async fn setup(connect_string: &str, brokers: usize) -> Result<Arc<Cluster<QuorumMeta>>, String> {
    let stop = AtomicBool::new(false);
    let cluster = workload::cluster(connect_string, &stop)
        .await
        .ok_or("cannot connect to Quorum")?;
    let zk = cluster.meta().zk();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = broker::meta::live_brokers(zk).await.map_or(0, |b| b.len());
        if live >= brokers {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{live} of {brokers} brokers registered within 30 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log_client::admin::create_topic(zk, TOPIC, PARTITIONS, REPLICATION, Some(MIN_INSYNC))
        .await
        .map_err(|e| format!("create topic: {e}"))?;
    finale::wait_settled(&cluster)
        .await
        .map_err(|e| format!("the new topic: {e}"))?;
    Ok(cluster)
}

type Tasks = Vec<tokio::task::JoinHandle<()>>;

/// The producers and the consumers, apart: the consumers never finish by themselves.
fn spawn_workload(shared: &Arc<Shared>, args: &Args) -> (Tasks, Tasks) {
    let producers = (0..args.producers)
        .map(|me| tokio::spawn(workload::producer(shared.clone(), me)))
        .collect();
    let consumers = (0..PARTITIONS)
        .map(|p| tokio::spawn(workload::consumer(shared.clone(), p)))
        .collect();
    (producers, consumers)
}

/// Faults with quiet spells between them until `--time` is up (each fault at least once);
/// returns the faults and the brokers seen to exit by themselves.
async fn run_nemesis(
    target: &mut Target<'_>,
    args: &Args,
    rng: &mut Rng,
    t0: Instant,
) -> Result<(Vec<Injected>, Vec<u32>), String> {
    let faults = if args.log_unclean() {
        vec![nemesis::Fault::UncleanFailover]
    } else {
        faults(args.nemesis)
    };
    let deadline = t0 + Duration::from_secs(args.time);
    let (mut windows, mut crashed) = (Vec::new(), Vec::new());
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        crashed.extend(target.fleet.crashed());
        let cycled = windows.len() >= faults.len();
        if faults.is_empty() || (cycled && Instant::now() + Duration::from_secs(8) > deadline) {
            break;
        }
        let fault = faults[windows.len() % faults.len()];
        let t = Target {
            ens: &mut *target.ens,
            fleet: &mut *target.fleet,
            zk: target.zk,
        };
        let w = inject(t, fault, rng, t0).await?;
        println!(
            "  {:>6.1}s..{:>6.1}s  {}",
            w.start.as_secs_f64(),
            w.end.as_secs_f64(),
            w.what
        );
        windows.push(w);
    }
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    crashed.extend(target.fleet.crashed());
    crashed.sort_unstable();
    crashed.dedup();
    Ok((windows, crashed))
}

/// Waits for the producers to settle every record, aborting those still busy after
/// [`WIND_DOWN`] (their unsettled records stay unknown).
async fn wind_down(tasks: Tasks) {
    let deadline = tokio::time::Instant::now() + WIND_DOWN;
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
        }
    }
}

/// Prints the summary: what the producers and consumers did, the failovers, the faults and
/// every violation.
fn print_summary(
    h: &History,
    fin: &Finals,
    epochs: &[LeaderEpoch],
    windows: &[Injected],
    violations: &[Violation],
) {
    let acked = h
        .sent
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Acked(_)))
        .count();
    let failed = h
        .sent
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Failed(_)))
        .count();
    let unknown = h.sent.len() - acked - failed;
    let in_log: std::collections::HashSet<&str> = fin
        .values()
        .filter_map(|f| f.leader_log.as_ref().ok())
        .flatten()
        .map(String::as_str)
        .collect();
    let unacked_in_log = h
        .sent
        .iter()
        .filter(|s| !matches!(s.outcome, Outcome::Acked(_)) && in_log.contains(s.record.as_str()))
        .count();
    let read: usize = h.reads.iter().map(|r| r.records.len()).sum();
    let ended = h.reads.iter().filter(|r| r.error.is_some()).count();
    println!("summary (log):");
    println!(
        "  records sent {}: acknowledged {acked}, failed {failed}, unknown {unknown}; \
         of the failed and unknown, {unacked_in_log} are in the final log",
        h.sent.len()
    );
    println!(
        "  consumer sessions {} (ended by an error {ended}), records read {read}",
        h.reads.len()
    );
    let failovers: u64 = epochs.iter().map(|&e| u64::from(e.saturating_sub(1))).sum();
    println!("  failovers (leader epoch changes) {failovers}; final leader epochs {epochs:?}");
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for w in windows {
        *kinds.entry(format!("{:?}", w.fault)).or_default() += 1;
    }
    println!("  faults injected {}: {kinds:?}", windows.len());
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for v in violations {
        *by_kind.entry(v.kind).or_default() += 1;
    }
    println!("  violations: {} {by_kind:?}", violations.len());
    for v in violations.iter().take(20) {
        println!("    {v}");
    }
}

/// The history, one line per record sent and per consumer session.
fn write_history(path: &std::path::Path, h: &History) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(fail)?);
    for s in &h.sent {
        writeln!(out, "sent {} {} {:?}", s.partition, s.record, s.outcome).map_err(fail)?;
    }
    for (i, r) in h.reads.iter().enumerate() {
        writeln!(
            out,
            "read {i} {} {:?} {:?}",
            r.partition, r.records, r.error
        )
        .map_err(fail)?;
    }
    out.flush().map_err(fail)
}
