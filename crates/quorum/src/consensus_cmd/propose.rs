//! `quorum consensus propose`: create-or-read the decision znode; see consensus::propose.

use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The ensemble, host:port[,host:port…].
    #[arg(long)]
    servers: String,
    /// The value to propose.
    #[arg(long)]
    value: String,
    /// The decision znode.
    #[arg(long, default_value = "/consensus/default")]
    path: String,
    /// Give up after this many seconds without a decision.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Testing: wait this many ms after connecting before the first create.
    #[arg(long, default_value_t = 0, hide = true)]
    hold_ms: u64,
}

pub fn run(args: Args) -> Result<(), String> {
    if !args.path.starts_with('/') || args.path.ends_with('/') || args.path.contains("//") {
        return Err(format!("--path {}: not a znode path", args.path));
    }
    let options = consensus::ProposeOptions {
        servers: args.servers,
        path: args.path,
        deadline: Duration::from_secs(args.timeout),
        connect_timeout: Duration::from_secs(4),
        hold: Duration::from_millis(args.hold_ms),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let decision = runtime.block_on(consensus::propose(
        &options,
        args.value.as_bytes(),
        &mut |line| eprintln!("propose: {line}"),
    ))?;
    println!(
        "proposed {:?}; {} ({} retries)",
        args.value,
        if decision.read_back {
            "our value was decided (read back after NodeExists)"
        } else if decision.ours {
            "our value was decided"
        } else {
            "another value was decided"
        },
        decision.retries
    );
    // The last line of stdout is the decided value, alone.
    println!("{}", String::from_utf8_lossy(&decision.value));
    Ok(())
}
