//! The log workload, through `log-client` as any application would use it: producers
//! (acks=all, idempotent) writing unique records `p{producer}-{n}` round the partitions, and
//! one following consumer per partition reading from offset 0. Everything a client learns goes
//! into the history. A client whose Quorum session may be gone (a failed delivery, a consumer
//! giving up) starts over on a fresh session.

use super::super::workload::connect;
use super::history::{Outcome, Recorder};
use super::{PARTITIONS, TOPIC};
use log_client::{Cluster, ConnConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use log_client::{QuorumMeta, StartAt};
use partition::{Acks, TopicPartition};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A broker that leaves a request unanswered this long is given up on (and the leader looked
/// up again): short, so that a paused broker is noticed within a fault.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a batch is retried: long enough to outlast a fault, short enough that every
/// outcome is known soon after healing.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);
/// Records a producer has waiting for their outcome, at most.
const WINDOW: usize = 256;
/// The pause between two records of one producer.
const PACE: Duration = Duration::from_millis(4);

/// What the workload's tasks share.
pub(super) struct Shared {
    pub(super) rec: Recorder,
    pub(super) stop: AtomicBool,
    pub(super) connect: String,
}

impl Shared {
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A cluster on a fresh Quorum session; `None` once the workload stops.
pub(super) async fn cluster(
    connect_string: &str,
    stop: &AtomicBool,
) -> Option<Arc<Cluster<QuorumMeta>>> {
    while !stop.load(Ordering::Relaxed) {
        if let Some(zk) = connect(connect_string).await {
            let config = ConnConfig {
                request_timeout: REQUEST_TIMEOUT,
                ..ConnConfig::default()
            };
            return Some(Arc::new(Cluster::new(QuorumMeta::new(zk), config)));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Producer `me`: sends records until stopped, then waits for every outcome.
pub(super) async fn producer(shared: Arc<Shared>, me: usize) {
    let mut n = 0u64;
    while !shared.stopped() {
        let Some(cluster) = cluster(&shared.connect, &shared.stop).await else {
            return;
        };
        let config = ProducerConfig {
            acks: Acks::All,
            delivery_timeout: DELIVERY_TIMEOUT,
            ..ProducerConfig::default()
        };
        match Producer::new(cluster, TOPIC, config).await {
            Ok(producer) => produce(&shared, producer, me, &mut n).await,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Sends with `producer` until stopped or a delivery fails; then closes it, which settles
/// every record it still holds.
async fn produce(shared: &Arc<Shared>, producer: Producer, me: usize, n: &mut u64) {
    let window = Arc::new(Semaphore::new(WINDOW));
    let failed = Arc::new(AtomicBool::new(false));
    while !shared.stopped() && !failed.load(Ordering::Relaxed) {
        let Ok(permit) = window.clone().acquire_owned().await else {
            break;
        };
        let partition = (*n % u64::from(PARTITIONS)) as u32;
        let record = format!("p{me}-{n}");
        *n += 1;
        let index = shared.rec.sending(partition, &record);
        match producer.send(Some(partition), record.into_bytes()).await {
            Ok(delivery) => {
                let (shared, failed) = (shared.clone(), failed.clone());
                tokio::spawn(async move {
                    let outcome = match delivery.wait().await {
                        Ok(Some(offset)) => Outcome::Acked(offset),
                        Ok(None) => Outcome::Failed("no offset with acks=all".into()),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            Outcome::Failed(e.to_string())
                        }
                    };
                    shared.rec.settle(index, outcome);
                    drop(permit);
                });
            }
            Err(e) => {
                shared.rec.settle(index, Outcome::Failed(e.to_string()));
                break;
            }
        }
        tokio::time::sleep(PACE).await;
    }
    producer.close().await;
    // Every delivery is settled once its permit is back.
    let _ = window.acquire_many(WINDOW as u32).await;
}

/// Reads `partition` from offset 0, following, until aborted; a session that fails is
/// recorded as ended and a new one starts from offset 0 on a fresh Quorum session.
pub(super) async fn consumer(shared: Arc<Shared>, partition: u32) {
    while !shared.stopped() {
        let Some(cluster) = cluster(&shared.connect, &shared.stop).await else {
            return;
        };
        let config = ConsumerConfig {
            follow: true,
            retry_timeout: Duration::from_secs(30),
            ..ConsumerConfig::default()
        };
        let tp = TopicPartition::new(TOPIC, partition);
        let mut consumer = Consumer::new(cluster, tp, StartAt::Earliest, config);
        let session = shared.rec.session(partition);
        loop {
            match consumer.next().await {
                Ok(Some((offset, record))) => {
                    let record = String::from_utf8_lossy(&record).into_owned();
                    shared.rec.read(session, offset, record);
                }
                Ok(None) => break,
                Err(e) => {
                    shared.rec.ended(session, e.to_string());
                    break;
                }
            }
        }
    }
}
