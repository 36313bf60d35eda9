//! `quorum sim --level server`: the real server core under the deterministic simulator, one
//! seed (replayed, optionally traced) or a sweep.

use std::fs::File;
use std::io::BufWriter;

use server_core::bugs::ServerBug;
use sim::server::sweep::sweep;
use sim::server::{Report, ServerOptions, Trace, World};

fn describe(r: &Report) -> String {
    format!(
        "seed {} ({} servers): {} events, {} simulated ms, {} requests, {} register ops, {} crashes, \
         {} partitions, {} session moves, {} expired, {} read-only sessions, {} stopped reading, \
         settled {} ms after healing",
        r.seed,
        r.servers,
        r.events,
        r.simulated_ms,
        r.requests,
        r.register_ops,
        r.crashes,
        r.partitions,
        r.moves,
        r.sessions_expired,
        r.read_only_sessions,
        r.stopped_reading,
        r.settle_ms
    )
}

/// Replays `seed` with the last `context` trace lines kept, and prints them.
fn print_context(servers: usize, seed: u64, bug: Option<ServerBug>, context: usize) {
    let mut opts = ServerOptions::from_seed(servers, seed);
    opts.bug = bug;
    let trace = Trace::new(None, context);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        World::new(opts, trace).run().1
    }));
    if let Ok(trace) = run {
        eprintln!("--- the last {context} events before the violation ---");
        for line in trace.recent() {
            eprintln!("{line}");
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    servers: usize,
    seed: Option<u64>,
    seeds: Option<&str>,
    trace: Option<&str>,
    bug: Option<ServerBug>,
    context: usize,
    threads: usize,
) -> Result<(), String> {
    if let Some(seed) = seed {
        let mut opts = ServerOptions::from_seed(servers, seed);
        opts.bug = bug;
        let out = match trace {
            Some(path) => {
                let file = File::create(path).map_err(|e| format!("--trace {path}: {e}"))?;
                Some(Box::new(BufWriter::new(file)) as Box<dyn std::io::Write>)
            }
            None => None,
        };
        let report = match out {
            Some(out) => {
                let (report, mut trace) = World::new(opts, Trace::new(Some(out), 0)).run();
                trace.flush();
                report
            }
            None => sim::server::run(opts),
        };
        println!("{}", describe(&report));
        if let Some(v) = &report.violation {
            print_context(servers, seed, bug, context);
            return Err(format!(
                "seed {seed}: VIOLATION of {}: {}",
                v.check, v.detail
            ));
        }
        println!("all checks held");
        return Ok(());
    }
    let (from, to) = crate::sim_cmd::parse_range(seeds.unwrap_or("0..100"))?;
    let summary = sweep(servers, from, to, bug, threads);
    println!(
        "{} seeds on {} servers: {} events, {} requests, {} register ops, {} crashes, {} partitions, \
         {} session moves, {} sessions expired, {} read-only sessions, {} clients stopped reading; \
         longest settle {} ms",
        summary.seeds,
        servers,
        summary.events,
        summary.requests,
        summary.register_ops,
        summary.crashes,
        summary.partitions,
        summary.moves,
        summary.sessions_expired,
        summary.read_only_sessions,
        summary.stopped_reading,
        summary.settle_ms_max
    );
    println!("{:.1} seeds/s", summary.seeds_per_second());
    if let Some(failed) = summary.failures.first() {
        let v = failed
            .violation
            .as_ref()
            .expect("a failure has a violation");
        println!("{}", describe(failed));
        print_context(servers, failed.seed, bug, context);
        return Err(format!(
            "seed {}: VIOLATION of {}: {} (replay: quorum sim --level server --servers {} --seed {}{})",
            failed.seed,
            v.check,
            v.detail,
            servers,
            failed.seed,
            bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
        ));
    }
    println!("all checks held");
    Ok(())
}
