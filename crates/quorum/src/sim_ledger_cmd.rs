//! `quorum sim --protocol ledger`: the deterministic ledger simulator (sim::ledger) for one seed
//! (replay, with the events before a violation) or a sweep of seeds.

use ledger::Bug;
use sim::ledger::{sweep, LedgerOptions, LedgerReport, LedgerWorld};

use crate::sim_cmd::parse_range;

fn describe(r: &LedgerReport) -> String {
    let (e, w, a) = r.shape;
    format!(
        "seed {} (E/Qw/Qa {e}/{w}/{a}, {} bookies): {} events, {} messages ({} dropped), {} bookie crashes, {} cuts, {} pauses, {} appended, acknowledged up to {:?}, {} ensemble changes, {} recoveries{}, closed at {}, {} entries read",
        r.seed,
        r.bookies,
        r.events,
        r.messages,
        r.dropped,
        r.crashes,
        r.partitions,
        r.pauses,
        r.appended,
        r.acknowledged,
        r.ensemble_changes,
        r.recoveries,
        if r.writer_fenced { " (one fenced the writer while it wrote)" } else { "" },
        r.closed_last.map_or("never".to_string(), |l| format!("{l:?}")),
        r.entries_read,
    )
}

fn replay_command(seed: u64, bug: Option<Bug>) -> String {
    format!(
        "quorum sim --protocol ledger --seed {seed}{}",
        bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
    )
}

/// Runs `quorum sim --protocol ledger`.
pub fn run(
    seed: Option<u64>,
    seeds: Option<&str>,
    bug: Option<Bug>,
    context: usize,
) -> Result<(), String> {
    if let Some(seed) = seed {
        let mut opts = LedgerOptions::from_seed(seed);
        opts.bug = bug;
        println!("{opts:?}");
        let (report, log) = LedgerWorld::new(opts, true).run();
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
            "held: every invariant; closed and read back {} units after the heal",
            report.done_after_heal.unwrap_or(0)
        );
        return Ok(());
    }
    let (from, to) = parse_range(seeds.unwrap_or("0..2000"))?;
    let s = sweep(from, to, bug, 1);
    println!(
        "{} seeds: {} events, {} messages ({} dropped), {} bookie crashes, {} cuts, {} pauses, {} appended, {} acknowledged, {} ensemble changes, {} recoveries ({} started while another was at work, {} seeds fenced a writer still writing), {} closed, {} entries read",
        s.seeds, s.events, s.messages, s.dropped, s.crashes, s.partitions, s.pauses, s.appended,
        s.acknowledged, s.ensemble_changes, s.recoveries, s.concurrent_recoveries, s.writer_fenced,
        s.closed, s.entries_read
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
        "held on every seed: every invariant, and liveness (closed and read back at most {} units after the heal)",
        s.done_after_heal_max
    );
    Ok(())
}
