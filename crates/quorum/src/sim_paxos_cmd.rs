//! `quorum sim --protocol paxos`: the deterministic Paxos simulator (sim::paxos) for one seed
//! (replay, optionally traced) or a sweep of seeds.

use std::fs::File;
use std::io::{BufWriter, Write};

use paxos::Bug;
use sim::paxos::{sweep, trace, PaxosOptions, PaxosReport, PaxosWorld};

use crate::sim_cmd::parse_range;

fn describe(r: &PaxosReport) -> String {
    format!(
        "seed {} ({} acceptors, {} proposers): {} events, {} messages ({} dropped, {} duplicated), {} crashes, {} partitions, highest round {}, {} decided {}",
        r.seed,
        r.acceptors,
        r.proposers,
        r.events,
        r.messages,
        r.dropped,
        r.duplicated,
        r.crashes,
        r.partitions,
        r.max_round,
        r.decided,
        r.value.as_deref().unwrap_or("nothing"),
    )
}

fn replay_command(acceptors: usize, seed: u64, bug: Option<Bug>) -> String {
    format!(
        "quorum sim --protocol paxos --acceptors {acceptors} --seed {seed}{}",
        bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
    )
}

/// Runs `quorum sim --protocol paxos`.
pub fn run(
    acceptors: usize,
    seed: Option<u64>,
    seeds: Option<&str>,
    trace_path: Option<&str>,
    bug: Option<Bug>,
    context: usize,
) -> Result<(), String> {
    if !(1..=15).contains(&acceptors) {
        return Err(format!("--acceptors {acceptors}: expected 1 to 15"));
    }
    if let Some(seed) = seed {
        let mut opts = PaxosOptions::from_seed(acceptors, seed);
        opts.bug = bug;
        println!("{opts:?}");
        let (report, events) = PaxosWorld::new(opts, true).run();
        if let Some(path) = trace_path {
            let file = File::create(path).map_err(|e| format!("--trace {path}: {e}"))?;
            let mut out = BufWriter::new(file);
            for (t, e) in &events {
                writeln!(out, "{}", trace::json(*t, e)).map_err(|e| format!("--trace: {e}"))?;
            }
            out.flush().map_err(|e| format!("--trace: {e}"))?;
        }
        println!("{}", describe(&report));
        if let Some(v) = &report.violation {
            eprintln!("--- the last {context} events before the violation ---");
            for (t, e) in &events[events.len().saturating_sub(context)..] {
                eprintln!("{}", trace::text(*t, e));
            }
            return Err(format!(
                "seed {seed}: VIOLATION of {}: {}",
                v.invariant, v.detail
            ));
        }
        println!(
            "held: agreement, validity, integrity, durable before answering, promise kept; \
             every process decided {} units after the heal",
            report.decided_after_heal.unwrap_or(0)
        );
        return Ok(());
    }
    let (from, to) = parse_range(seeds.unwrap_or("0..10000"))?;
    let s = sweep(acceptors, from, to, bug, 1);
    println!(
        "{} seeds on {acceptors} acceptors: {} events, {} messages ({} dropped, {} duplicated), {} crashes, {} partitions, {} seeds with competing proposers, highest round {}",
        s.seeds, s.events, s.messages, s.dropped, s.duplicated, s.crashes, s.partitions, s.contended, s.max_round
    );
    println!("{:.0} seeds/s", s.seeds_per_second());
    if let Some(failed) = s.failures.first() {
        let v = failed
            .violation
            .as_ref()
            .expect("a failure has a violation");
        println!("{}", describe(failed));
        return Err(format!(
            "seed {}: VIOLATION of {}: {} (replay: {})",
            failed.seed,
            v.invariant,
            v.detail,
            replay_command(acceptors, failed.seed, bug)
        ));
    }
    println!(
        "held on every seed: agreement, validity, integrity, durable before answering, promise \
         kept, and liveness (every process decided at most {} units after the heal, P1 alone)",
        s.decide_after_heal_max
    );
    Ok(())
}
