//! `quorum`: one binary for the server, the simulator, the benchmarks and the tools.
//!
//! Each subcommand lives in its own module; this file only parses the command line and
//! dispatches.

use clap::{Parser, Subcommand};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// mimalloc rather than glibc's allocator: the server allocates small buffers on one thread
/// and frees them on another (requests, txns, frames), which glibc's arenas serve slowly.
/// Measured in docs/benchmarks.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench_cmd;
mod bench_ledger;
mod bench_log;
mod bench_probe_cmd;
mod bench_produce;
mod bench_recovery;
mod bench_sessions;
mod bench_tree_memory;
mod bookie_cmd;
mod broker_cmd;
mod chaos_cmd;
mod consensus_cmd;
mod dev_cmd;
mod dev_nodes;
mod huge_pages;
mod ledger_cmd;
mod log_cmd;
mod server_cmd;
mod shell_cmd;
mod sim_cmd;
mod sim_ledger_cmd;
mod sim_log_cmd;
mod sim_paxos_cmd;
mod sim_server_cmd;
mod trace_cmd;
mod viewer;

#[derive(Parser)]
#[command(
    name = "quorum",
    version,
    about = "A replicated coordination service speaking the ZooKeeper protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a local ensemble of real servers on loopback (`--simulate`: a narrated simulation).
    Dev(dev_cmd::Args),
    /// Run a server from a zoo.cfg-style configuration file.
    Server(server_cmd::Args),
    /// An interactive shell on a server (zkCli-like); with -c or a piped stdin, runs a script.
    Shell(shell_cmd::Args),
    /// Run the deterministic Zab simulator: replay one seed or sweep many.
    Sim(sim_cmd::Args),
    /// Tools for simulator traces: `trace view TRACE --html FILE` draws one as a message
    /// sequence chart.
    #[command(subcommand)]
    Trace(trace_cmd::Command),
    /// Fault injection on a real ensemble: a recorded concurrent workload under kills, pauses
    /// and partitions, checked for linearizability and ZooKeeper's other guarantees.
    Chaos(chaos_cmd::Args),
    /// Single-decree consensus: the talk's Paxos story replayed; a value proposed through the
    /// service; a model check of why it needs a conditional write.
    #[command(subcommand)]
    Consensus(consensus_cmd::ConsensusCmd),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// BookKeeper-style ledgers over the registered bookies: create, write, read, recover,
    /// describe.
    Ledger(ledger_cmd::Args),
    /// The partition log through its brokers: create-topic, produce, consume, describe, list
    /// (docs/log.md).
    Log(log_cmd::Args),
    /// Run a bookie: a storage node of ledgers, registered in Quorum (docs/ledgers.md).
    Bookie(bookie_cmd::Args),
    /// Run a broker of the partition log, registered in Quorum (docs/log.md).
    Broker(broker_cmd::Args),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Ledgers: add-entry throughput and latency against the fsync floor, and recovery time.
    Ledger(bench_ledger::Args),
    /// The partition log: produce throughput and latency (acks=1, acks=all) against the fsync
    /// floor, and failover time when a partition leader is killed.
    Produce(bench_produce::Args),
    /// Durable append throughput of the transaction log next to the disk's raw fdatasync rate.
    Log(bench_log::Args),
    /// Drive a ZooKeeper-protocol ensemble (Quorum or Apache ZooKeeper) with a workload.
    Run(bench_cmd::Args),
    /// Many sessions watching one znode: session open rate, one setData's notification fan-out,
    /// idle sessions held for a memory reading.
    Sessions(bench_sessions::Args),
    /// One fdatasync and two loopback round trips: the floor of a replicated write.
    Baseline(bench_cmd::BaselineArgs),
    /// Resident memory per znode of the data tree alone, in this process.
    TreeMemory(bench_tree_memory::Args),
    /// A restart's steps (read the stores, install the snapshot, apply the log) on a copy of a
    /// server's folders.
    Recovery(bench_recovery::Args),
    /// Render SVG charts described in a JSON file.
    Chart(bench_cmd::ChartArgs),
    /// Wait until servers form an ensemble and each opens a session.
    Ready(bench_probe_cmd::ReadyArgs),
    /// Kill the leader under a set load; time the first write sent after the kill.
    Failover(bench_probe_cmd::FailoverArgs),
    /// Time a restarted server until it serves at the leader's zxid.
    Serving(bench_probe_cmd::ServingArgs),
    /// Bytes on disk per file, log and snapshots apart, and the growth since a measurement.
    DiskUsage(bench_probe_cmd::DiskUsageArgs),
    /// A process's resident memory, file-backed apart from anonymous.
    Memory(bench_probe_cmd::MemoryArgs),
}

/// Log lines a server queues for stderr before it drops new ones.
const LOG_QUEUE_LINES: usize = 64 * 1024;

fn main() {
    let cli = Cli::parse();
    // A simulation runs thousands of servers' lives: their log lines would drown its report.
    let default_level = match cli.command {
        Command::Sim(_) => "error",
        // Proposers print their decision on stdout; the client's reconnection chatter is noise.
        Command::Consensus(_) | Command::Ledger(_) | Command::Log(_) => "warn",
        Command::Bench(BenchCommand::Ledger(_) | BenchCommand::Produce(_)) => "warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // A server logs from the thread that runs its core (and, by default, every socket): a
    // stderr pipe that stops being read must not stop the server, so its lines go through a
    // bounded queue to a thread of their own, and beyond the bound new lines are dropped. The
    // guard flushes the queue when dropped, before the process exits.
    let (writer, log_writer_guard) = match cli.command {
        Command::Server(_) => {
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE_LINES)
                .lossy(true)
                .finish(std::io::stderr());
            (BoxMakeWriter::new(writer), Some(guard))
        }
        _ => (BoxMakeWriter::new(std::io::stderr), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .init();
    huge_pages::off_unless_asked();
    let result = match cli.command {
        Command::Dev(args) => dev_cmd::run(args),
        Command::Server(args) => server_cmd::run(args),
        Command::Shell(args) => shell_cmd::run(args),
        Command::Sim(args) => sim_cmd::run(args),
        Command::Chaos(args) => chaos_cmd::run(args),
        Command::Consensus(cmd) => consensus_cmd::run(cmd),
        Command::Trace(command) => trace_cmd::run(command),
        Command::Ledger(args) => ledger_cmd::run(args),
        Command::Log(args) => log_cmd::run(args),
        Command::Bench(BenchCommand::Log(args)) => bench_log::run(args),
        Command::Bench(BenchCommand::Ledger(args)) => bench_ledger::run(args),
        Command::Bench(BenchCommand::Produce(args)) => bench_produce::run(args),
        Command::Bench(BenchCommand::Run(args)) => bench_cmd::run(args),
        Command::Bench(BenchCommand::Sessions(args)) => bench_sessions::run(args),
        Command::Bench(BenchCommand::Baseline(args)) => bench_cmd::baseline(args),
        Command::Bench(BenchCommand::TreeMemory(args)) => bench_tree_memory::run(args),
        Command::Bench(BenchCommand::Recovery(args)) => bench_recovery::run(args),
        Command::Bench(BenchCommand::Chart(args)) => bench_cmd::chart(args),
        Command::Bench(BenchCommand::Ready(args)) => bench_probe_cmd::ready(args),
        Command::Bench(BenchCommand::Failover(args)) => bench_probe_cmd::failover(args),
        Command::Bench(BenchCommand::Serving(args)) => bench_probe_cmd::serving(args),
        Command::Bench(BenchCommand::DiskUsage(args)) => bench_probe_cmd::disk_usage(args),
        Command::Bench(BenchCommand::Memory(args)) => bench_probe_cmd::memory(args),
        Command::Bookie(args) => bookie_cmd::run(args),
        Command::Broker(args) => broker_cmd::run(args),
    };
    drop(log_writer_guard);
    if let Err(message) = result {
        eprintln!("quorum: {message}");
        std::process::exit(1);
    }
}
