//! `quorum dev`: a local 3-server ensemble in one command.
//!
//! The networked server is not built yet, so for now this runs the real Zab core of three
//! servers inside the deterministic simulator and tells what happened: elections, epochs,
//! synchronization, crashes and partitions, and what was committed.

use sim::trace::Tracer;
use sim::{Options, World};

/// Arguments of `quorum dev`.
#[derive(clap::Args)]
pub struct Args {
    /// The seed of the simulated run (the same seed tells the same story).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of servers.
    #[arg(long, default_value_t = 3)]
    servers: usize,
}

pub fn run(args: Args) -> Result<(), String> {
    if !(1..=15).contains(&args.servers) {
        return Err(format!("--servers {}: expected 1 to 15", args.servers));
    }
    println!(
        "quorum dev: a simulated {}-server ensemble (seed {}), the same Zab core the server runs.",
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
