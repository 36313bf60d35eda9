//! Zab, the atomic broadcast protocol of ZooKeeper, as a pure state machine.
//!
//! A [`Peer`] takes [`Input`]s (peer messages, ticks of logical time, "the log is durable up to
//! zxid Z", snapshots) and returns [`Action`]s (send, persist, append, truncate, deliver, role
//! changes). It never blocks, reads a clock, draws a random number or touches a socket or a
//! file, so the very same code runs in the server and in the deterministic simulator. See
//! [`io`] for the contract a driver must keep, and docs/protocol.md for the protocol.

pub mod config;
mod election;
mod follower;
pub mod history;
pub mod io;
mod leader;
pub mod membership;
pub mod message;
mod peer;
pub mod stats;
pub mod types;

pub use config::{Bug, Config};
pub use io::{Action, Boot, Input, NotLeader, Phase, ReconfigRefused};
pub use leader::MAX_LOG_READS_IN_FLIGHT;
pub use membership::{Decoder, Membership};
pub use message::{Message, Notification, PeerState, Vote};
pub use peer::Peer;
pub use stats::Stats;
pub use types::{Epoch, ServerId, Snapshot, Txn, Zxid};
