//! A Kafka-style replicated partition log as pure state machines (see docs/log.md).
//!
//! Brokers copy records among themselves; the configuration of each partition (leader, leader
//! epoch, in-sync replicas) lives in a Quorum znode that only the controller writes, by
//! compare-and-swap fenced by its controller epoch. This crate holds the protocol's decisions
//! and nothing else: the [`state`] encodings, the leader-[`epochs`] cache, the [`producers`]
//! table, a [`Replica`] in its leader and follower roles, and the [`Controller`]. It never
//! blocks, reads a clock, draws a random number or touches a socket or file, so the broker, the
//! client and the deterministic simulator all run this same code.

pub mod batch;
pub mod bug;
pub mod controller;
pub mod epochs;
mod follower;
pub mod ids;
mod leader;
pub mod message;
pub mod producers;
pub mod replica;
pub mod state;

pub use batch::{Batch, BatchHeader, Producer};
pub use bug::{Bug, Injected};
pub use controller::{
    Controller, ControllerAction, ControllerConfig, ControllerInput, WriteResult,
};
pub use epochs::EpochCache;
pub use ids::{BrokerEpoch, BrokerId, LeaderEpoch, Offset, ProducerId, TopicPartition};
pub use message::{Acks, ErrorCode, ReplicaFetch, Request, Response};
pub use replica::{Action, Input, Recovered, Replica, ReplicaConfig, RoleView, Token};
pub use state::{Assignment, IsrRequest, Member, PartitionState};

#[cfg(test)]
mod controller_tests;
#[cfg(test)]
mod replica_tests;
