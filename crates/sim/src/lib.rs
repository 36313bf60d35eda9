//! A deterministic simulator for the Zab core.
//!
//! Servers run the real [`zab::Peer`] over a simulated network (delay, loss, duplication,
//! reordering, partitions that may overlap) and a simulated disk (unsynced writes lost or torn
//! on a crash, crashes in the middle of a snapshot install or an epoch-file write), on clocks
//! that may drift, with clients submitting transactions. A [`checker::Checker`] verifies the
//! Zab invariants after every step, and [`rules::Rules`] judges every step against the
//! protocol's per-step rules (promises kept, answers only of durable state, quorums behind
//! every decision, synchronization to the leader's history); after the faulty phase everything heals and a new
//! transaction must commit on every server within a bounded number of ticks. Everything is
//! drawn from one seed: a failing seed replays exactly.

pub mod app;
pub mod checker;
pub mod disk;
pub mod ledger;
pub mod log;
pub mod options;
pub mod paxos;
pub mod queue;
pub mod reconfig;
pub mod report;
pub mod rng;
pub mod rules;
pub mod server;
pub mod sweep;
pub mod trace;
pub mod world;

pub use checker::Violation;
pub use options::{Isolation, Options};
pub use report::{FaultCounts, Report};
pub use world::World;

/// Runs one seed without tracing.
pub fn run(opts: Options) -> Report {
    World::new(opts, None).run().0
}
