//! Local ensembles of `quorum server` processes, launched one way for every caller: `quorum dev`,
//! `quorum chaos`, the Rust integration tests and (through `quorum dev --configure-only`) the
//! Python ensemble tests.
//!
//! Each caller used to write its own zoo.cfg, myid and peer secret files, pick its own ports and
//! spawn, pause and kill its own children; they drifted apart (one forgot `forceSync`, another a
//! process group). Here an [`EnsembleSpec`] says what to run, [`EnsembleSpec::plan`] chooses the
//! ports (a [`Plan`], where a caller that proxies peer links routes them), [`Plan::write`] writes
//! the folder, and the resulting [`Ensemble`] starts, kills, pauses and probes its servers and
//! SIGKILLs them all when dropped.
//!
//! Servers are numbered from 1, as in zoo.cfg. The folder holds `peer.secret` and, per server,
//! `sN/zoo.cfg`, `sN/data` (with `myid`) and `sN/server.log`; scripts rely on that layout.

mod config;
mod describe;
mod ensemble;
mod plan;
pub mod ports;
pub mod probe;
mod process;
mod spec;

pub use describe::{Description, LinkDescription, ServerDescription};
pub use ensemble::Ensemble;
pub use plan::Plan;
pub use spec::{EnsembleSpec, Ports};

/// Every server listens on loopback only.
pub const HOST: &str = "127.0.0.1";
