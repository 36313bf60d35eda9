//! `quorum log produce NAME`: one record per stdin line, batched and pipelined per partition;
//! a summary on stderr, and a non-zero exit if any record was not acknowledged.

use std::sync::Arc;

use log_client::{Cluster, Delivery, Outcome, Producer, ProducerConfig, QuorumMeta};
use partition::Acks;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// Records sent and not yet settled, at most, before reading more input waits (on top of
/// what the producer's own per-partition queues hold).
const MAX_UNSETTLED_RECORDS: usize = 65_536;

#[derive(clap::Args)]
pub struct Args {
    name: String,
    /// Send every record to this partition (default: round-robin over the partitions).
    #[arg(long)]
    partition: Option<u32>,
    /// When a record counts as written: 0 (never answered), 1 (durable on the leader), all
    /// (committed by every in-sync replica).
    #[arg(long, default_value = "all", value_parser = parse_acks)]
    acks: Acks,
    /// Seconds a batch is retried (leader changes, unreachable brokers) before it is reported
    /// failed.
    #[arg(long, default_value_t = 120)]
    delivery_timeout_secs: u64,
}

fn parse_acks(s: &str) -> Result<Acks, String> {
    match s {
        "0" => Ok(Acks::None),
        "1" => Ok(Acks::Leader),
        "all" | "-1" => Ok(Acks::All),
        _ => Err(format!("{s:?} is not 0, 1 or all")),
    }
}

/// What became of the records.
#[derive(Default)]
struct Tally {
    acknowledged: u64,
    sent_unacknowledged: u64,
    failed: u64,
    first_error: Option<String>,
}

impl Tally {
    fn settle(&mut self, outcome: Outcome) {
        match outcome {
            Ok(Some(_)) => self.acknowledged += 1,
            Ok(None) => self.sent_unacknowledged += 1,
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

pub async fn run(cluster: Arc<Cluster<QuorumMeta>>, args: Args) -> Result<(), String> {
    let config = ProducerConfig {
        acks: args.acks,
        delivery_timeout: std::time::Duration::from_secs(args.delivery_timeout_secs),
        ..ProducerConfig::default()
    };
    let producer = Producer::new(cluster, &args.name, config)
        .await
        .map_err(|e| e.to_string())?;
    let (deliveries_tx, mut deliveries_rx) = mpsc::channel::<Delivery>(MAX_UNSETTLED_RECORDS);
    let settler = tokio::spawn(async move {
        let mut tally = Tally::default();
        while let Some(delivery) = deliveries_rx.recv().await {
            tally.settle(delivery.wait().await);
        }
        tally
    });
    let read = send_lines(&producer, args.partition, deliveries_tx).await;
    producer.close().await;
    let tally = settler
        .await
        .map_err(|e| format!("settling records: {e}"))?;
    report(&args.name, &tally);
    read?;
    match tally.first_error {
        Some(e) => Err(format!(
            "{} records not acknowledged; first error: {e}",
            tally.failed
        )),
        None => Ok(()),
    }
}

/// Sends each stdin line (without its newline) as a record.
async fn send_lines(
    producer: &Producer,
    partition: Option<u32>,
    deliveries: mpsc::Sender<Delivery>,
) -> Result<(), String> {
    let mut lines = BufReader::new(tokio::io::stdin()).split(b'\n');
    while let Some(line) = lines
        .next_segment()
        .await
        .map_err(|e| format!("stdin: {e}"))?
    {
        let delivery = producer
            .send(partition, line)
            .await
            .map_err(|e| e.to_string())?;
        if deliveries.send(delivery).await.is_err() {
            return Err("the settling task stopped".into());
        }
    }
    Ok(())
}

fn report(topic: &str, tally: &Tally) {
    let mut summary = format!("{topic}: {} acknowledged", tally.acknowledged);
    if tally.sent_unacknowledged > 0 {
        summary.push_str(&format!(
            ", {} sent with acks=0 (not acknowledged)",
            tally.sent_unacknowledged
        ));
    }
    if tally.failed > 0 {
        summary.push_str(&format!(", {} failed", tally.failed));
    }
    eprintln!("{summary}");
}
