//! A Paxos run's parameters, all drawn from its seed ("swarm" style: each seed gets its own
//! mix of faults, from none to brutal).

use paxos::Bug;

use crate::rng::Rng;

/// Everything one run does, apart from the schedule itself (which the seed's generator drives).
#[derive(Clone, Debug)]
pub struct PaxosOptions {
    /// Acceptors (every process is also a learner; the first `proposers` also propose).
    pub acceptors: usize,
    pub seed: u64,
    /// Competing proposers, each with its own value (`v1`, `v2`, ...).
    pub proposers: usize,
    /// Time units of the faulty phase; then everything heals.
    pub fault_units: u64,
    /// Time units allowed after the heal, with one proposer alone, for every process to decide.
    pub liveness_units: u64,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    /// Network delays are drawn in `1..=delay_max` units per message, so messages reorder.
    pub delay_max: u64,
    /// A write becomes durable `1..=fsync_max` units after the previous one did.
    pub fsync_max: u64,
    pub crashes: bool,
    pub partitions: bool,
    /// Mean units between faults.
    pub fault_interval: u64,
    /// A proposer's retry timeout is drawn in `timeout_min..=2 * timeout_min` each time (the
    /// jitter is what eventually separates duelling proposers).
    pub timeout_min: u64,
    pub bug: Option<Bug>,
}

impl PaxosOptions {
    /// The run of `seed` on `acceptors` acceptors.
    pub fn from_seed(acceptors: usize, seed: u64) -> PaxosOptions {
        // A generator of its own, so that the options do not shift the run's schedule.
        let mut rng = Rng::new(seed ^ 0x9a05_0000_0000_0001);
        let proposers = rng.between(1, acceptors.min(3) as u64) as usize;
        let delay_max = rng.between(2, 40);
        let fsync_max = rng.between(1, 30);
        // A ballot's round trip: two message delays and two writes per phase, two phases.
        let round_trip = 4 * delay_max + 4 * fsync_max;
        PaxosOptions {
            acceptors,
            seed,
            proposers,
            fault_units: rng.between(300, 2_000),
            liveness_units: 4_000,
            drop_rate: if rng.chance(0.7) {
                rng.below(200) as f64 / 1000.0
            } else {
                0.0
            },
            duplicate_rate: if rng.chance(0.5) {
                rng.below(60) as f64 / 1000.0
            } else {
                0.0
            },
            delay_max,
            fsync_max,
            crashes: rng.chance(0.8),
            partitions: rng.chance(0.7),
            fault_interval: rng.between(20, 200),
            timeout_min: rng.between(round_trip / 2, 2 * round_trip + 40),
            bug: None,
        }
    }
}
