//! BookKeeper-style ledgers as pure state machines (see docs/ledgers.md).
//!
//! A ledger is an append-only sequence of entries with exactly one writer, striped over an
//! ensemble of bookies; its metadata lives in a Quorum znode and changes only by compare-and-swap.
//! This crate holds the protocol's decisions and nothing else: the [`bookie`]'s rules, the
//! [`metadata`] and its encoding, [`striping`], and the client side's state machines. It never
//! blocks, reads a clock, draws a random number or touches a socket or a file, so the bookie
//! server, the client library and the deterministic simulator all run this same code.

pub mod bookie;
pub mod bug;
pub mod cas;
pub mod ids;
pub mod message;
pub mod metadata;
pub mod reader;
pub mod recovery;
pub mod striping;
pub mod writer;

pub use bug::{Bug, Injected};
pub use cas::CasResult;
pub use ids::{BookieId, EntryId, LedgerId};
pub use message::{Refusal, Request, Response};
pub use metadata::{Fragment, LedgerMetadata, LedgerState};
pub use reader::{Reader, ReaderAction, ReaderInput};
pub use recovery::{Recovery, RecoveryAction, RecoveryInput};
pub use writer::{AppendRefusal, Writer, WriterAction, WriterConfig, WriterError, WriterInput};
