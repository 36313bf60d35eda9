//! The Quorum server: configuration, client connections, sessions, watches, the request
//! pipeline (reads answered locally, writes prepped into transactions and broadcast with Zab),
//! and the Zab driver over real storage.
//!
//! The core ([`core::Core`], with [`state::ServerState`] and [`clients::Clients`]) decides
//! everything and does no IO; [`run`] drives it with tokio, [`connection`] and [`peers`] move
//! bytes.

pub mod accept_backoff;
pub mod answers;
pub mod clients;
pub mod clock;
pub mod config;
pub mod connection;
pub mod core;
pub mod events;
pub mod fds;
pub mod four_letter_words;
pub mod handshake;
pub mod limits;
pub mod metrics;
pub mod peers;
pub mod pending_writes;
pub mod reads;
pub mod replica;
pub mod run;
pub mod session;
pub mod sessions;
pub mod state;
pub mod stats;
pub mod watches;

pub use run::{run, ServerError};
