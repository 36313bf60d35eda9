//! `quorum bench ledger`: add-entry throughput and latency of ledgers over real bookies, next to
//! the fdatasync floor of the same disk measured in the same run, and the recovery time of a
//! ledger left open by a writer that vanished.
//!
//! It starts its own Quorum server and bookies (child processes of this binary, fsync on) in a
//! fresh folder that is removed at the end, and drives them with the ledger client library, as
//! any application would.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::baseline::{fdatasync, Timings};
use ledger_client::{LedgerWriter, MetaStore, WriteOptions};

use crate::dev_nodes::Nodes;

/// Arguments of `quorum bench ledger`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the servers' and bookies' data (a temporary sub-folder is created and removed).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Seconds per case.
    #[arg(long, default_value_t = 5)]
    case_secs: u64,
    /// Writer counts (each writes its own ledger), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    writers: Vec<usize>,
    /// Entries each writer keeps in flight.
    #[arg(long, default_value_t = 32)]
    inflight: usize,
    /// Entry size in bytes.
    #[arg(long, default_value_t = 1024)]
    entry_bytes: usize,
    /// Ledger shapes E/Qw/Qa, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3/3/2,3/2/2")]
    shapes: Vec<String>,
    /// Entries in the ledger whose recovery is timed (0: skip).
    #[arg(long, default_value_t = 100_000)]
    recovery_entries: u64,
}

/// One case's figures.
struct Figures {
    acked: u64,
    secs: f64,
    latency: Timings,
}

pub fn run(args: Args) -> Result<(), String> {
    let shapes = args
        .shapes
        .iter()
        .map(|s| parse_shape(s))
        .collect::<Result<Vec<_>, _>>()?;
    let root = tempfile::Builder::new()
        .prefix("quorum-bench-ledger-")
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
    let bookies = shapes.iter().map(|s| s.0).max().unwrap_or(3);
    let _bookies = Nodes::start(&exe, root.path(), "bookie", bookies, None, &connect, &[])?;
    let floor =
        fdatasync(root.path(), args.entry_bytes, 500).map_err(|e| format!("fdatasync: {e}"))?;
    let floor = Timings::of(floor);
    println!(
        "quorum bench ledger: {} B entries, {} s per case, {bookies} bookies (fsync on), 1 Quorum server",
        args.entry_bytes, args.case_secs
    );
    println!(
        "fdatasync floor ({} B write + fdatasync, same disk): p50 {:.0} µs, p99 {:.0} µs",
        args.entry_bytes, floor.p50_us, floor.p99_us
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let meta = Arc::new(connect_meta(&connect, bookies).await?);
        println!("{:<8} {:>7} {:>9} {:>10} {:>10} {:>10} {:>10}", "E/Qw/Qa", "writers", "inflight", "entries/s", "p50 µs", "p99 µs", "MB/s");
        for &(e, w, a) in &shapes {
            let shape = format!("{e}/{w}/{a}");
            let mut cases = vec![(1, 1)];
            cases.extend(args.writers.iter().map(|&n| (n, args.inflight)));
            for (writers, inflight) in cases {
                let f = case(&meta, (e, w, a), writers, inflight, &args).await?;
                let rate = f.acked as f64 / f.secs;
                println!(
                    "{shape:<8} {writers:>7} {inflight:>9} {rate:>10.0} {:>10.0} {:>10.0} {:>10.1}",
                    f.latency.p50_us,
                    f.latency.p99_us,
                    rate * args.entry_bytes as f64 / 1e6
                );
            }
        }
        if args.recovery_entries > 0 {
            let (e, w, a) = shapes[0];
            let (written, took, last) = recovery(&meta, (e, w, a), args.recovery_entries, args.entry_bytes).await?;
            println!(
                "recovery of an open {e}/{w}/{a} ledger of {written} entries whose writer vanished: {:.0} ms (closed at entry {last})",
                took.as_secs_f64() * 1e3
            );
        }
        Ok::<(), String>(())
    })
}

fn parse_shape(text: &str) -> Result<(usize, usize, usize), String> {
    let parts: Vec<usize> = text
        .split('/')
        .map(|p| {
            p.trim()
                .parse()
                .map_err(|_| format!("bad shape {text:?}: expected E/Qw/Qa"))
        })
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [e, w, a] if e >= w && w >= a && a >= 1 => Ok((e, w, a)),
        _ => Err(format!(
            "bad shape {text:?}: expected E/Qw/Qa with E >= Qw >= Qa >= 1"
        )),
    }
}

/// Connects and waits until `bookies` bookies are registered.
async fn connect_meta(connect: &str, bookies: usize) -> Result<MetaStore, String> {
    let zk = client::connect(connect, Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let meta = MetaStore::new(zk).await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while meta.bookies().await.map_err(|e| e.to_string())?.len() < bookies {
        if Instant::now() > deadline {
            return Err("bookies did not register within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(meta)
}

async fn new_writer(
    meta: &Arc<MetaStore>,
    (e, w, a): (usize, usize, usize),
    inflight: usize,
) -> Result<LedgerWriter, String> {
    let token = ledger_client::open::new_writer_token();
    let (id, versioned) = ledger_client::open::create(meta, e, w, a, Some(token))
        .await
        .map_err(|e| e.to_string())?;
    let bookies = meta.bookies().await.map_err(|e| e.to_string())?;
    let options = WriteOptions {
        max_pending_entries: inflight.max(1),
        ..WriteOptions::default()
    };
    LedgerWriter::spawn(id, versioned, meta.clone(), bookies, options).map_err(|e| e.to_string())
}

/// `writers` writers, each on its own ledger with `inflight` entries in flight, for the case's
/// duration; every entry's latency is from append to acknowledgement.
async fn case(
    meta: &Arc<MetaStore>,
    shape: (usize, usize, usize),
    writers: usize,
    inflight: usize,
    args: &Args,
) -> Result<Figures, String> {
    let duration = Duration::from_secs(args.case_secs);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let writer = new_writer(meta, shape, inflight).await?;
        let payload = vec![0x42u8; args.entry_bytes];
        tasks.push(tokio::spawn(async move {
            let start = Instant::now();
            let mut latencies = Vec::new();
            let mut queue = VecDeque::new();
            while start.elapsed() < duration {
                while queue.len() < inflight {
                    queue.push_back((Instant::now(), writer.append(payload.clone()).await));
                }
                let (sent, ack) = queue.pop_front().expect("non-empty");
                match ack.await {
                    Ok(Ok(_)) => latencies.push(sent.elapsed().as_secs_f64() * 1e6),
                    other => return Err(format!("append failed: {other:?}")),
                }
            }
            for (sent, ack) in queue {
                if let Ok(Ok(_)) = ack.await {
                    latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                }
            }
            let secs = start.elapsed().as_secs_f64();
            writer.close().await.map_err(|e| e.to_string())?;
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
    Ok(Figures {
        acked: all.len() as u64,
        secs,
        latency: Timings::of(all),
    })
}

/// Writes `entries` entries and abandons the ledger open (the writer vanishes), then times a
/// recovery of it from another client.
async fn recovery(
    meta: &Arc<MetaStore>,
    shape: (usize, usize, usize),
    entries: u64,
    entry_bytes: usize,
) -> Result<(u64, Duration, String), String> {
    let writer = new_writer(meta, shape, 1000).await?;
    let id = writer.ledger();
    let payload = vec![0x17u8; entry_bytes];
    let mut queue = VecDeque::new();
    for _ in 0..entries {
        queue.push_back(writer.append(payload.clone()).await);
        while queue.len() > 1000 {
            let ack = queue.pop_front().expect("non-empty");
            ack.await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
    }
    for ack in queue {
        ack.await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
    drop(writer);
    let start = Instant::now();
    let last = ledger_client::recovery::recover(
        meta.clone(),
        id,
        Duration::from_secs(3),
        Duration::from_secs(300),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok((
        entries,
        start.elapsed(),
        last.map_or("none".into(), |e| e.to_string()),
    ))
}
