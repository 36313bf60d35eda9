//! Topics: creating and listing them in Quorum, and describing a topic's partitions as Quorum
//! and the replicas themselves see them.

use broker::meta;
/// A replica's role as it describes itself.
pub use broker::wire::Role;
use broker::wire::{BrokerRequest, BrokerResponse};
use client::zk;
use partition::{Assignment, BrokerId, LeaderEpoch, Offset, PartitionState, TopicPartition};

use crate::conn::Pool;
use crate::LogError;

/// Creates topic `name` with `partitions` partitions of `replication` replicas each, assigned
/// round-robin over the live brokers in id order (so leaders spread evenly). Refused when
/// fewer brokers are live than the replication factor, or `min_insync` exceeds it.
pub async fn create_topic(
    zk: &zk::Client,
    name: &str,
    partitions: u32,
    replication: usize,
    min_insync: Option<usize>,
) -> Result<Assignment, LogError> {
    broker::topic::check_topic(name).map_err(LogError::Invalid)?;
    let live: Vec<BrokerId> = meta::live_brokers(zk).await?.into_keys().collect();
    let assignment = plan(&live, partitions, replication, min_insync)?;
    match meta::create_topic(zk, name, &assignment).await {
        Ok(()) => Ok(assignment),
        Err(meta::MetaError::Quorum(zk::Error::NodeExists)) => {
            Err(LogError::Invalid(format!("topic {name} already exists")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The assignment of a new topic over the `live` brokers (sorted ids): round-robin, checked.
pub fn plan(
    live: &[BrokerId],
    partitions: u32,
    replication: usize,
    min_insync: Option<usize>,
) -> Result<Assignment, LogError> {
    if partitions == 0 || replication == 0 {
        return Err(LogError::Invalid(
            "a topic needs at least one partition and one replica".into(),
        ));
    }
    if min_insync.is_some_and(|min| min == 0 || min > replication) {
        return Err(LogError::Invalid(format!(
            "min-insync must be between 1 and the replication factor {replication}"
        )));
    }
    if live.len() < replication {
        return Err(LogError::Invalid(format!(
            "replication factor {replication} needs that many live brokers; {} are live",
            live.len()
        )));
    }
    let mut assignment = Assignment::round_robin(live, partitions, replication);
    assignment.min_insync = min_insync;
    Ok(assignment)
}

/// The topics, sorted by name.
pub async fn list_topics(zk: &zk::Client) -> Result<Vec<String>, LogError> {
    Ok(meta::topics(zk).await?)
}

/// One partition as Quorum and its replicas see it.
#[derive(Clone, Debug)]
pub struct PartitionView {
    pub partition: u32,
    /// None if the state znode is missing.
    pub state: Option<PartitionState>,
    /// Each assigned replica, in assignment order.
    pub replicas: Vec<(BrokerId, ReplicaView)>,
}

/// What one replica says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplicaView {
    Reached {
        role: Role,
        leader_epoch: Option<LeaderEpoch>,
        high_watermark: Offset,
        log_end: Offset,
    },
    /// Not registered, not reachable, or no sensible answer: why.
    Unreachable(String),
}

/// Every partition of `topic`: its state, and a Describe from each assigned replica (asked
/// concurrently; one that cannot be reached shows as [`ReplicaView::Unreachable`]).
pub async fn describe(
    zk: &zk::Client,
    pool: &Pool,
    topic: &str,
) -> Result<Vec<PartitionView>, LogError> {
    let assignment = meta::read_assignment(zk, topic)
        .await?
        .ok_or_else(|| LogError::NoTopic(topic.to_string()))?;
    let live = meta::live_brokers(zk).await?;
    let mut views = Vec::new();
    for (i, replicas) in assignment.replicas.iter().enumerate() {
        let tp = TopicPartition::new(topic, i as u32);
        let state = meta::read_state(zk, &tp).await?.map(|(state, _)| state);
        let asks = replicas.iter().map(|&id| {
            let address = live.get(&id).map(|b| b.address.clone());
            let tp = tp.clone();
            async move {
                let view = match address {
                    None => ReplicaView::Unreachable("not registered".into()),
                    Some(address) => describe_replica(pool, &address, tp).await,
                };
                (id, view)
            }
        });
        views.push(PartitionView {
            partition: i as u32,
            state,
            replicas: futures::future::join_all(asks).await,
        });
    }
    Ok(views)
}

async fn describe_replica(pool: &Pool, address: &str, tp: TopicPartition) -> ReplicaView {
    let answer = async {
        let conn = pool.get(address).await?;
        conn.request(|tag| BrokerRequest::Describe { tag, tp })
            .await
    };
    match answer.await {
        Ok(BrokerResponse::Described {
            role,
            leader_epoch,
            high_watermark,
            log_end,
            ..
        }) => ReplicaView::Reached {
            role,
            leader_epoch,
            high_watermark,
            log_end,
        },
        Ok(other) => ReplicaView::Unreachable(format!("answered {other:?} to Describe")),
        Err(e) => ReplicaView::Unreachable(e.to_string()),
    }
}
