//! The ledger client library (see docs/ledgers.md): ledger metadata kept in Quorum ([`meta`]).

pub mod meta;

pub use meta::{MetaError, MetaStore, Versioned};
