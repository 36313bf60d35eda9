//! The Quorum server: configuration, client connections, sessions, watches, the request
//! pipeline (reads answered locally, writes prepped into transactions and broadcast with Zab),
//! and the Zab driver over real storage.

pub mod accept_backoff;
pub mod config;
pub mod connection;
pub mod core;
pub mod events;
pub mod four_letter_words;
pub mod handshake;
pub mod metrics;
pub mod peers;
pub mod reads;
pub mod replica;
pub mod run;
pub mod session;
pub mod state;
pub mod stats;
pub mod watches;

pub use run::{run, ServerError};
