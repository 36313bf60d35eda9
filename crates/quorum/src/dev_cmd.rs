//! `quorum dev`: a local ensemble in one command.
//!
//! Launches the servers through the `launch` crate (one zoo.cfg and myid per server under a
//! folder it prints, each server a child process of this one with its log in `sN/server.log`),
//! prints the connect string, and stops them all on Ctrl-C or SIGTERM. `--simulate` instead runs
//! the same Zab core in the deterministic simulator and narrates what happens.
//!
//! Scripts use it too: `--free-ports` and `--describe FILE` (a JSON description written once
//! every server serves) let them run an ensemble without writing configs of their own, and
//! `--configure-only` only writes the folder, for a harness that controls each process itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use launch::{Ensemble, EnsembleSpec, Ports};

use crate::dev_nodes::Nodes;
use sim::trace::Tracer;
use sim::{Options, World};

/// Arguments of `quorum dev`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of servers (3 or 5 for a real ensemble; 1 runs a standalone server).
    #[arg(long, default_value_t = 3)]
    servers: usize,
    /// Also start this many observers (non-voting servers that serve reads and forward
    /// writes; docs/operations.md), after the servers.
    #[arg(long, default_value_t = 0)]
    observers: usize,
    /// Folder for the servers' data, configs and logs (default: a new folder in the system's
    /// temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Client port of the first server; the others follow.
    #[arg(long, default_value_t = 2181)]
    client_port: u16,
    /// Peer port of the first server; the others follow.
    #[arg(long, default_value_t = 12888)]
    peer_port: u16,
    /// Use free ports the system picks instead of --client-port and --peer-port (see
    /// --describe to learn them).
    #[arg(long)]
    free_ports: bool,
    /// Also start this many bookies (ledger storage nodes, docs/ledgers.md) registered with the
    /// ensemble.
    #[arg(long, default_value_t = 0)]
    bookies: usize,
    /// Port of the first bookie; the others follow (with --free-ports: free ports instead).
    #[arg(long, default_value_t = 3181)]
    bookie_port: u16,
    /// Also start this many brokers of the partition log (docs/log.md) registered with the
    /// ensemble.
    #[arg(long, default_value_t = 0)]
    brokers: usize,
    /// Port of the first broker; the others follow (with --free-ports: free ports instead).
    #[arg(long, default_value_t = 9092)]
    broker_port: u16,
    /// tickTime of every server, in ms.
    #[arg(long, default_value_t = 500)]
    tick_time: u64,
    /// An extra zoo.cfg setting for every server, KEY=VALUE (repeatable); it replaces a default.
    /// The AdminServer is off (`admin.enableServer=false`) so local servers never clash on
    /// port 8080; turning it on for more than one server needs a port per server.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Write a JSON description of the ensemble (folder, ports, files, process ids) to this
    /// file once every server serves under one leader.
    #[arg(long, value_name = "FILE")]
    describe: Option<PathBuf>,
    /// Only write the folder (and --describe's file), start nothing, and exit.
    #[arg(long)]
    configure_only: bool,
    /// With --configure-only: each server dials each other one through a free port of its own
    /// (listed under "links" in --describe's file), where the caller runs a proxy it can cut.
    #[arg(long, requires = "configure_only")]
    peers_via_proxies: bool,
    /// Run the simulated ensemble instead, narrating elections, epochs and faults.
    #[arg(long)]
    simulate: bool,
    /// Seed of the simulated run (with --simulate).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// With --simulate: also write the run as a trace (JSON lines) to this file, for
    /// `quorum trace view` (docs/trace-viewer.md).
    #[arg(long, value_name = "FILE", requires = "simulate")]
    trace: Option<PathBuf>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("{text:?}: expected KEY=VALUE")),
    }
}

/// How long `--describe` waits for the ensemble to serve.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(args: Args) -> Result<(), String> {
    if !(1..=9).contains(&args.servers) {
        return Err(format!("--servers {}: expected 1 to 9", args.servers));
    }
    if args.observers > 0 && (args.servers < 2 || args.simulate) {
        return Err("--observers needs a replicated ensemble (--servers 2 or more)".into());
    }
    if args.simulate {
        return simulate(&args);
    }
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            std::env::temp_dir().join(format!("quorum-dev-{stamp}-{}", std::process::id()))
        }
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the quorum binary: {e}"))?;
    let ports = if args.free_ports {
        Ports::Free
    } else {
        Ports::Fixed {
            client: args.client_port,
            peer: args.peer_port,
        }
    };
    let mut spec = EnsembleSpec::new(args.servers + args.observers, exe)
        .observers(args.observers)
        .ports(ports)
        .tick_ms(args.tick_time)
        .dir(&dir);
    for (key, value) in &args.settings {
        spec = spec.set(key, value);
    }
    let mut plan = spec.plan()?;
    if args.peers_via_proxies {
        plan.route_through_free_ports()?;
    }
    let mut ens = plan.write()?;
    if args.configure_only {
        if let Some(path) = &args.describe {
            write_description(path, &ens)?;
        }
        println!(
            "quorum dev: configured {} servers under {}",
            args.servers,
            dir.display()
        );
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot handle signals: {e}"))?;
    }
    ens.start_all()?;
    println!(
        "quorum dev: {} servers, data and logs under {}",
        args.servers,
        dir.display()
    );
    for id in ens.ids() {
        println!(
            "  server {id}: client port {}, log {}",
            ens.client_port(id),
            ens.log_path(id).display()
        );
    }
    let connect = ens.connect_string();
    println!("connect string: {connect}");
    println!("try: quorum shell --server {connect}");
    let mut nodes = vec![
        start_nodes(&args, &dir, &connect, "bookie")?,
        start_nodes(&args, &dir, &connect, "broker")?,
    ];
    println!("Ctrl-C stops the ensemble.");
    if let Some(path) = &args.describe {
        ens.wait_ready(READY_TIMEOUT)?;
        write_description(path, &ens)?;
    }
    watch(&mut ens, &mut nodes, &stop)?;
    println!("stopping");
    Ok(())
}

/// Reports each server that exits, until `stop` (or until none is left); dropping the ensemble
/// afterwards kills the rest.
fn watch(ens: &mut Ensemble, nodes: &mut [Nodes], stop: &AtomicBool) -> Result<(), String> {
    let mut exited = vec![false; ens.len()];
    while !stop.load(Ordering::SeqCst) {
        for group in nodes.iter_mut() {
            let kind = group.kind();
            for (id, status) in group.exited() {
                println!("{kind} {id} exited ({status}); see its log");
            }
        }
        for id in ens.ids() {
            if !exited[id - 1] {
                if let Some(status) = ens.exited(id) {
                    // The others keep serving (that is the point of an ensemble); say so.
                    println!("server {id} exited ({status}); see its log");
                    exited[id - 1] = true;
                }
            }
        }
        if exited.iter().all(|&e| e) {
            return Err("every server exited".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Starts `--bookies` bookies or `--brokers` brokers (`kind`) registered with the ensemble at
/// `connect`, and says where.
fn start_nodes(
    args: &Args,
    dir: &std::path::Path,
    connect: &str,
    kind: &'static str,
) -> Result<Nodes, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the quorum binary: {e}"))?;
    let (count, port) = match kind {
        "bookie" => (args.bookies, args.bookie_port),
        _ => (args.brokers, args.broker_port),
    };
    let first_port = (!args.free_ports).then_some(port);
    let nodes = Nodes::start(&exe, dir, kind, count, first_port, connect, &[])?;
    for (id, address, log) in nodes.describe() {
        println!("  {kind} {id}: {address}, log {}", log.display());
    }
    match kind {
        "bookie" if count > 0 => println!(
            "try: quorum ledger --quorum {connect} create --ensemble 3 --write-quorum 2 --ack-quorum 2"
        ),
        "broker" if count > 0 => println!(
            "try: quorum log --quorum {connect} create-topic orders --partitions 3 --replicas {}",
            count.min(3)
        ),
        _ => {}
    }
    Ok(nodes)
}

/// Writes the description whole under a temporary name, then renames it: a script polling for
/// the file never reads half of it.
fn write_description(path: &std::path::Path, ens: &Ensemble) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, ens.describe().json() + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Calls `f` on SIGINT or SIGTERM. The handlers are in place when this returns, so a script
/// that signals as soon as it sees the output never kills this process before its servers.
fn ctrlc_handler(f: impl Fn() + Send + 'static) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term) = {
        let _in_runtime = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        f();
    });
    Ok(())
}

fn simulate(args: &Args) -> Result<(), String> {
    println!(
        "quorum dev --simulate: a simulated {}-server ensemble (seed {}), the same Zab core the server runs.",
        args.servers, args.seed
    );
    println!("Time is [tick.tenth]; faults come and go, then everything heals.\n");
    let opts = Options::from_seed(args.servers, args.seed);
    let json = match &args.trace {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("--trace {}: {e}", path.display()))?;
            Some(Box::new(std::io::BufWriter::new(file)) as Box<dyn std::io::Write>)
        }
        None => None,
    };
    let tracer = Tracer::new(json, 0).with_story(Box::new(std::io::stdout()));
    let (report, tracer) = World::new(opts, Some(tracer)).run();
    if let Some(mut tracer) = tracer {
        tracer.flush();
    }
    println!(
        "\n{} ticks: {} transactions committed, {} elections, {} epochs established, {} crashes, {} partitions, {} messages ({} lost).",
        report.ticks,
        report.committed,
        report.elections,
        report.established,
        report.crashes,
        report.partitions,
        report.messages,
        report.dropped
    );
    match report.violation {
        Some(v) => Err(format!("VIOLATION of {}: {}", v.invariant, v.detail)),
        None => {
            println!("Every replica delivered the same transactions in the same order.");
            if let Some(path) = &args.trace {
                println!(
                    "Trace in {}; draw it with: quorum trace view {} --html run.html",
                    path.display(),
                    path.display()
                );
            }
            Ok(())
        }
    }
}
