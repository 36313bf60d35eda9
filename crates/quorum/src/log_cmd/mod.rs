//! `quorum log …`: the partition log's client (see docs/log.md, "Client and CLI"). Topics and
//! leaders are read from Quorum through the ZooKeeper protocol; records go to and come from
//! the brokers through the log's wire protocol, as any client of the service would.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args as ClapArgs, Subcommand};
use log_client::{Cluster, ConnConfig, QuorumMeta};

mod consume;
mod describe;
mod produce;

/// Arguments of `quorum log`.
#[derive(ClapArgs)]
pub struct Args {
    /// Quorum's connect string, `host:port,host:port…`.
    #[arg(long, default_value = "127.0.0.1:2181")]
    quorum: String,
    /// A broker that leaves a request unanswered this long (ms) is given up on for that
    /// attempt; the request is retried after looking the leader up again.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    #[command(subcommand)]
    command: LogCmd,
}

#[derive(Subcommand)]
enum LogCmd {
    /// Create topic NAME, its partitions assigned round-robin over the live brokers.
    CreateTopic {
        name: String,
        #[arg(long, default_value_t = 1)]
        partitions: u32,
        /// Replicas of each partition (at most the number of live brokers).
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// The topic's min.insync.replicas (default: the brokers' setting).
        #[arg(long)]
        min_insync: Option<usize>,
    },
    /// Append one record per stdin line to topic NAME. Exits non-zero if any record was not
    /// acknowledged.
    Produce(produce::Args),
    /// Print the records of one partition of topic NAME, one per line.
    Consume(consume::Args),
    /// Show each partition of topic NAME: its state in Quorum and what each replica reports.
    Describe { name: String },
    /// List the topics.
    List,
}

pub fn run(args: Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let zk = client::connect(&args.quorum, Duration::from_secs(10))
            .await
            .map_err(|e| format!("cannot connect to Quorum at {}: {e}", args.quorum))?;
        let timeout = Duration::from_millis(args.request_timeout_ms);
        let cluster = |max_fetch_bytes: u32| {
            let config = ConnConfig {
                request_timeout: timeout,
                ..ConnConfig::for_fetch_bytes(max_fetch_bytes)
            };
            Arc::new(Cluster::new(QuorumMeta::new(zk.clone()), config))
        };
        match args.command {
            LogCmd::CreateTopic {
                name,
                partitions,
                replicas,
                min_insync,
            } => {
                let assignment =
                    log_client::admin::create_topic(&zk, &name, partitions, replicas, min_insync)
                        .await
                        .map_err(|e| e.to_string())?;
                for (i, brokers) in assignment.replicas.iter().enumerate() {
                    let ids: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
                    eprintln!("{name}-{i}: replicas {}", ids.join(","));
                }
                Ok(())
            }
            LogCmd::Produce(produce) => produce::run(cluster(1 << 20), produce).await,
            LogCmd::Consume(consume) => {
                let c = cluster(consume.max_fetch_bytes);
                consume::run(c, consume).await
            }
            LogCmd::Describe { name } => describe::run(&cluster(1 << 20), &name).await,
            LogCmd::List => {
                let topics = log_client::admin::list_topics(&zk)
                    .await
                    .map_err(|e| e.to_string())?;
                for topic in topics {
                    println!("{topic}");
                }
                Ok(())
            }
        }
    })
}
