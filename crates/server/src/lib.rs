//! The Quorum server: the core (crates/server-core, re-exported here) driven with tokio —
//! client connections, peer links with their authenticated handshake, the metrics endpoint and
//! the AdminServer (both over one small HTTP module), and the replica's storage over files with
//! its writer threads.
//!
//! [`run`] is the driver: it reads the clock, hands events to the core one at a time and
//! carries out what the core decides; [`connection`] and [`peers`] only move bytes.

pub mod accept;
pub mod accept_backoff;
pub mod admin;
pub mod connection;
pub mod events;
pub mod fds;
pub mod http;
pub mod metrics;
pub mod off_thread;
pub mod peers;
pub mod replica;
pub mod run;
pub mod tls;
pub mod view_request;

pub use server_core::{
    answers, clients, clock, config, core, four_letter_words, handshake, limits, pending_writes,
    reads, session, sessions, state, stats, watches,
};

pub use run::{run, ServerError};
