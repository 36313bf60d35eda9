//! A deterministic simulator for the partition log (the `partition` crate's replica and
//! controller state machines).
//!
//! Brokers run the real [`partition::Replica`] for each partition they hold and, one at a time,
//! the real [`partition::Controller`], on simulated disks whose unsynced batches a crash loses.
//! Quorum is modelled as what the brokers see of it: a linearizable store of registrations
//! (ephemeral, tied to sessions that expire when heartbeats stop), the `/controller` znode, the
//! controller epoch and the partition state znodes, with conditional writes and change
//! notifications that can be late or lost. Producers (idempotent, acks 0/1/all) and consumers
//! run throughout; links drop, delay, duplicate and get cut; brokers crash, restart and pause.
//! [`checks`] verifies the invariants after every step; after the faulty phase everything heals
//! and every partition must converge. Everything is drawn from one seed: a failing seed replays
//! bit for bit. docs/log.md, "How it is proved", has the details.

mod brokers;
pub mod checks;
mod clients;
mod faults;
pub mod options;
mod store;
pub mod sweep;
pub mod world;

pub use checks::Violation;
pub use options::LogOptions;
pub use sweep::{run, sweep, sweep_with, LogSweep};
pub use world::{LogReport, LogWorld};
