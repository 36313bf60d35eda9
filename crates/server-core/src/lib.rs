//! The Quorum server's core: everything the server decides, with no IO.
//!
//! [`core::Core`] takes events (a client's request, a frame from another server, a tick, "the
//! log is durable up to z") with the time, and decides: sessions, routing, prep, syncs, watches,
//! the order of every connection's answers and every client's budget. What it decides leaves as
//! effects ([`clients::ClientEffect`], frames for other servers) and as calls on its
//! [`replica::Storage`]. The server (crates/server) drives it with tokio, sockets and files;
//! the simulator with simulated ones. There is no second implementation to keep in step.

pub mod answers;
pub mod bugs;
pub mod clients;
pub mod clock;
pub mod config;
pub mod core;
pub mod four_letter_words;
pub mod handshake;
pub mod limits;
pub mod local_sessions;
mod mix;
pub mod peers;
pub mod pending_writes;
pub mod prepped;
pub mod read_only;
pub mod reads;
pub mod reconfig;
pub mod replica;
pub mod session;
pub mod sessions;
pub mod state;
pub mod stats;
pub mod watches;
