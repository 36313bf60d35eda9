//! `quorum sim --protocol log`: the deterministic partition-log simulator (sim::log) for one
//! seed (replay, with the events before a violation) or a sweep of seeds.

use partition::Bug;
use sim::log::{sweep, LogOptions, LogReport, LogWorld};

use crate::sim_cmd::parse_range;

fn describe(r: &LogReport) -> String {
    format!(
        "seed {}: {} events, {} messages ({} dropped), {} crashes, {} cuts, {} pauses, {} sessions expired, {} controllers, {} leader elections, {} ISR changes, {} truncations, {} records produced, {} acked with acks=all, {} with acks=1, {} consumed",
        r.seed, r.events, r.messages, r.dropped, r.crashes, r.cuts, r.pauses, r.sessions_expired,
        r.controllers, r.leader_elections, r.isr_changes, r.truncations, r.produced_records,
        r.acked_all, r.acked_leader, r.consumed,
    )
}

fn replay_command(seed: u64, bug: Option<Bug>) -> String {
    format!(
        "quorum sim --protocol log --seed {seed}{}",
        bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
    )
}

/// Runs `quorum sim --protocol log`.
pub fn run(
    seed: Option<u64>,
    seeds: Option<&str>,
    bug: Option<Bug>,
    context: usize,
) -> Result<(), String> {
    if let Some(seed) = seed {
        let mut opts = LogOptions::from_seed(seed);
        opts.bug = bug;
        println!("{opts:?}");
        let (report, log) = LogWorld::new(opts, true).run();
        println!("{}", describe(&report));
        if let Some(v) = &report.violation {
            eprintln!("--- the last {context} events before the violation ---");
            for (t, line) in &log[log.len().saturating_sub(context)..] {
                eprintln!("{t:>6} {line}");
            }
            return Err(format!(
                "seed {seed}: VIOLATION of {}: {}",
                v.invariant, v.detail
            ));
        }
        println!(
            "held: every invariant; converged {} units after the heal",
            report.converged_after_heal.unwrap_or(0)
        );
        return Ok(());
    }
    let (from, to) = parse_range(seeds.unwrap_or("0..2000"))?;
    let s = sweep(from, to, bug, 1);
    println!(
        "{} seeds: {} events, {} messages ({} dropped), {} crashes, {} cuts, {} pauses, {} sessions expired, {} controllers, {} leader elections, {} ISR changes, {} truncations, {} records produced, {} acked with acks=all, {} with acks=1, {} consumed",
        s.seeds, s.events, s.messages, s.dropped, s.crashes, s.cuts, s.pauses, s.sessions_expired,
        s.controllers, s.leader_elections, s.isr_changes, s.truncations, s.produced_records,
        s.acked_all, s.acked_leader, s.consumed
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
            replay_command(failed.seed, bug)
        ));
    }
    println!(
        "held on every seed: every invariant, and liveness (converged at most {} units after the heal)",
        s.converged_after_heal_max
    );
    Ok(())
}
