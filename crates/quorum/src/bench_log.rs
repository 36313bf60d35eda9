//! `quorum bench log`: owned by the storage work; placeholder until it lands.

/// Arguments of `quorum bench log`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the log benchmark.
pub fn run(_args: Args) -> Result<(), String> {
    Err("not built yet".into())
}
