//! Everything a run does is drawn from its seed: cluster size is given, the fault mix (which
//! kinds are on and how hard) is chosen per seed, "swarm" style, so that a sweep explores
//! both gentle and brutal runs.

use zab::Bug;

use crate::rng::Rng;

/// Simulated time units per tick.
pub const UNITS_PER_TICK: u64 = 10;

#[derive(Clone, Debug)]
pub struct Options {
    pub servers: usize,
    pub seed: u64,
    /// Ticks of the faulty phase.
    pub fault_ticks: u64,
    /// Ticks allowed, after every fault healed, to elect a leader and commit on every server.
    pub liveness_ticks: u64,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    pub reorder: bool,
    /// Largest network delay, in time units (a tick is [`UNITS_PER_TICK`]).
    pub delay_max: u64,
    /// Largest fsync latency, in time units: some seeds get slow disks.
    pub fsync_max: u64,
    pub crashes: bool,
    pub torn_writes: bool,
    pub partitions: bool,
    /// Mean ticks between faults.
    pub fault_interval: u64,
    /// Take snapshots and compact logs now and then (exercises SNAP).
    pub compaction: bool,
    pub clients: usize,
    /// Mean ticks between client submissions (per client).
    pub client_interval: u64,
    pub bug: Option<Bug>,
    /// A scripted fault on top of the drawn ones: one follower cut off from everyone.
    pub isolation: Option<Isolation>,
}

/// Cut a follower off from every other server at `at_tick`, for `ticks` ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isolation {
    pub at_tick: u64,
    pub ticks: u64,
}

impl Options {
    /// The swarm: fault kinds and intensities drawn from the seed.
    pub fn from_seed(servers: usize, seed: u64) -> Options {
        let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        Options {
            servers,
            seed,
            fault_ticks: rng.between(150, 400),
            liveness_ticks: 300,
            drop_rate: if rng.chance(0.6) {
                rng.below(6) as f64 / 100.0
            } else {
                0.0
            },
            duplicate_rate: if rng.chance(0.4) {
                rng.below(4) as f64 / 100.0
            } else {
                0.0
            },
            reorder: rng.chance(0.3),
            delay_max: rng.between(1, 12),
            fsync_max: if rng.chance(0.3) {
                rng.between(10, 60)
            } else {
                UNITS_PER_TICK / 2
            },
            crashes: rng.chance(0.7),
            torn_writes: rng.chance(0.7),
            partitions: rng.chance(0.6),
            fault_interval: rng.between(2, 40),
            compaction: rng.chance(0.5),
            clients: rng.between(1, 4) as usize,
            client_interval: rng.between(1, 6),
            bug: None,
            isolation: None,
        }
    }
}
