//! A deterministic simulator for single-decree Paxos (the `paxos` crate).
//!
//! Processes run the real [`paxos::Node`] over a network that loses, duplicates, delays and
//! reorders messages and suffers partitions, on disks whose unsynced writes a crash loses, with
//! up to three proposers competing. [`checks`] verifies agreement, validity and integrity after
//! every step (and that no answer reveals undurable state); after the faulty phase everything
//! heals, one proposer runs alone, and every process must decide within a bound. Everything is
//! drawn from one seed: a failing seed replays bit for bit. docs/paxos.md has the details.

pub mod checks;
pub mod options;
pub mod sweep;
pub mod trace;
pub mod world;

pub use checks::Violation;
pub use options::PaxosOptions;
pub use sweep::{run, sweep, PaxosSweep};
pub use world::{PaxosReport, PaxosWorld};
