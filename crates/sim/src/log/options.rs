//! A partition-log run's parameters, all drawn from its seed (each seed gets its own mix of
//! cluster shape and faults, from none to brutal).

use partition::Bug;

use crate::rng::Rng;

#[derive(Clone, Debug)]
pub struct LogOptions {
    pub seed: u64,
    pub brokers: u32,
    pub partitions: u32,
    /// Replicas per partition.
    pub replication: usize,
    /// `min.insync.replicas`.
    pub min_insync: usize,
    pub producers: u32,
    /// Batches each producer sends.
    pub batches: u64,
    /// Records per batch are drawn in `1..=batch_max`.
    pub batch_max: u64,
    /// Units between a producer's batches are drawn in `1..=produce_every`.
    pub produce_every: u64,
    pub consumers: u32,
    pub fault_units: u64,
    /// Units allowed after the heal for every partition to converge.
    pub liveness_units: u64,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    /// Message delays are drawn in `1..=delay_max` units, so messages reorder.
    pub delay_max: u64,
    /// A write becomes durable `1..=fsync_max` units after the previous one.
    pub fsync_max: u64,
    pub crashes: bool,
    pub partitions_cut: bool,
    pub pauses: bool,
    /// Mean units between faults.
    pub fault_interval: u64,
    /// A session expires after this many units without a heartbeat.
    pub session_timeout: u64,
    /// `replica.lag.time.max.ms`, in units.
    pub lag_max: u64,
    /// How long a fetch waits at the leader for records.
    pub fetch_wait: u64,
    /// A request with no answer is given up after this many units.
    pub timeout: u64,
    pub bug: Option<Bug>,
}

impl LogOptions {
    /// The run of `seed`.
    pub fn from_seed(seed: u64) -> LogOptions {
        // A generator of its own, so that the options do not shift the run's schedule.
        let mut rng = Rng::new(seed ^ 0x106_0000_0000_0003);
        let brokers = rng.between(3, 5) as u32;
        let replication = rng.between(2, 3) as usize;
        let delay_max = rng.between(2, 20);
        let fsync_max = rng.between(1, 15);
        let session_timeout = rng.between(150, 800);
        LogOptions {
            seed,
            brokers,
            partitions: rng.between(1, 3) as u32,
            replication,
            min_insync: rng.between(1, replication as u64) as usize,
            producers: rng.between(1, 3) as u32,
            batches: rng.between(5, 40),
            batch_max: rng.between(1, 4),
            produce_every: rng.between(1, 40),
            consumers: rng.below(3) as u32,
            fault_units: rng.between(400, 2_500),
            liveness_units: 30_000,
            drop_rate: if rng.chance(0.6) {
                rng.below(120) as f64 / 1000.0
            } else {
                0.0
            },
            duplicate_rate: if rng.chance(0.3) {
                rng.below(50) as f64 / 1000.0
            } else {
                0.0
            },
            delay_max,
            fsync_max,
            crashes: rng.chance(0.7),
            partitions_cut: rng.chance(0.6),
            pauses: rng.chance(0.6),
            fault_interval: rng.between(30, 300),
            session_timeout,
            lag_max: rng.between(4 * delay_max + 2 * fsync_max, 600),
            fetch_wait: rng.between(5, 60),
            timeout: rng.between(4 * delay_max + 2 * fsync_max + 60, 400),
            bug: None,
        }
    }
}
