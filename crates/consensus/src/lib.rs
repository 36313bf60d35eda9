//! Consensus through the service, and why compare-and-swap is needed (issue 13).
//!
//! Two halves, both clients-only (nothing here reaches into the server):
//! - [`propose`]: a process proposes a value against a live ensemble and learns the one decided
//!   value. The decision is the first successful `create` of a decision znode; everyone else
//!   (and a proposer whose reply was lost) reads it. See docs/consensus.md.
//! - [`model`] and [`protocols`]: a small, pure, exhaustive model checker for wait-free
//!   consensus protocols over a shared object, with a library of candidate protocols over a
//!   plain key-value store (put/get/delete: each has a counterexample schedule) and over a
//!   store with a conditional write (no schedule breaks it, for 2 and 3 processes).

pub mod model;
pub mod propose;
pub mod protocols;

pub use propose::{propose, ProposeOptions};
