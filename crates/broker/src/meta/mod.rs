//! The partition log's metadata in Quorum, as brokers and clients read and write it.
//!
//! Layout (docs/log.md, "Metadata in Quorum"):
//! ```text
//! /brokers/ids/N                  ephemeral: address=HOST:PORT; its czxid is the broker epoch
//! /controller                     ephemeral: broker=N
//! /controller_epoch               persistent: the controller epoch; its version fences writes
//! /topics/T                       persistent: the assignment (partition::Assignment)
//! /topics/T/partitions/I/state    persistent: partition::PartitionState
//! ```
//! Everything goes through the ZooKeeper client protocol, as any client of Quorum would.

mod controller;

use std::collections::BTreeMap;

use client::zk;
use partition::state::DecodeError;
use partition::{Assignment, BrokerEpoch, BrokerId, PartitionState, TopicPartition};

pub use controller::{elect, write_state, Elected};

pub const BROKERS: &str = "/brokers/ids";
pub const CONTROLLER: &str = "/controller";
pub const CONTROLLER_EPOCH: &str = "/controller_epoch";
pub const TOPICS: &str = "/topics";

/// Why a metadata operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("Quorum: {0}")]
    Quorum(#[from] zk::Error),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Invalid(String),
}

pub fn broker_path(id: BrokerId) -> String {
    format!("{BROKERS}/{id}")
}

pub fn topic_path(topic: &str) -> String {
    format!("{TOPICS}/{topic}")
}

pub fn state_path(tp: &TopicPartition) -> String {
    format!("{TOPICS}/{}/partitions/{}/state", tp.topic, tp.partition)
}

/// A broker's registration: where clients and other brokers reach it.
pub fn encode_registration(address: &str) -> Vec<u8> {
    format!("address={address}\n").into_bytes()
}

pub fn decode_registration(data: &[u8]) -> Result<String, MetaError> {
    let text = std::str::from_utf8(data).map_err(|_| bad("registration is not UTF-8"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("address="))
        .map(|a| a.trim().to_string())
        .ok_or_else(|| bad("registration lacks address="))
}

fn bad(why: &str) -> MetaError {
    MetaError::Invalid(why.to_string())
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Creates a persistent znode unless it exists.
pub async fn ensure(zk: &zk::Client, path: &str) -> Result<(), MetaError> {
    match zk.create(path, b"", &persistent()).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates the roots every other path hangs from.
pub async fn ensure_roots(zk: &zk::Client) -> Result<(), MetaError> {
    for path in ["/brokers", BROKERS, TOPICS] {
        ensure(zk, path).await?;
    }
    Ok(())
}

/// Creates topic `name` with `assignment`, atomically: the topic znode and every partition's
/// initial state (all replicas in sync, no leader) in one multi, so a half-created topic is
/// never seen. `NodeExists` if it already exists.
pub async fn create_topic(
    zk: &zk::Client,
    name: &str,
    assignment: &Assignment,
) -> Result<(), MetaError> {
    crate::topic::check_topic(name).map_err(|e| MetaError::Invalid(e.to_string()))?;
    if assignment.replicas.is_empty() {
        return Err(bad("a topic needs at least one partition"));
    }
    ensure_roots(zk).await?;
    let options = persistent();
    let mut multi = zk.new_multi_writer();
    let topic = topic_path(name);
    multi.add_create(&topic, assignment.encode().as_bytes(), &options)?;
    multi.add_create(&format!("{topic}/partitions"), b"", &options)?;
    for (i, replicas) in assignment.replicas.iter().enumerate() {
        let tp = TopicPartition::new(name, i as u32);
        multi.add_create(&format!("{topic}/partitions/{i}"), b"", &options)?;
        let state = PartitionState::initial(replicas);
        multi.add_create(&state_path(&tp), state.encode().as_bytes(), &options)?;
    }
    multi.commit().await.map_err(zk::Error::from)?;
    Ok(())
}

/// The topics that exist.
pub async fn topics(zk: &zk::Client) -> Result<Vec<String>, MetaError> {
    match zk.get_children(TOPICS).await {
        Ok((mut names, _)) => {
            names.sort();
            Ok(names)
        }
        Err(zk::Error::NoNode) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Topic `name`'s assignment, if the topic exists.
pub async fn read_assignment(zk: &zk::Client, name: &str) -> Result<Option<Assignment>, MetaError> {
    match zk.get_data(&topic_path(name)).await {
        Ok((data, _)) => {
            let text = String::from_utf8_lossy(&data);
            Ok(Some(Assignment::decode(&text)?))
        }
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A partition's state and the znode's version.
pub async fn read_state(
    zk: &zk::Client,
    tp: &TopicPartition,
) -> Result<Option<(PartitionState, u64)>, MetaError> {
    match zk.get_data(&state_path(tp)).await {
        Ok((data, stat)) => Ok(Some(decode_state(&data, &stat)?)),
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn decode_state(
    data: &[u8],
    stat: &zk::Stat,
) -> Result<(PartitionState, u64), MetaError> {
    let text = String::from_utf8_lossy(data);
    Ok((PartitionState::decode(&text)?, stat.version as u64))
}

/// A live broker: its broker epoch (the czxid of its registration) and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBroker {
    pub epoch: BrokerEpoch,
    pub address: String,
}

/// The registered brokers. A registration that vanishes between the listing and its read is
/// left out (its broker is gone); one that does not decode is an error.
pub async fn live_brokers(zk: &zk::Client) -> Result<BTreeMap<BrokerId, LiveBroker>, MetaError> {
    let names = match zk.get_children(BROKERS).await {
        Ok((names, _)) => names,
        Err(zk::Error::NoNode) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e.into()),
    };
    let mut live = BTreeMap::new();
    for name in names {
        let Ok(id) = name.parse::<BrokerId>() else {
            continue;
        };
        match zk.get_data(&broker_path(id)).await {
            Ok((data, stat)) => {
                let address = decode_registration(&data)?;
                let epoch = stat.czxid as BrokerEpoch;
                live.insert(id, LiveBroker { epoch, address });
            }
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(live)
}

/// Broker `id`'s address, if it is registered.
pub async fn broker_address(zk: &zk::Client, id: BrokerId) -> Result<Option<String>, MetaError> {
    match zk.get_data(&broker_path(id)).await {
        Ok((data, _)) => Ok(Some(decode_registration(&data)?)),
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The current controller, if any.
pub async fn controller(zk: &zk::Client) -> Result<Option<BrokerId>, MetaError> {
    match zk.get_data(CONTROLLER).await {
        Ok((data, _)) => {
            let text = String::from_utf8_lossy(&data);
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("broker="))
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| bad("/controller lacks broker="))?;
            Ok(Some(id))
        }
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
