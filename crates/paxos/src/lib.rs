//! Single-decree Paxos as a pure state machine.
//!
//! Every process plays the three roles of the protocol: a [`proposer`] (which runs ballots to
//! get one value chosen), an [`acceptor`] (which promises and accepts, and is the protocol's
//! memory) and a [`learner`] (which decides). A [`Node`] takes [`Input`]s (a value to propose,
//! a retry timeout, a message, "the disk is durable up to write N") and returns [`Action`]s
//! (send, persist, decide). It never blocks, reads a clock, draws a random number or touches a
//! socket or a file — the same shape as the `zab` crate — so a deterministic simulator can run
//! it under every schedule it likes, and the demo can replay the talk's story step by step.
//!
//! The one rule the driver must keep: a [`Action::Persist`] is written in order, and
//! [`Input::Durable`] reports how far the writes are durable. The node holds back every answer
//! that depends on a write until that write is durable ([`gate`]), so what a process said is
//! never more than what it will remember after a crash.

pub mod acceptor;
pub mod ballot;
pub mod bug;
pub mod gate;
pub mod learner;
pub mod message;
pub mod node;
pub mod proposer;

pub use ballot::{Ballot, ProcessId};
pub use bug::Bug;
pub use message::{Message, Value};
pub use node::{Action, Config, Durable, Input, Node};
