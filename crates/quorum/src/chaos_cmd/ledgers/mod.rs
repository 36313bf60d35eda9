//! `quorum chaos --target ledgers`: BookKeeper-style ledgers (issue 15, docs/ledgers.md) on real
//! processes under faults. A 3-server Quorum ensemble (the same helpers as the Zab chaos, peer
//! links through cuttable proxies) and five `quorum bookie` processes, each advertising an
//! in-process proxy so that the nemesis can cut it off from the clients. In this process, using
//! `ledger-client` as any application would: writers creating and appending to ledgers they
//! claim, recoveries fencing and closing ledgers still being written, and two writers taking a
//! log of ledgers from each other. After healing, every ledger still open is recovered, every
//! ledger and the log are read back, and the history is checked ([`check`]).

mod check;
mod finale;
mod history;
mod log_pair;
mod nemesis;
mod summary;
mod workload;

use super::ensemble::Ensemble;
use super::fleet::{Fleet, Spec};
use super::workload::{connect, Rng};
use super::{nemesis_name, Args};
use history::Recorder;
use ledger_client::MetaStore;
use nemesis::{faults, inject, Injected, Target};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workload::Shared;

/// Quorum servers and bookies under test.
const SERVERS: usize = 3;
const BOOKIES: usize = 5;
/// How long tasks get to finish once told to stop, before they are aborted.
const WIND_DOWN: Duration = Duration::from_secs(15);

/// `--unsafe-ledger-bug NAME`: a broken variant of the protocol by its name.
#[cfg(feature = "bugs")]
pub(super) fn parse_bug(name: &str) -> Result<ledger::bug::Bug, String> {
    ledger::bug::Bug::from_name(name).ok_or_else(|| {
        let names: Vec<_> = ledger::bug::Bug::ALL.iter().map(|b| b.name()).collect();
        format!("unknown bug {name:?}; one of {}", names.join(", "))
    })
}

/// The recovery variant the workload's recoveries run: the correct one unless a test build
/// asked for a broken one.
fn injected(args: &Args) -> ledger::bug::Injected {
    #[cfg(feature = "bugs")]
    return ledger::bug::Injected::bug(args.ledger_bug());
    #[cfg(not(feature = "bugs"))]
    {
        let _ = args.ledger_bug();
        ledger::bug::Injected::NONE
    }
}

/// Runs the ledger chaos as `args` say; `Err` on any violation.
pub(super) async fn run(args: &Args, seed: u64) -> Result<(), String> {
    println!(
        "chaos --target ledgers: {SERVERS} servers, {BOOKIES} bookies, {} writers, {} \
         recoveries, 2 log writers, nemesis {}, {} s, seed {seed}",
        args.writers,
        args.recoveries,
        nemesis_name(args.nemesis),
        args.time
    );
    if let Some(bug) = args.ledger_bug() {
        println!(
            "  the workload's recoveries run the DELIBERATELY BROKEN {:?}",
            bug.name()
        );
    }
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut ens = Ensemble::create(SERVERS, None, false).await?;
    for id in 1..=SERVERS {
        ens.start(id)?;
    }
    ens.wait_for_leader(Duration::from_secs(30)).await?;
    let connect_string = ens.connect_string();
    let spec = Spec {
        kind: "bookie",
        args: Vec::new(),
        own_quorum_links: false,
    };
    let mut fleet = Fleet::start(BOOKIES, &connect_string, spec).await?;
    wait_registered(&connect_string, BOOKIES).await?;
    let shared = Arc::new(Shared {
        rec: Recorder::new(),
        stop: AtomicBool::new(false),
        connect: connect_string,
        active: Mutex::new(Vec::new()),
        injected: injected(args),
    });
    let tasks = spawn_workload(&shared, args, &mut rng);
    let mut target = Target {
        ens: &mut ens,
        fleet: &mut fleet,
    };
    let (windows, crashed) = run_nemesis(&mut target, args, &shared, &mut rng).await?;
    heal(&mut target).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.stop.store(true, Ordering::Relaxed);
    wind_down(tasks).await;
    let (fin, final_recoveries) = finale::read_back(&shared).await?;
    let events = shared.rec.events();
    let checking = Instant::now();
    let report = check::check(&events, &fin);
    let mut violations = report.violations;
    for id in crashed {
        violations.push(check::Violation {
            kind: "bookie-crashed",
            detail: format!(
                "bookie {id} exited by itself (log in {})",
                fleet.dir().display()
            ),
        });
    }
    if let Some(path) = &args.history {
        write_history(path, &events)?;
    }
    let mut figures = summary::figures(&events);
    figures.late_acks_within = report.late_acks_within;
    summary::print(&figures, final_recoveries, &windows, &violations);
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

/// Until `count` bookies are registered in Quorum.
async fn wait_registered(connect_string: &str, count: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(zk) = connect(connect_string).await {
            if let Ok(meta) = MetaStore::new(zk).await {
                if meta.bookies().await.is_ok_and(|b| b.len() >= count) {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{count} bookies did not register within 30 s"))
}

fn spawn_workload(
    shared: &Arc<Shared>,
    args: &Args,
    rng: &mut Rng,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut seed = || Rng(rng.next() | 1);
    for me in 0..args.writers {
        tasks.push(tokio::spawn(workload::writer(shared.clone(), me, seed())));
    }
    for _ in 0..args.recoveries {
        tasks.push(tokio::spawn(workload::recoverer(shared.clone(), seed())));
    }
    for me in 0..2 {
        tasks.push(tokio::spawn(log_pair::log_writer(
            shared.clone(),
            me,
            seed(),
        )));
    }
    tasks
}

/// Faults with quiet spells between them until `--time` is up (each fault at least once);
/// returns the faults and the bookies seen to exit by themselves.
async fn run_nemesis(
    target: &mut Target<'_>,
    args: &Args,
    shared: &Shared,
    rng: &mut Rng,
) -> Result<(Vec<Injected>, Vec<u32>), String> {
    let faults = faults(args.nemesis);
    let t0 = shared.rec.start();
    let deadline = t0 + Duration::from_secs(args.time);
    let (mut windows, mut crashed) = (Vec::new(), Vec::new());
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        crashed.extend(target.fleet.crashed());
        let cycled = windows.len() >= faults.len();
        if faults.is_empty() || (cycled && Instant::now() + Duration::from_secs(7) > deadline) {
            break;
        }
        let fault = faults[windows.len() % faults.len()];
        let t = Target {
            ens: &mut *target.ens,
            fleet: &mut *target.fleet,
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
    crashed.sort_unstable();
    crashed.dedup();
    Ok((windows, crashed))
}

/// Resumes, restarts and reconnects everything, and waits for a leader.
async fn heal(target: &mut Target<'_>) -> Result<(), String> {
    target.ens.heal_all()?;
    target.fleet.heal_all()?;
    target
        .ens
        .wait_for_leader(Duration::from_secs(30))
        .await
        .map_err(|e| format!("after healing: {e}"))?;
    Ok(())
}

/// Waits for the workload's tasks, aborting those still busy after [`WIND_DOWN`].
async fn wind_down(tasks: Vec<tokio::task::JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + WIND_DOWN;
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
        }
    }
}

/// One line per event, in the order recorded.
fn write_history(path: &std::path::Path, events: &[history::Event]) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(fail)?);
    for e in events {
        writeln!(out, "{:.6} {:?}", e.time_ns as f64 / 1e9, e.what).map_err(fail)?;
    }
    out.flush().map_err(fail)
}
