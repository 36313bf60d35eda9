//! What one server-level run does, drawn from its seed ("swarm" testing: each seed picks its
//! own fault mix and load, so a sweep explores gentle and brutal runs alike).

use crate::rng::Rng;

/// Microseconds: the world's unit of time.
pub type Micros = u64;

pub const MS: Micros = 1_000;

/// Mixed into the seed for the history tail's draw (its own stream of the seed's randomness).
const HISTORY_TAIL_DRAW: u64 = 0x7461_696c;
/// Mixed into the seed for the read-only draw (its own stream of the seed's randomness).
const READ_ONLY_DRAW: u64 = 0x524f_4e4c_5953_4545;

/// The knobs of one run.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub servers: usize,
    pub seed: u64,
    /// The servers' tickTime.
    pub tick: Micros,
    /// How long faults are injected; then everything heals.
    pub faulty: Micros,
    /// After healing: every request on an open connection must be answered, and a new write
    /// must commit everywhere, within this.
    pub liveness: Micros,
    pub clients: usize,
    /// Largest burst of requests a client sends back to back.
    pub pipeline_max: usize,
    /// Mean time between a client's bursts.
    pub client_interval: Micros,
    /// Network: one-way delay bounds, loss/duplication/reordering of Zab's messages (the
    /// server's own frames ride TCP: in order, lost only with their link).
    pub delay_max: Micros,
    pub zab_drop_rate: f64,
    pub zab_duplicate_rate: f64,
    pub zab_reorder: bool,
    /// Disk: the slowest fsync; whether a crash tears the unsynced tail.
    pub fsync_max: Micros,
    pub torn_writes: bool,
    pub crashes: bool,
    pub partitions: bool,
    /// Mean time between faults.
    pub fault_interval: Micros,
    /// Largest clock drift between servers, in parts per million.
    pub drift_ppm_max: u64,
    /// Transactions between snapshots (small: SNAP syncs and recovery from snapshots happen).
    pub snap_count: u64,
    /// Small per-connection bounds, so that clients that stop reading hit them.
    pub tight_limits: bool,
    /// The broken server variant to run (tests of the checkers; needs the `bugs` feature).
    pub bug: Option<server_core::bugs::ServerBug>,
    /// Read-only mode on every server (with local sessions), and every other client accepting
    /// a read-only server: servers cut off by partitions serve those clients read-only.
    pub read_only: bool,
    /// Payloads each server keeps in memory ([`zab::Config::history_tail_txns`]): a few, so
    /// that most DIFFs read the log through the storage.
    pub history_tail_txns: usize,
}

impl ServerOptions {
    pub fn from_seed(servers: usize, seed: u64) -> ServerOptions {
        let mut rng = Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5345_5256);
        let tick = 100 * MS;
        ServerOptions {
            servers,
            seed,
            tick,
            faulty: rng.between(30, 80) * tick,
            liveness: 200 * tick,
            clients: rng.between(2, 6) as usize,
            pipeline_max: if rng.chance(0.15) {
                200
            } else {
                rng.between(2, 20) as usize
            },
            client_interval: rng.between(20, 150) * MS,
            delay_max: rng.between(200, 3_000),
            zab_drop_rate: if rng.chance(0.5) {
                rng.below(5) as f64 / 100.0
            } else {
                0.0
            },
            zab_duplicate_rate: if rng.chance(0.3) {
                rng.below(3) as f64 / 100.0
            } else {
                0.0
            },
            zab_reorder: rng.chance(0.3),
            fsync_max: if rng.chance(0.3) {
                rng.between(5, 40) * MS
            } else {
                2 * MS
            },
            torn_writes: rng.chance(0.7),
            crashes: rng.chance(0.7),
            partitions: rng.chance(0.6),
            fault_interval: rng.between(5, 40) * tick,
            drift_ppm_max: if rng.chance(0.5) {
                rng.between(0, 20_000)
            } else {
                0
            },
            snap_count: rng.between(20, 400),
            tight_limits: rng.chance(0.3),
            bug: None,
            // Drawn apart from the rest, so that adding it changed no seed's other knobs.
            read_only: Rng::new(seed ^ READ_ONLY_DRAW).chance(0.4),
            history_tail_txns: Rng::new(seed ^ HISTORY_TAIL_DRAW).between(1, 16) as usize,
        }
    }
}
