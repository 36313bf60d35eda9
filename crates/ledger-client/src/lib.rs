//! The ledger client library (see docs/ledgers.md): ledger metadata kept in Quorum ([`meta`]),
//! connections to bookies ([`bookies`], [`redial`]), and the drivers that run the `ledger` crate's state
//! machines against them: [`writer`], [`recovery`], [`reader`].

pub mod bookies;
pub mod log;
pub mod meta;
pub mod open;
pub mod reader;
pub mod recovery;
pub mod redial;
pub mod watchdog;
pub mod writer;

pub use meta::{MetaError, MetaStore, Versioned};
pub use writer::{LedgerWriter, WriteError, WriteOptions};
