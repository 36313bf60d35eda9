//! A consumer of one partition: records in offset order from a starting offset, fetched from
//! the partition's leader, following leader changes.
//!
//! A fetch returns whole batches, so the first may start before the offset asked for: the
//! records before it are skipped. Only records below the high watermark are yielded (the
//! broker sends no others to a consumer; the client checks anyway). Without `follow` the
//! consumer stops at the high watermark of its first fetch — what was committed when it
//! started — or after `count` records; with `follow` it keeps polling, pausing
//! `poll_interval` after a fetch that brought nothing new (the wire protocol has no max-wait
//! field, so the wait is the client's).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use partition::{Batch, ErrorCode, Offset, Request, Response, TopicPartition};

use crate::cluster::{Cluster, Metadata};
use crate::LogError;

/// Where a consumer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// Offset 0.
    Earliest,
    /// The high watermark when the consumer starts: only records committed afterwards.
    Latest,
    Offset(Offset),
}

impl std::str::FromStr for StartAt {
    type Err = String;

    fn from_str(s: &str) -> Result<StartAt, String> {
        match s {
            "earliest" => Ok(StartAt::Earliest),
            "latest" => Ok(StartAt::Latest),
            n => n
                .parse()
                .map(StartAt::Offset)
                .map_err(|_| format!("{s:?} is neither earliest, latest nor an offset")),
        }
    }
}

/// How a consumer fetches and when it stops.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Keep reading past the high watermark seen at start.
    pub follow: bool,
    /// Stop after this many records.
    pub count: Option<u64>,
    /// The `max bytes` of each fetch (the connection's frame cap must admit its answer).
    pub max_fetch_bytes: u32,
    /// The pause after a fetch that brought nothing new.
    pub poll_interval: Duration,
    /// How long a fetch is retried (leader changes, unreachable brokers) before giving up.
    pub retry_timeout: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> ConsumerConfig {
        ConsumerConfig {
            follow: false,
            count: None,
            max_fetch_bytes: 1 << 20,
            poll_interval: Duration::from_millis(100),
            retry_timeout: Duration::from_secs(60),
        }
    }
}

/// Reads one partition.
pub struct Consumer<M> {
    cluster: Arc<Cluster<M>>,
    tp: TopicPartition,
    config: ConsumerConfig,
    start: StartAt,
    /// The next offset to yield (None until the start is resolved).
    position: Option<Offset>,
    /// Without `follow`: the high watermark of the first fetch.
    stop_at: Option<Offset>,
    yielded: u64,
    /// Records fetched and not yet yielded: at most one fetch's worth.
    buffered_records: VecDeque<(Offset, Vec<u8>)>,
}

impl<M: Metadata> Consumer<M> {
    pub fn new(
        cluster: Arc<Cluster<M>>,
        tp: TopicPartition,
        start: StartAt,
        config: ConsumerConfig,
    ) -> Consumer<M> {
        Consumer {
            cluster,
            tp,
            config,
            start,
            position: None,
            stop_at: None,
            yielded: 0,
            buffered_records: VecDeque::new(),
        }
    }

    /// The next record and its offset; `None` once the consumer is done (never, with `follow`
    /// and no `count`).
    pub async fn next(&mut self) -> Result<Option<(Offset, Vec<u8>)>, LogError> {
        loop {
            if self.config.count.is_some_and(|count| self.yielded >= count) {
                return Ok(None);
            }
            if let Some(record) = self.buffered_records.pop_front() {
                self.yielded += 1;
                return Ok(Some(record));
            }
            let position = self.position().await?;
            if self.stop_at.is_some_and(|stop| position >= stop) {
                return Ok(None);
            }
            let (high_watermark, batches) = self.fetch(position).await?;
            if !self.config.follow && self.stop_at.is_none() {
                self.stop_at = Some(high_watermark);
            }
            let limit = self
                .stop_at
                .map_or(high_watermark, |s| s.min(high_watermark));
            self.absorb(&batches, limit)?;
            let done = self.stop_at.is_some_and(|stop| self.position >= Some(stop));
            if self.buffered_records.is_empty() && !done {
                tokio::time::sleep(self.config.poll_interval).await;
            }
        }
    }

    /// The next offset to read, resolving `earliest` and `latest` on first use.
    async fn position(&mut self) -> Result<Offset, LogError> {
        if let Some(position) = self.position {
            return Ok(position);
        }
        let position = match self.start {
            StartAt::Earliest => 0,
            StartAt::Offset(offset) => offset,
            StartAt::Latest => {
                let (high_watermark, _) = self.fetch_with_bytes(0, 1).await?;
                if !self.config.follow {
                    self.stop_at = Some(high_watermark);
                }
                high_watermark
            }
        };
        self.position = Some(position);
        Ok(position)
    }

    /// Queues the records of `batches` from the position up to `limit` (exclusive). A batch
    /// that starts after the position would leave a gap: the answer is refused.
    fn absorb(&mut self, batches: &[Batch], limit: Offset) -> Result<(), LogError> {
        let mut position = self.position.unwrap_or(0);
        for batch in batches {
            if batch.header.base_offset > position {
                return Err(LogError::Protocol(format!(
                    "a batch at offset {} when {position} was asked",
                    batch.header.base_offset
                )));
            }
            for (i, record) in batch.records.iter().enumerate() {
                let offset = batch.header.base_offset + i as u64;
                if offset < position {
                    continue;
                }
                if offset >= limit {
                    break;
                }
                self.buffered_records.push_back((offset, record.clone()));
                position += 1;
            }
        }
        self.position = Some(position);
        Ok(())
    }

    async fn fetch(&self, offset: Offset) -> Result<(Offset, Vec<Batch>), LogError> {
        self.fetch_with_bytes(offset, self.config.max_fetch_bytes)
            .await
    }

    /// A fetch from the leader, retried through leader changes for up to `retry_timeout`.
    async fn fetch_with_bytes(
        &self,
        offset: Offset,
        max_bytes: u32,
    ) -> Result<(Offset, Vec<Batch>), LogError> {
        let deadline = Instant::now() + self.config.retry_timeout;
        let mut backoff = Duration::from_millis(50);
        loop {
            let request = Request::Fetch {
                offset,
                max_bytes,
                replica: None,
            };
            let error = match self.cluster.call(&self.tp, request).await {
                Ok(Response::Fetched {
                    high_watermark,
                    batches,
                    ..
                }) => return Ok((high_watermark, batches)),
                Ok(other) => LogError::Protocol(format!("{other:?} to a fetch")),
                Err(e) => e,
            };
            // Past the log end is final for a bounded read; a follower may be ahead of a new
            // leader's high watermark for a moment, so a follow waits for it.
            let out_of_range = error == LogError::Broker(ErrorCode::OffsetOutOfRange);
            let retriable = error.retriable() && (self.config.follow || !out_of_range);
            if !retriable || Instant::now() + backoff >= deadline {
                return Err(error);
            }
            tracing::debug!(partition = %self.tp, error = %error, "retrying a fetch");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}
