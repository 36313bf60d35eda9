//! `quorum bench produce`: produce throughput and latency of the partition log (docs/log.md)
//! over real brokers, acks=1 and acks=all, next to the fdatasync floor of the same disk measured
//! in the same run, and the failover time when a partition leader is killed.
//!
//! It starts its own Quorum server and three brokers (child processes of this binary, fsync on
//! every batch) in a fresh folder that is removed at the end, and drives them with the
//! `log-client` library, as any application would.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::baseline::{fdatasync, Timings};
use log_client::cluster::{Cluster, QuorumMeta};
use log_client::conn::ConnConfig;
use log_client::producer::{Producer, ProducerConfig};
use partition::{Acks, TopicPartition};

use crate::dev_nodes::Nodes;

/// Arguments of `quorum bench produce`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the servers' and brokers' data (a temporary sub-folder is created and removed).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Seconds per case.
    #[arg(long, default_value_t = 5)]
    case_secs: u64,
    /// Producer counts (each its own `Producer`), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    producers: Vec<usize>,
    /// Records each producer keeps in flight.
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    /// Record size in bytes.
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Partitions of the benchmark topic (replication 3, min.insync 2).
    #[arg(long, default_value_t = 3)]
    partitions: u32,
    /// Failover trials (0: skip).
    #[arg(long, default_value_t = 3)]
    failovers: usize,
    /// The brokers' Quorum session timeout, in ms: the controller learns that a killed broker
    /// is gone when its session expires, so this bounds the failover time from below.
    #[arg(long, default_value_t = 6_000)]
    session_timeout_ms: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    let root = tempfile::Builder::new()
        .prefix("quorum-bench-produce-")
        .tempdir_in(&args.dir)
        .map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the quorum binary: {e}"))?;
    let mut ens = launch::EnsembleSpec::new(1, &exe)
        .ports(launch::Ports::Free)
        .dir(root.path().join("quorum"))
        .plan()?
        .write()?;
    ens.launch(Duration::from_secs(30))?;
    let connect = ens.connect_string();
    let extra = [
        "--session-timeout-ms".to_string(),
        args.session_timeout_ms.to_string(),
    ];
    let mut brokers = Nodes::start(&exe, root.path(), "broker", 3, None, &connect, &extra)?;
    let floor =
        fdatasync(root.path(), args.record_bytes, 500).map_err(|e| format!("fdatasync: {e}"))?;
    let floor = Timings::of(floor);
    println!(
        "quorum bench produce: {} B records, {} s per case, 3 brokers (fsync every batch, session timeout {} ms), 1 Quorum server, topic of {} partitions, replication 3, min.insync 2",
        args.record_bytes, args.case_secs, args.session_timeout_ms, args.partitions
    );
    println!(
        "fdatasync floor ({} B write + fdatasync, same disk): p50 {:.0} µs, p99 {:.0} µs",
        args.record_bytes, floor.p50_us, floor.p99_us
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let zk = client::connect(&connect, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        create_topic(&zk, args.partitions).await?;
        let cluster = Arc::new(Cluster::new(QuorumMeta::new(zk.clone()), ConnConfig::default()));
        println!("{:<5} {:>9} {:>9} {:>10} {:>10} {:>10} {:>8}", "acks", "producers", "inflight", "records/s", "p50 µs", "p99 µs", "MB/s");
        for acks in [Acks::Leader, Acks::All] {
            let mut cases = vec![(1, 1)];
            cases.extend(args.producers.iter().map(|&n| (n, args.inflight)));
            for (producers, inflight) in cases {
                let (acked, secs, latency) = case(&cluster, acks, producers, inflight, &args).await?;
                let rate = acked as f64 / secs;
                let name = if acks == Acks::All { "all" } else { "1" };
                println!(
                    "{name:<5} {producers:>9} {inflight:>9} {rate:>10.0} {:>10.0} {:>10.0} {:>8.1}",
                    latency.p50_us,
                    latency.p99_us,
                    rate * args.record_bytes as f64 / 1e6
                );
            }
        }
        for trial in 1..=args.failovers {
            let gap = failover(&zk, &cluster, &mut brokers, &exe, root.path(), &connect).await?;
            println!("failover {trial}: partition leader killed (SIGKILL); longest gap without an acknowledged record: {:.0} ms", gap.as_secs_f64() * 1e3);
        }
        Ok::<(), String>(())
    })
}

/// Creates the benchmark topic once three brokers are registered.
async fn create_topic(zk: &client::zk::Client, partitions: u32) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match log_client::admin::create_topic(zk, "bench", partitions, 3, Some(2)).await {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(format!("create topic: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    // Wait until every partition has a leader.
    for p in 0..partitions {
        let tp = TopicPartition::new("bench", p);
        while broker::meta::read_state(zk, &tp)
            .await
            .ok()
            .flatten()
            .and_then(|(s, _)| s.leader)
            .is_none()
        {
            if Instant::now() > deadline {
                return Err(format!("{tp} got no leader"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// `producers` producers, each keeping `inflight` records in flight, for the case's duration;
/// each record's latency is from `send` to its acknowledgement.
async fn case(
    cluster: &Arc<Cluster<QuorumMeta>>,
    acks: Acks,
    producers: usize,
    inflight: usize,
    args: &Args,
) -> Result<(u64, f64, Timings), String> {
    let duration = Duration::from_secs(args.case_secs);
    let mut tasks = Vec::new();
    for _ in 0..producers {
        let config = ProducerConfig {
            acks,
            ..ProducerConfig::default()
        };
        let producer = Producer::new(cluster.clone(), "bench", config)
            .await
            .map_err(|e| e.to_string())?;
        let record = vec![0x42u8; args.record_bytes];
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let mut latencies = Vec::new();
            let mut queue = VecDeque::new();
            while start.elapsed() < duration {
                while queue.len() < inflight {
                    let delivery = producer
                        .send(None, record.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                    queue.push_back((Instant::now(), delivery));
                }
                let (sent, delivery) = queue.pop_front().expect("non-empty");
                delivery
                    .wait()
                    .await
                    .map_err(|e| format!("produce failed: {e}"))?;
                latencies.push(sent.elapsed().as_secs_f64() * 1e6);
            }
            for (sent, delivery) in queue {
                if delivery.wait().await.is_ok() {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                }
            }
            let secs = start.elapsed().as_secs_f64();
            producer.close().await;
            Ok::<_, String>((latencies, secs))
        }));
    }
    let mut all = Vec::new();
    let mut secs: f64 = 0.0;
    for task in tasks {
        let (latencies, took) = task.await.map_err(|e| e.to_string())??;
        all.extend(latencies);
        secs = secs.max(took);
    }
    Ok((all.len() as u64, secs, Timings::of(all)))
}

/// Produces to partition 0 with acks=all (one record in flight), kills its leader, and returns
/// the longest time between two acknowledgements around the kill; then restarts the broker and
/// waits until every replica has caught up again.
async fn failover(
    zk: &client::zk::Client,
    cluster: &Arc<Cluster<QuorumMeta>>,
    brokers: &mut Nodes,
    exe: &std::path::Path,
    dir: &std::path::Path,
    connect: &str,
) -> Result<Duration, String> {
    let tp = TopicPartition::new("bench", 0);
    let producer = Producer::new(cluster.clone(), "bench", ProducerConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let record = vec![0x17u8; 1024];
    let mut last = Instant::now();
    let mut longest = Duration::ZERO;
    let mut killed_at = None;
    let start = Instant::now();
    while killed_at.is_none_or(|k: Instant| k.elapsed() < Duration::from_secs(3)) {
        if killed_at.is_none() && start.elapsed() > Duration::from_secs(1) {
            let (state, _) = broker::meta::read_state(zk, &tp)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no state")?;
            let leader = state.leader.ok_or("partition 0 has no leader")?;
            brokers.kill(leader)?;
            killed_at = Some(Instant::now());
            last = Instant::now();
        }
        let delivery = producer
            .send(Some(0), record.clone())
            .await
            .map_err(|e| e.to_string())?;
        delivery
            .wait()
            .await
            .map_err(|e| format!("produce failed: {e}"))?;
        if killed_at.is_some() {
            longest = longest.max(last.elapsed());
        }
        last = Instant::now();
    }
    producer.close().await;
    brokers.restart(exe, dir, connect)?;
    wait_caught_up(zk).await?;
    Ok(longest)
}

/// Waits until every partition of the topic has all three replicas in its ISR.
async fn wait_caught_up(zk: &client::zk::Client) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut done = true;
        for p in 0.. {
            let tp = TopicPartition::new("bench", p);
            match broker::meta::read_state(zk, &tp)
                .await
                .map_err(|e| e.to_string())?
            {
                Some((state, _)) => done &= state.isr.len() == 3 && state.leader.is_some(),
                None => break,
            }
        }
        if done {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the restarted broker did not rejoin every ISR within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
