//! The end of a run, once every fault is healed and the producers have stopped: wait until
//! every partition has a leader and every replica has caught up, read each partition from its
//! leader through a consumer, then stop the brokers and read each ISR member's copy from its
//! data directory — the most direct evidence of what every ISR member holds.

use super::super::fleet::Fleet;
use super::check::FinalPartition;
use super::{PARTITIONS, TOPIC};
use broker::store::{partition_dir, PartitionStore, StoreConfig};
use log_client::admin::{describe, PartitionView, ReplicaView};
use log_client::{Cluster, Consumer, ConsumerConfig, QuorumMeta, StartAt};
use partition::TopicPartition;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the replicas get to catch up after healing.
const CATCH_UP: Duration = Duration::from_secs(60);

/// Why a partition is not settled yet, or `None` once it has a leader and every assigned
/// replica reports the leader's log end as both its log end and its high watermark.
fn unsettled(view: &PartitionView) -> Option<String> {
    let p = view.partition;
    let Some(leader) = view.state.as_ref().and_then(|s| s.leader) else {
        return Some(format!("partition {p} has no leader"));
    };
    let leader_end = view.replicas.iter().find_map(|(b, r)| match r {
        ReplicaView::Reached { log_end, .. } if *b == leader => Some(*log_end),
        _ => None,
    });
    let Some(end) = leader_end else {
        return Some(format!("partition {p}: leader {leader} does not answer"));
    };
    for (b, r) in &view.replicas {
        match r {
            ReplicaView::Reached {
                high_watermark,
                log_end,
                ..
            } if *log_end == end && *high_watermark == end => {}
            other => {
                return Some(format!(
                    "partition {p}: replica {b} {other:?}, leader end {end}"
                ))
            }
        }
    }
    None
}

/// Until every partition is settled ([`unsettled`]); the final views (with the leader epochs),
/// or a liveness failure after [`CATCH_UP`].
pub(super) async fn wait_settled(
    cluster: &Cluster<QuorumMeta>,
) -> Result<Vec<PartitionView>, String> {
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let why = match describe(cluster.meta().zk(), cluster.pool(), TOPIC).await {
            Ok(views) => match views.iter().find_map(unsettled) {
                None => return Ok(views),
                Some(why) => why,
            },
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            return Err(format!(
                "not settled {} s after healing: {why}",
                CATCH_UP.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every partition read from its leader, offset 0 up to the high watermark.
pub(super) async fn read_leaders(
    cluster: &Arc<Cluster<QuorumMeta>>,
) -> BTreeMap<u32, Result<Vec<String>, String>> {
    let mut logs = BTreeMap::new();
    for p in 0..PARTITIONS {
        let config = ConsumerConfig {
            retry_timeout: Duration::from_secs(30),
            ..ConsumerConfig::default()
        };
        let tp = TopicPartition::new(TOPIC, p);
        let mut consumer = Consumer::new(cluster.clone(), tp, StartAt::Earliest, config);
        let mut log = Vec::new();
        let read = loop {
            match consumer.next().await {
                Ok(Some((offset, record))) if offset == log.len() as u64 => {
                    log.push(String::from_utf8_lossy(&record).into_owned())
                }
                Ok(Some((offset, _))) => break Err(format!("offset {offset} after {}", log.len())),
                Ok(None) => break Ok(log),
                Err(e) => break Err(e.to_string()),
            }
        };
        logs.insert(p, read);
    }
    logs
}

/// Stops every broker, then reads each ISR member's copy of each partition from its disk.
pub(super) fn read_replicas(
    fleet: &mut Fleet,
    views: &[PartitionView],
    mut leader_logs: BTreeMap<u32, Result<Vec<String>, String>>,
) -> BTreeMap<u32, FinalPartition> {
    for id in 1..=fleet.len() as u32 {
        fleet.kill(id);
    }
    let mut fin = BTreeMap::new();
    for view in views {
        let p = view.partition;
        let isr: Vec<_> = view
            .state
            .iter()
            .flat_map(|s| s.isr.iter().map(|m| m.broker))
            .collect();
        let tp = TopicPartition::new(TOPIC, p);
        let replicas = isr
            .iter()
            .map(|&b| (b, read_store(&fleet.data_dir(b), &tp)))
            .collect();
        let leader_log = leader_logs
            .remove(&p)
            .unwrap_or_else(|| Err("not read".into()));
        fin.insert(
            p,
            FinalPartition {
                isr,
                leader_log,
                replicas,
            },
        );
    }
    fin
}

/// The records of `tp` in the broker data directory `data`, in offset order.
fn read_store(data: &Path, tp: &TopicPartition) -> Result<Vec<String>, String> {
    let dir = partition_dir(data, tp).map_err(|e| e.to_string())?;
    let (mut store, _) =
        PartitionStore::open(&dir, &StoreConfig::default()).map_err(|e| e.to_string())?;
    let end = store.log_end();
    let mut records = Vec::new();
    while (records.len() as u64) < end {
        let from = records.len() as u64;
        let batches = store.read(from, end, 1 << 20).map_err(|e| e.to_string())?;
        let progress = records.len();
        for batch in batches {
            for (i, record) in batch.records.into_iter().enumerate() {
                let offset = batch.header.base_offset + i as u64;
                if offset == records.len() as u64 {
                    records.push(String::from_utf8_lossy(&record).into_owned());
                }
            }
        }
        if records.len() == progress {
            return Err(format!("{}: nothing at offset {from}", dir.display()));
        }
    }
    Ok(records)
}
