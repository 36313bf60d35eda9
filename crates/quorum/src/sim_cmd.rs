//! `quorum sim`: run the deterministic simulator for one seed (replay, optionally traced) or
//! sweep a range of seeds.

use std::fs::File;
use std::io::BufWriter;

use sim::sweep::Shape;
use sim::trace::Tracer;
use sim::{Options, Report, World};
use zab::Bug;

/// Arguments of `quorum sim`.
#[derive(clap::Args)]
pub struct Args {
    /// Number of servers (3, 5 or 7 are the usual sizes).
    #[arg(long, default_value_t = 3)]
    servers: usize,
    /// Observers (non-voting learners) beside the servers, at the Zab level.
    #[arg(long, default_value_t = 0)]
    observers: usize,
    /// Servers outside the initial configuration, started as joining servers are (the
    /// configuration plus themselves as observers), for reconfigurations to bring in.
    #[arg(long, default_value_t = 0)]
    spares: usize,
    /// Reconfigurations join the faults (add, remove, replace voters, the leader among them,
    /// grow to five, shrink to three, promote and demote observers).
    #[arg(long)]
    reconfig: bool,
    /// Replay one seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Sweep a range of seeds, `A..B` (B excluded).
    #[arg(long)]
    seeds: Option<String>,
    /// Write the whole run of `--seed` as JSON lines to this file.
    #[arg(long, requires = "seed")]
    trace: Option<String>,
    /// Run a deliberately broken protocol variant (testing the checker):
    /// ack-before-durable, ack-newleader-before-durable, commit-on-minority,
    /// accept-stale-newepoch, skip-trunc, confirm-without-quorum, observer-counts (with
    /// `--observers`), new-quorum-only, old-quorum-only and removed-leader-leads (with
    /// `--reconfig`). Only in
    /// builds with the
    /// `bugs` feature.
    #[cfg(feature = "bugs")]
    #[arg(long)]
    bug: Option<String>,
    /// Readable trace lines to print before a violation.
    #[arg(long, default_value_t = 60)]
    context: usize,
    /// What to simulate: `zab` (the Zab core alone) or `server` (the real server core with
    /// simulated clients, disks and links; docs/simulation.md).
    #[arg(long, default_value = "zab")]
    level: Level,
    /// Threads for a server-level sweep.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Which protocol: `zab` (the default; `--level` applies), `paxos` (single-decree Paxos,
    /// the `paxos` crate; docs/paxos.md), `ledger` (BookKeeper-style ledgers, the `ledger`
    /// crate; docs/ledgers.md) or `log` (the Kafka-style partition log, the `partition` crate;
    /// docs/log.md). With `paxos`, `--bug` takes forget-promise, ignore-accepted,
    /// accept-below-promise or decide-on-minority; with `ledger`, recovery-without-fence,
    /// fence-too-few, recovery-trusts-one-lac or ensemble-change-without-cas; with `log`,
    /// ack-all-on-leader-only, hw-ignores-isr, truncate-to-hw or leader-ignores-refusal.
    #[arg(long, default_value = "zab")]
    protocol: Protocol,
    /// Number of acceptors, with `--protocol paxos`.
    #[arg(long, default_value_t = 3)]
    acceptors: usize,
}

/// Which protocol `quorum sim` runs.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Protocol {
    Zab,
    Paxos,
    Ledger,
    Log,
}

/// What `quorum sim` runs.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Level {
    Zab,
    Server,
}

pub(crate) fn parse_range(range: &str) -> Result<(u64, u64), String> {
    let (a, b) = range
        .split_once("..")
        .ok_or_else(|| format!("--seeds {range}: expected A..B"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|e| format!("--seeds {range}: {e}"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if b <= a {
        return Err(format!("--seeds {range}: empty range"));
    }
    Ok((a, b))
}

fn describe(report: &Report) -> String {
    format!(
        "seed {} ({} servers): {} events, {} ticks, {} committed, {} messages ({} dropped, {} duplicated), {} crashes, {} partitions, syncs diff/trunc/snap {}/{}/{}, log reads {} ({} refused), heals timed {} (longest recovery {:.1} ticks)",
        report.seed,
        report.servers,
        report.events,
        report.ticks,
        report.committed,
        report.messages,
        report.dropped,
        report.duplicated,
        report.crashes,
        report.partitions,
        report.syncs_diff,
        report.syncs_trunc,
        report.syncs_snap,
        report.log_reads,
        report.log_reads_refused,
        report.recoveries,
        report.recovery_ticks_max()
    )
}

/// Replays `seed` with a readable trace kept in memory and prints the lines before the
/// violation.
fn print_violation_context(cluster: Shape, seed: u64, bug: Option<Bug>, context: usize) {
    let opts = options(cluster, seed, bug);
    let (_, tracer) = World::new(opts, Some(Tracer::new(None, context))).run();
    if let Some(tracer) = tracer {
        eprintln!("--- the last {context} events before the violation ---");
        for line in tracer.recent() {
            eprintln!("{line}");
        }
    }
}

/// The options of one seed of a sweep of `shape`.
fn options(shape: Shape, seed: u64, bug: Option<Bug>) -> Options {
    let mut opts = Options::from_seed(shape.servers, seed);
    opts.observers = shape.observers;
    opts.spares = shape.spares;
    opts.reconfig = shape.reconfig;
    opts.bug = bug;
    opts
}

impl Args {
    /// The broken server variant asked for with `--level server` (none without `bugs`).
    fn server_bug(&self) -> Result<Option<server_core::bugs::ServerBug>, String> {
        #[cfg(feature = "bugs")]
        if let Some(name) = &self.bug {
            return server_core::bugs::ServerBug::from_name(name)
                .map(Some)
                .ok_or_else(|| format!("unknown --bug {name} at --level server"));
        }
        Ok(None)
    }

    /// The broken variant asked for (none without the `bugs` feature).
    fn bug(&self) -> Result<Option<Bug>, String> {
        #[cfg(feature = "bugs")]
        if let Some(name) = &self.bug {
            return Bug::from_name(name)
                .map(Some)
                .ok_or_else(|| format!("unknown --bug {name}"));
        }
        Ok(None)
    }
}

pub fn run(args: Args) -> Result<(), String> {
    if args.protocol == Protocol::Paxos {
        #[cfg(feature = "bugs")]
        let bug = match &args.bug {
            Some(name) => Some(
                paxos::Bug::from_name(name)
                    .ok_or_else(|| format!("unknown --bug {name} with --protocol paxos"))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "bugs"))]
        let bug = None;
        return crate::sim_paxos_cmd::run(
            args.acceptors,
            args.seed,
            args.seeds.as_deref(),
            args.trace.as_deref(),
            bug,
            args.context,
        );
    }
    if args.protocol == Protocol::Ledger {
        #[cfg(feature = "bugs")]
        let bug = match &args.bug {
            Some(name) => Some(
                ledger::Bug::from_name(name)
                    .ok_or_else(|| format!("unknown --bug {name} with --protocol ledger"))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "bugs"))]
        let bug = None;
        return crate::sim_ledger_cmd::run(args.seed, args.seeds.as_deref(), bug, args.context);
    }
    if args.protocol == Protocol::Log {
        #[cfg(feature = "bugs")]
        let bug = match &args.bug {
            Some(name) => Some(
                partition::Bug::from_name(name)
                    .ok_or_else(|| format!("unknown --bug {name} with --protocol log"))?,
            ),
            None => None,
        };
        #[cfg(not(feature = "bugs"))]
        let bug = None;
        return crate::sim_log_cmd::run(args.seed, args.seeds.as_deref(), bug, args.context);
    }
    if args.level == Level::Server {
        return crate::sim_server_cmd::run(
            args.servers,
            args.seed,
            args.seeds.as_deref(),
            args.trace.as_deref(),
            args.server_bug()?,
            args.context,
            args.threads,
        );
    }
    let bug = args.bug()?;
    if !(1..=15).contains(&args.servers) {
        return Err(format!("--servers {}: expected 1 to 15", args.servers));
    }
    let cluster = Shape {
        servers: args.servers,
        observers: args.observers,
        spares: args.spares,
        reconfig: args.reconfig,
    };
    if let Some(seed) = args.seed {
        let opts = options(cluster, seed, bug);
        let json = match &args.trace {
            Some(path) => {
                let file = File::create(path).map_err(|e| format!("--trace {path}: {e}"))?;
                Some(Box::new(BufWriter::new(file)) as Box<dyn std::io::Write>)
            }
            None => None,
        };
        let (report, _) = World::new(opts, Some(Tracer::new(json, args.context))).run();
        println!("{}", describe(&report));
        println!("faults, by what they did:\n{}", report.faults);
        if let Some(v) = &report.violation {
            print_violation_context(cluster, seed, bug, args.context);
            return Err(format!(
                "seed {seed}: VIOLATION of {}: {}",
                v.invariant, v.detail
            ));
        }
        println!("all invariants held");
        return Ok(());
    }
    let (from, to) = parse_range(args.seeds.as_deref().unwrap_or("0..1000"))?;
    let summary = sim::sweep::sweep_shaped(cluster, from, to, bug, 1);
    println!(
        "{} seeds on {} servers (+{} observers): {} events, {} committed, {} crashes, {} partitions, {} dropped, {} duplicated, syncs diff/trunc/snap {}/{}/{}, log reads {} ({} refused)",
        summary.seeds,
        args.servers,
        args.observers,
        summary.events,
        summary.committed,
        summary.crashes,
        summary.partitions,
        summary.dropped,
        summary.duplicated,
        summary.syncs_diff,
        summary.syncs_trunc,
        summary.syncs_snap,
        summary.log_reads,
        summary.log_reads_refused
    );
    println!("faults, by what they did:\n{}", summary.faults);
    if cluster.reconfig {
        println!(
            "reconfigurations: {} proposed, {} refused, {} activations (per server)",
            summary.reconfigs_proposed, summary.reconfigs_refused, summary.reconfigs_activated
        );
    }
    if let Some(failed) = summary.failures.first() {
        let v = failed
            .violation
            .as_ref()
            .expect("a failure has a violation");
        println!("{}", describe(failed));
        print_violation_context(cluster, failed.seed, bug, args.context);
        println!(
            "{:.0} seeds/s, {:.0} events/s",
            summary.seeds_per_second(),
            summary.events_per_second()
        );
        return Err(format!(
            "seed {}: VIOLATION of {}: {} (replay: quorum sim --servers {} --observers {} --spares {}{} --seed {}{})",
            failed.seed,
            v.invariant,
            v.detail,
            args.servers,
            args.observers,
            args.spares,
            if args.reconfig { " --reconfig" } else { "" },
            failed.seed,
            bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
        ));
    }
    println!("all invariants held");
    println!(
        "recovery after a partition heals (one leader, everyone in broadcast): {} heals timed, \
         mean {:.1} ticks, longest {:.1} ticks",
        summary.recoveries,
        summary.recovery_ticks_mean(),
        summary.recovery_ticks_max
    );
    println!(
        "{:.0} seeds/s, {:.0} events/s",
        summary.seeds_per_second(),
        summary.events_per_second()
    );
    Ok(())
}
