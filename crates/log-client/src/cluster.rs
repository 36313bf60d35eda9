//! Who leads a partition, and sending requests to it.
//!
//! The leader comes from a [`Metadata`] source: in production [`QuorumMeta`] reads the
//! partition's state znode and then the leader's registration `/brokers/ids/N`; the tests use a
//! fake. [`Cluster`] caches each partition's leader and forgets it when a request says it is
//! stale (NOT_LEADER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, or the broker unreachable), so
//! the next attempt looks it up again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use broker::meta;
use broker::wire::{BrokerRequest, BrokerResponse};
use client::zk;
use partition::{BrokerId, LeaderEpoch, Request, Response, TopicPartition};

use crate::conn::{ConnConfig, Pool};
use crate::LogError;

/// A partition's leader as the metadata names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    pub broker: BrokerId,
    pub epoch: LeaderEpoch,
    pub address: String,
}

/// Where leaders and partition counts come from.
pub trait Metadata: Send + Sync + 'static {
    /// The current leader of `tp` (`NoLeader` while it has none, `NoTopic` if it does not exist).
    fn leader(&self, tp: &TopicPartition) -> impl Future<Output = Result<Leader, LogError>> + Send;
    /// How many partitions `topic` has.
    fn partitions(&self, topic: &str) -> impl Future<Output = Result<u32, LogError>> + Send;
}

/// Metadata read from Quorum over the ZooKeeper protocol.
#[derive(Clone)]
pub struct QuorumMeta {
    zk: zk::Client,
}

impl QuorumMeta {
    pub fn new(zk: zk::Client) -> QuorumMeta {
        QuorumMeta { zk }
    }

    pub fn zk(&self) -> &zk::Client {
        &self.zk
    }
}

impl Metadata for QuorumMeta {
    async fn leader(&self, tp: &TopicPartition) -> Result<Leader, LogError> {
        let (state, _) = meta::read_state(&self.zk, tp)
            .await?
            .ok_or_else(|| LogError::NoTopic(tp.to_string()))?;
        let broker = state.leader.ok_or_else(|| LogError::NoLeader(tp.clone()))?;
        // A leader whose registration is gone is about to be replaced: no leader yet.
        let address = meta::broker_address(&self.zk, broker)
            .await?
            .ok_or_else(|| LogError::NoLeader(tp.clone()))?;
        Ok(Leader {
            broker,
            epoch: state.leader_epoch,
            address,
        })
    }

    async fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        let assignment = meta::read_assignment(&self.zk, topic)
            .await?
            .ok_or_else(|| LogError::NoTopic(topic.to_string()))?;
        u32::try_from(assignment.replicas.len())
            .map_err(|_| LogError::Metadata(format!("topic {topic} has too many partitions")))
    }
}

/// The brokers as one client sees them: metadata, cached leaders, pooled connections.
pub struct Cluster<M> {
    meta: M,
    pool: Pool,
    leaders: Mutex<HashMap<TopicPartition, Leader>>,
}

impl<M: Metadata> Cluster<M> {
    pub fn new(meta: M, config: ConnConfig) -> Cluster<M> {
        Cluster {
            meta,
            pool: Pool::new(config),
            leaders: Mutex::new(HashMap::new()),
        }
    }

    pub fn meta(&self) -> &M {
        &self.meta
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The leader of `tp`, from the cache or else from the metadata.
    pub async fn leader(&self, tp: &TopicPartition) -> Result<Leader, LogError> {
        if let Some(leader) = self.cached().get(tp) {
            return Ok(leader.clone());
        }
        let leader = self.meta.leader(tp).await?;
        self.cached().insert(tp.clone(), leader.clone());
        Ok(leader)
    }

    /// Forgets the cached leader of `tp`.
    pub fn invalidate(&self, tp: &TopicPartition) {
        self.cached().remove(tp);
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Leader>> {
        self.leaders.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `request` to the leader of `tp` and returns its answer; a refusal is
    /// `Err(LogError::Broker(code))`. A stale-leader error forgets the leader (and, if the
    /// broker is unreachable, its connection) so that a retry looks it up again.
    pub async fn call(&self, tp: &TopicPartition, request: Request) -> Result<Response, LogError> {
        let leader = self.leader(tp).await?;
        let result = self.call_at(&leader, tp, request).await;
        if let Err(e) = &result {
            self.after_error(tp, &leader, e);
        }
        result
    }

    async fn call_at(
        &self,
        leader: &Leader,
        tp: &TopicPartition,
        request: Request,
    ) -> Result<Response, LogError> {
        let conn = self.pool.get(&leader.address).await?;
        let answer = conn
            .request(|tag| BrokerRequest::Partition {
                tag,
                tp: tp.clone(),
                request,
            })
            .await?;
        match answer {
            BrokerResponse::Partition {
                response: Response::Error(code),
                ..
            } => Err(LogError::Broker(code)),
            BrokerResponse::Partition { response, .. } => Ok(response),
            BrokerResponse::Described { .. } | BrokerResponse::IsrAnswer { .. } => Err(
                LogError::Protocol("a partition request answered with another kind".into()),
            ),
        }
    }

    /// Sends `request` to the leader of `tp` without waiting for an answer (acks=0).
    pub async fn send_only(&self, tp: &TopicPartition, request: Request) -> Result<(), LogError> {
        let leader = self.leader(tp).await?;
        let sent = async {
            let conn = self.pool.get(&leader.address).await?;
            conn.send_only(|tag| BrokerRequest::Partition {
                tag,
                tp: tp.clone(),
                request,
            })
            .await
        };
        let result = sent.await;
        if let Err(e) = &result {
            self.after_error(tp, &leader, e);
        }
        result
    }

    fn after_error(&self, tp: &TopicPartition, leader: &Leader, e: &LogError) {
        if e.stale_leader() {
            self.invalidate(tp);
        }
        if matches!(e, LogError::Timeout(_) | LogError::Broken { .. }) {
            self.pool.forget(&leader.address);
        }
    }
}
