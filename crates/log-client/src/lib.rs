//! The client of the partition log (docs/log.md, "Client and CLI").
//!
//! - [`conn`]: one pipelined connection to a broker, and the [`conn::Pool`] that reuses them.
//! - [`cluster`]: who leads a partition (through a [`cluster::Metadata`], Quorum in production),
//!   cached and forgotten when a broker says it no longer leads.
//! - [`producer`]: an idempotent producer for one topic (acks 0, 1 or all).
//! - [`consumer`]: reads one partition in order, following leader changes.
//! - [`admin`]: create and list topics, describe a topic's partitions and replicas.
//!
//! Brokers are reached only through `broker::wire`, Quorum only through the ZooKeeper protocol.

pub mod admin;
pub mod cluster;
pub mod conn;
pub mod consumer;
mod error;
pub mod producer;

pub use cluster::{Cluster, Leader, Metadata, QuorumMeta};
pub use conn::{Conn, ConnConfig, Pool};
pub use consumer::{Consumer, ConsumerConfig, StartAt};
pub use error::LogError;
pub use producer::{Delivery, Outcome, Producer, ProducerConfig};

#[cfg(test)]
mod tests;
