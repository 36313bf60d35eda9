//! `quorum log consume NAME`: one record per stdout line, in offset order.

use std::io::Write;
use std::sync::Arc;

use log_client::{Cluster, Consumer, ConsumerConfig, QuorumMeta, StartAt};
use partition::TopicPartition;

#[derive(clap::Args)]
pub struct Args {
    name: String,
    #[arg(long, default_value_t = 0)]
    partition: u32,
    /// earliest (offset 0), latest (the high watermark now), or an offset.
    #[arg(long, default_value = "earliest")]
    from: StartAt,
    /// Stop after this many records.
    #[arg(long)]
    count: Option<u64>,
    /// Keep waiting for new records instead of stopping at the high watermark seen at start.
    #[arg(long)]
    follow: bool,
    /// Prefix each record with its offset and a tab.
    #[arg(long)]
    with_offsets: bool,
    /// The max bytes of each fetch.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_fetch_bytes: u32,
}

pub async fn run(cluster: Arc<Cluster<QuorumMeta>>, args: Args) -> Result<(), String> {
    let partitions = {
        use log_client::Metadata;
        cluster
            .meta()
            .partitions(&args.name)
            .await
            .map_err(|e| e.to_string())?
    };
    if args.partition >= partitions {
        return Err(format!(
            "topic {} has no partition {} (it has {partitions})",
            args.name, args.partition
        ));
    }
    let config = ConsumerConfig {
        follow: args.follow,
        count: args.count,
        max_fetch_bytes: args.max_fetch_bytes,
        ..ConsumerConfig::default()
    };
    let tp = TopicPartition::new(&args.name, args.partition);
    let mut consumer = Consumer::new(cluster, tp, args.from, config);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    while let Some((offset, record)) = consumer.next().await.map_err(|e| e.to_string())? {
        let written = if args.with_offsets {
            write!(out, "{offset}\t")
        } else {
            Ok(())
        };
        written
            .and_then(|_| out.write_all(&record))
            .and_then(|_| out.write_all(b"\n"))
            .map_err(|e| format!("stdout: {e}"))?;
        if args.follow {
            // Following is interactive: each record shows when it arrives.
            out.flush().map_err(|e| format!("stdout: {e}"))?;
        }
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}
