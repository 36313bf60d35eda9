//! A producer for one topic: records are queued per partition, sent in batches (one batch in
//! flight per partition, the records that arrive meanwhile making up the next), and each
//! record's outcome — its offset, or why it was not acknowledged — is handed back.
//!
//! **Idempotence** (acks 1 and all). Each partition's sender has a random 64-bit producer id
//! and numbers its records from 0. A batch carries the id and the sequence of its first record,
//! and every retry of that batch carries the same pair, so a leader that already wrote it
//! answers with its original offset instead of writing it twice. The sequence advances only
//! when a batch is acknowledged. A batch that finally fails (OUT_OF_ORDER_SEQUENCE, or retries
//! exhausted: it may or may not be in the log) leaves that sequence unusable, so the sender
//! draws a new producer id and starts again from 0 — the leader keeps its table per producer
//! id, so the new id can never be mistaken for the old one's duplicates.
//!
//! **Retries.** A retriable refusal (NOT_LEADER, NOT_ENOUGH_REPLICAS, …) or a timeout makes the
//! [`Cluster`] look the leader up again, and the batch is retried with exponential backoff until
//! it is answered or `delivery_timeout` has passed since its first attempt.
//!
//! **Back-pressure.** Each partition's queue holds at most `max_queued_records`; `send` waits
//! for room, so a slow cluster slows the caller down instead of growing memory.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use partition::{Acks, Offset, Producer as ProducerTag, Request, Response, TopicPartition};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Metadata};
use crate::LogError;

/// A record's outcome: `Ok(Some(offset))` once acknowledged, `Ok(None)` once sent with acks=0
/// (never acknowledged), or why it failed.
pub type Outcome = Result<Option<Offset>, LogError>;

/// How a producer batches, retries and bounds its memory.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub acks: Acks,
    /// Records per batch, at most.
    pub max_batch_records: usize,
    /// Payload bytes per batch, at most (a single larger record is refused by `send`).
    pub max_batch_bytes: usize,
    /// Records queued per partition before `send` waits.
    pub max_queued_records: usize,
    /// How long a batch is retried before it is reported failed.
    pub delivery_timeout: Duration,
    /// The first pause between retries; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for ProducerConfig {
    fn default() -> ProducerConfig {
        ProducerConfig {
            acks: Acks::All,
            max_batch_records: 4096,
            max_batch_bytes: 1 << 20,
            max_queued_records: 16_384,
            delivery_timeout: Duration::from_secs(120),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// The future outcome of one record.
pub struct Delivery(oneshot::Receiver<Outcome>);

impl Delivery {
    /// Waits for the record's outcome.
    pub async fn wait(self) -> Outcome {
        self.0.await.unwrap_or(Err(LogError::Closed))
    }
}

struct Queued {
    record: Vec<u8>,
    done: oneshot::Sender<Outcome>,
}

/// A producer for one topic.
pub struct Producer {
    topic: String,
    config: ProducerConfig,
    next_partition: AtomicU32,
    /// One queue per partition, `max_queued_records` records each.
    queues_records: Vec<mpsc::Sender<Queued>>,
    senders: Vec<JoinHandle<()>>,
}

impl Producer {
    /// A producer for `topic` (which must exist), with one sender task per partition.
    pub async fn new<M: Metadata>(
        cluster: Arc<Cluster<M>>,
        topic: &str,
        config: ProducerConfig,
    ) -> Result<Producer, LogError> {
        if config.max_batch_records == 0 || config.max_queued_records == 0 {
            return Err(LogError::Invalid(
                "batches and queues need room for a record".into(),
            ));
        }
        let partitions = cluster.meta().partitions(topic).await?;
        let mut queues_records = Vec::new();
        let mut senders = Vec::new();
        for partition in 0..partitions {
            let (tx, rx) = mpsc::channel(config.max_queued_records);
            let sender = PartitionSender {
                cluster: cluster.clone(),
                tp: TopicPartition::new(topic, partition),
                config: config.clone(),
                id: random_id(),
                next_seq: 0,
                carried: None,
            };
            queues_records.push(tx);
            senders.push(tokio::spawn(sender.run(rx)));
        }
        Ok(Producer {
            topic: topic.to_string(),
            config,
            next_partition: AtomicU32::new(0),
            queues_records,
            senders,
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn partitions(&self) -> u32 {
        self.queues_records.len() as u32
    }

    /// Queues `record` for `partition` (round-robin when None), waiting while that partition's
    /// queue is full. The returned [`Delivery`] resolves to the record's outcome.
    pub async fn send(
        &self,
        partition: Option<u32>,
        record: Vec<u8>,
    ) -> Result<Delivery, LogError> {
        let count = self.partitions();
        let partition = match partition {
            Some(p) if p < count => p,
            Some(p) => {
                return Err(LogError::Invalid(format!(
                    "topic {} has no partition {p} (it has {count})",
                    self.topic
                )))
            }
            None => self.next_partition.fetch_add(1, Ordering::Relaxed) % count.max(1),
        };
        if record.len() > self.config.max_batch_bytes {
            return Err(LogError::Invalid(format!(
                "a record of {} bytes exceeds the batch limit of {}",
                record.len(),
                self.config.max_batch_bytes
            )));
        }
        let queue = self
            .queues_records
            .get(partition as usize)
            .ok_or_else(|| LogError::NoTopic(self.topic.clone()))?;
        let (done, rx) = oneshot::channel();
        queue
            .send(Queued { record, done })
            .await
            .map_err(|_| LogError::Closed)?;
        Ok(Delivery(rx))
    }

    /// Sends what is queued, waits for every outcome to be settled, and stops.
    pub async fn close(self) {
        drop(self.queues_records);
        for sender in self.senders {
            let _ = sender.await;
        }
    }
}

/// A random producer id: std's `RandomState` is seeded from the OS, and the time and process id
/// are hashed in too, so two producers (even in one process) do not draw the same id.
fn random_id() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The task that sends one partition's batches, one at a time.
struct PartitionSender<M> {
    cluster: Arc<Cluster<M>>,
    tp: TopicPartition,
    config: ProducerConfig,
    id: u64,
    next_seq: u64,
    /// A record taken from the queue that did not fit in the previous batch.
    carried: Option<Queued>,
}

impl<M: Metadata> PartitionSender<M> {
    async fn run(mut self, mut rx: mpsc::Receiver<Queued>) {
        loop {
            let first = match self.carried.take() {
                Some(q) => q,
                None => match rx.recv().await {
                    Some(q) => q,
                    None => return,
                },
            };
            let batch = self.fill(first, &mut rx);
            let (records, dones): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|q| (q.record, q.done)).unzip();
            let outcome = self.deliver(records).await;
            for (i, done) in dones.into_iter().enumerate() {
                let _ = done.send(outcome.clone().map(|o| o.map(|base| base + i as u64)));
            }
        }
    }

    /// A batch: `first` and whatever is already queued, within the record and byte limits.
    fn fill(&mut self, first: Queued, rx: &mut mpsc::Receiver<Queued>) -> Vec<Queued> {
        let mut bytes = first.record.len();
        let mut batch = vec![first];
        while batch.len() < self.config.max_batch_records {
            let Ok(next) = rx.try_recv() else { break };
            if bytes + next.record.len() > self.config.max_batch_bytes {
                self.carried = Some(next);
                break;
            }
            bytes += next.record.len();
            batch.push(next);
        }
        batch
    }

    /// Sends one batch until it is answered or the delivery timeout passes, advancing the
    /// sequence on success and drawing a new producer id after a final failure.
    async fn deliver(&mut self, records: Vec<Vec<u8>>) -> Outcome {
        let count = records.len() as u64;
        let acks = self.config.acks;
        let producer = (acks != Acks::None).then_some(ProducerTag {
            id: self.id,
            first_seq: self.next_seq,
        });
        let outcome = self.retry(acks, producer, records).await;
        match &outcome {
            Ok(_) => self.next_seq += count,
            Err(e) => {
                tracing::warn!(partition = %self.tp, error = %e, "batch of {count} records failed");
                self.id = random_id();
                self.next_seq = 0;
            }
        }
        outcome
    }

    async fn retry(
        &self,
        acks: Acks,
        producer: Option<ProducerTag>,
        records: Vec<Vec<u8>>,
    ) -> Outcome {
        let deadline = Instant::now() + self.config.delivery_timeout;
        let mut backoff = self.config.min_backoff;
        loop {
            let request = Request::Produce {
                acks,
                producer,
                records: records.clone(),
            };
            let attempt = async {
                if acks == Acks::None {
                    return self
                        .cluster
                        .send_only(&self.tp, request)
                        .await
                        .map(|_| None);
                }
                match self.cluster.call(&self.tp, request).await? {
                    Response::Produced { base_offset } => Ok(Some(base_offset)),
                    other => Err(LogError::Protocol(format!("{other:?} to a produce"))),
                }
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let error = match tokio::time::timeout(left, attempt).await {
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(e)) => e,
                Err(_) => LogError::Timeout(self.config.delivery_timeout),
            };
            if !error.retriable() || Instant::now() + backoff >= deadline {
                return Err(error);
            }
            tracing::debug!(partition = %self.tp, error = %error, "retrying a batch");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
    }
}
