//! The broker of the partition log (see docs/log.md): the parts that touch bytes.
//!
//! - [`store`]: one partition's log on disk ([`store::PartitionStore`]), over the segmented,
//!   checksummed [`storage::FileTxnLog`], and the layout of a broker's data directory.
//! - [`wire`]: the broker's TCP codec (requests to a partition's replica, their answers).
//! - [`batch_codec`]: the one encoding of a batch, shared by the store and the wire, so a
//!   fetch can be answered with the bytes as stored.
//!
//! - [`meta`]: the partition log's metadata in Quorum.
//! - [`server`]: the broker itself, the tokio driver of `partition::Replica` and
//!   `partition::Controller`.

pub mod batch_codec;
pub mod meta;
mod reader;
pub mod server;
pub mod store;
pub mod topic;
pub mod wire;
