//! A deterministic simulator for ledgers (the `ledger` crate's writer, recovery, reader and
//! bookie state machines).
//!
//! Bookies run the real [`ledger::bookie::Bookie`] on simulated disks whose unsynced records a
//! crash loses; the metadata store is an atomic versioned znode whose replies can be lost; one
//! writer appends and may close, recoveries and readers start at random times, and links drop,
//! reorder, duplicate and get cut while clients pause. [`checks`] verifies the ledger
//! invariants at every step that can change them; after the faulty phase everything heals and
//! the ledger must close and read back whole. Everything is drawn from one seed: a failing seed
//! replays bit for bit. docs/ledgers.md, "Proving it", has the details.

pub mod bookies;
pub mod checks;
pub mod clients;
mod drive;
mod faults;
pub mod options;
pub mod sweep;
pub mod world;

pub use checks::Violation;
pub use options::LedgerOptions;
pub use sweep::{run, sweep, sweep_with, LedgerSweep};
pub use world::{LedgerReport, LedgerWorld};
