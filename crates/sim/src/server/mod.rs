//! The real server under deterministic simulation (`quorum sim --level server`): N server
//! cores (crates/server-core, the code the server runs) over simulated disks and links, with
//! simulated clients that pipeline every kind of request, under crashes, power loss, silent
//! partitions, lossy links, slow and torn disks and drifting clocks; checked after every step.
//! See docs/simulation.md.

mod checks;
mod client;
mod clients;
mod faults;
mod history;
mod net;
mod node;
pub mod options;
mod servers;
pub mod storage;
pub mod sweep;
pub mod trace;
mod watches;
mod workload;
mod world;

pub use options::ServerOptions;
pub use trace::Trace;
pub use world::{Violation, World};

/// The outcome of one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub servers: usize,
    pub events: u64,
    pub simulated_ms: u64,
    pub requests: u64,
    pub client_frames: u64,
    pub peer_frames: u64,
    pub peer_frames_lost: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub moves: u64,
    pub sessions_closed: u64,
    pub sessions_expired: u64,
    /// Connections a read-only server accepted.
    pub read_only_sessions: u64,
    pub stopped_reading: u64,
    pub connections_closed: u64,
    pub register_ops: u64,
    /// Snapshots a leader serialized for a follower's SNAP, off its event loop.
    pub peer_snapshots: u64,
    /// From healing to everything answered and converged.
    pub settle_ms: u64,
    pub violation: Option<Violation>,
}

/// Runs one seed, untraced; a panic in the server is a violation too.
pub fn run(opts: ServerOptions) -> Report {
    let (seed, servers) = (opts.seed, opts.servers);
    match std::panic::catch_unwind(move || World::new(opts, Trace::off()).run().0) {
        Ok(report) => report,
        Err(panic) => Report {
            seed,
            servers,
            violation: Some(Violation {
                check: "panic",
                detail: panic_message(&panic),
            }),
            ..Report::default()
        },
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}
