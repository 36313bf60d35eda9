//! `quorum server --config zoo.cfg`: run one server.

use std::path::PathBuf;

/// Arguments of `quorum server`.
#[derive(clap::Args)]
pub struct Args {
    /// A zoo.cfg-style configuration file.
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: Args) -> Result<(), String> {
    let config = server::config::Config::load(&args.config)
        .map_err(|e| format!("{}: {e}", args.config.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime
        .block_on(server::run(config))
        .map_err(|e| format!("server stopped: {e}"))
}
