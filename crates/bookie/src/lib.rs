//! The bookie server of BookKeeper-style ledgers (docs/ledgers.md).
//!
//! The protocol's rules live in `ledger::bookie` as a pure state machine; this crate gives it a
//! disk and a network: [`store`] (journal with group commit, entry log, index, ledger facts,
//! checkpoints and recovery), [`wire`] (the TCP codec) and [`server`] (the tokio driver with
//! its bounds, and registration in Quorum).

pub mod register;
pub mod server;
pub mod store;
pub mod wire;

/// The protocol crate whose messages and rules this server carries, re-exported so that users
/// of the codec name one version of it.
pub use ledger;
