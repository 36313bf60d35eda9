//! `quorum dev`: a local ensemble in one command.
//!
//! Writes one zoo.cfg and myid per server under a folder it prints, starts each server as a
//! child process of this one (logs in `sN/server.log`), prints the connect string, and stops
//! them all on Ctrl-C. `--simulate` instead runs the same Zab core in the deterministic
//! simulator and narrates what happens.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sim::trace::Tracer;
use sim::{Options, World};

/// Arguments of `quorum dev`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of servers (3 or 5 for a real ensemble; 1 runs a standalone server).
    #[arg(long, default_value_t = 3)]
    servers: usize,
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
    /// Run the simulated ensemble instead, narrating elections, epochs and faults.
    #[arg(long)]
    simulate: bool,
    /// Seed of the simulated run (with --simulate).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    if !(1..=9).contains(&args.servers) {
        return Err(format!("--servers {}: expected 1 to 9", args.servers));
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
    let configs = write_configs(&dir, &args).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the quorum binary: {e}"))?;
    let mut children = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let log_path = config.with_file_name("server.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&exe)
            .arg("server")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start server {}: {e}", i + 1))?;
        children.push(Guard(child));
    }
    let connect: Vec<String> = (0..args.servers)
        .map(|i| format!("127.0.0.1:{}", args.client_port + i as u16))
        .collect();
    println!(
        "quorum dev: {} servers, data and logs under {}",
        args.servers,
        dir.display()
    );
    for i in 0..args.servers {
        println!(
            "  server {}: client port {}, log {}",
            i + 1,
            args.client_port + i as u16,
            dir.join(format!("s{}/server.log", i + 1)).display()
        );
    }
    println!("connect string: {}", connect.join(","));
    println!("try: quorum shell --server {}", connect.join(","));
    println!("Ctrl-C stops the ensemble.");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc_handler(move || stop.store(true, std::sync::atomic::Ordering::SeqCst));
    }
    let mut exited = vec![false; children.len()];
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        for (i, child) in children.iter_mut().enumerate() {
            if !exited[i] {
                if let Ok(Some(status)) = child.0.try_wait() {
                    // The others keep serving (that is the point of an ensemble); say so.
                    println!("server {} exited ({status}); see its log", i + 1);
                    exited[i] = true;
                }
            }
        }
        if exited.iter().all(|&e| e) {
            return Err("every server exited".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("stopping");
    Ok(())
}

/// Kills the child when dropped, so no server outlives `quorum dev`.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Calls `f` on SIGINT or SIGTERM.
fn ctrlc_handler(f: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
        });
        f();
    });
    Ok(())
}

fn write_configs(dir: &Path, args: &Args) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    let secret_file = dir.join("peer.secret");
    if args.servers > 1 {
        write_peer_secret(&secret_file)?;
    }
    for i in 1..=args.servers {
        let server_dir = dir.join(format!("s{i}"));
        let data = server_dir.join("data");
        std::fs::create_dir_all(&data)?;
        let mut cfg = String::new();
        let _ = writeln!(cfg, "tickTime=500");
        let _ = writeln!(cfg, "initLimit=10");
        let _ = writeln!(cfg, "syncLimit=5");
        let _ = writeln!(cfg, "dataDir={}", data.display());
        let _ = writeln!(cfg, "clientPort={}", args.client_port + i as u16 - 1);
        let _ = writeln!(cfg, "clientPortAddress=127.0.0.1");
        let _ = writeln!(cfg, "4lw.commands.whitelist=*");
        if args.servers > 1 {
            let _ = writeln!(cfg, "quorum.peerSecretFile={}", secret_file.display());
            for j in 1..=args.servers {
                let peer = args.peer_port + 2 * (j as u16 - 1);
                let _ = writeln!(cfg, "server.{j}=127.0.0.1:{peer}:{}", peer + 1);
            }
            std::fs::write(data.join("myid"), format!("{i}\n"))?;
        }
        let path = server_dir.join("zoo.cfg");
        std::fs::write(&path, cfg)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Writes a fresh random peer secret (64 hex digits), readable by its owner only: every
/// ensemble `quorum dev` starts authenticates its peer links.
pub(crate) fn write_peer_secret(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let hex = server::peers::PeerSecret::generate_text()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{hex}")
}

fn simulate(args: &Args) -> Result<(), String> {
    println!(
        "quorum dev --simulate: a simulated {}-server ensemble (seed {}), the same Zab core the server runs.",
        args.servers, args.seed
    );
    println!("Time is [tick.tenth]; faults come and go, then everything heals.\n");
    let opts = Options::from_seed(args.servers, args.seed);
    let tracer = Tracer::new(None, 0).with_story(Box::new(std::io::stdout()));
    let (report, _) = World::new(opts, Some(tracer)).run();
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
            Ok(())
        }
    }
}
