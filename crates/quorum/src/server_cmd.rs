//! `quorum server --config zoo.cfg`: run one server.

use std::path::PathBuf;

/// Arguments of `quorum server`.
#[derive(clap::Args)]
pub struct Args {
    /// A zoo.cfg-style configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Test only: run a deliberately broken Zab core (one of the simulator's `--bug` names, e.g.
    /// commit-on-minority), so that a test can show its checker catches an unsafe server. Only
    /// in builds with the `bugs` feature: the shipped binary has no such flag.
    #[cfg(feature = "bugs")]
    #[arg(long, value_parser = parse_bug)]
    unsafe_bug: Option<zab::Bug>,
}

#[cfg(feature = "bugs")]
pub(crate) fn parse_bug(name: &str) -> Result<zab::Bug, String> {
    zab::Bug::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = zab::Bug::ALL.iter().map(|b| b.name()).collect();
        format!("unknown bug {name:?}; one of {}", names.join(", "))
    })
}

/// Threads for work moved off the runtime's threads (a snapshot installed from the leader,
/// recovery, counting descriptors and sizing folders for the AdminServer and metrics): any
/// more waits its turn, so strangers on the admin port cannot make the server spawn threads.
const MAX_BLOCKING_THREADS: usize = 16;

/// The runtime of a server's core and connections: one thread for both with
/// `quorum.ioThreads=0`, else that many threads for the connections (the core runs on the
/// thread that blocks on it).
fn runtime(io_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match io_threads {
        0 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    builder
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .enable_all()
        .build()
}

pub fn run(args: Args) -> Result<(), String> {
    #[cfg_attr(not(feature = "bugs"), allow(unused_mut))]
    let mut config = server::config::Config::load(&args.config)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    #[cfg(feature = "bugs")]
    {
        config.unsafe_bug = args.unsafe_bug;
    }
    let runtime =
        runtime(config.io_threads()).map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime
        .block_on(server::run(config))
        .map_err(|e| format!("server stopped: {e}"))
}
