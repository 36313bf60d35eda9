//! A ledger run's parameters, all drawn from its seed ("swarm" style: each seed gets its own
//! mix of ledger shape and faults, from none to brutal).

use ledger::Bug;

use crate::rng::Rng;

/// The ledger shapes a sweep draws from: (E, Qw, Qa).
pub const SHAPES: [(usize, usize, usize); 9] = [
    (3, 3, 2),
    (3, 2, 2),
    (3, 3, 3),
    (4, 3, 2),
    (5, 3, 2),
    (3, 2, 1),
    (2, 2, 1),
    (5, 5, 3),
    (4, 2, 2),
];

/// Everything one run does, apart from the schedule itself (which the seed's generator drives).
#[derive(Clone, Debug)]
pub struct LedgerOptions {
    pub seed: u64,
    /// Bookies in the cluster (E plus spares the writer can replace failed ones with).
    pub bookies: usize,
    pub ensemble: usize,
    pub write_quorum: usize,
    pub ack_quorum: usize,
    /// Entries the writer's application appends.
    pub entries: u64,
    /// Units between appends are drawn in `1..=append_every`.
    pub append_every: u64,
    /// The writer's `max_pending_entries`.
    pub max_pending: usize,
    /// The writer closes the ledger itself after its last append.
    pub writer_closes: bool,
    /// Recoveries started during the faulty phase (another starts at the heal if needed).
    pub recoveries: usize,
    /// Plain readers started during the faulty phase.
    pub readers: usize,
    /// Time units of the faulty phase; then everything heals.
    pub fault_units: u64,
    /// Units allowed after the heal for the ledger to be closed and read back whole.
    pub liveness_units: u64,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    /// Network delays are drawn in `1..=delay_max` units per message, so messages reorder.
    pub delay_max: u64,
    /// A bookie's write becomes durable `1..=fsync_max` units after its previous one.
    pub fsync_max: u64,
    pub crashes: bool,
    pub partitions: bool,
    /// Clients (the writer above all) freeze for a while, as in a long GC pause.
    pub pauses: bool,
    /// Mean units between faults.
    pub fault_interval: u64,
    /// A client judges a bookie failed when a request gets no answer in this many units.
    pub timeout: u64,
    /// Check *fence holds* (see `checks`); turned off only to show which broken variants the
    /// end-to-end invariants catch on their own.
    pub fence_check: bool,
    pub bug: Option<Bug>,
}

impl LedgerOptions {
    /// The run of `seed`.
    pub fn from_seed(seed: u64) -> LedgerOptions {
        // A generator of its own, so that the options do not shift the run's schedule.
        let mut rng = Rng::new(seed ^ 0x1ed9_e700_0000_0001);
        let (ensemble, write_quorum, ack_quorum) = SHAPES[rng.below(SHAPES.len() as u64) as usize];
        let delay_max = rng.between(2, 30);
        let fsync_max = rng.between(1, 20);
        let fault_units = rng.between(300, 2_500);
        LedgerOptions {
            seed,
            bookies: ensemble + rng.below(3) as usize,
            ensemble,
            write_quorum,
            ack_quorum,
            entries: rng.between(1, 60),
            append_every: rng.between(1, 60),
            max_pending: rng.between(1, 20) as usize,
            writer_closes: rng.chance(0.5),
            recoveries: rng.below(3) as usize,
            readers: rng.below(4) as usize,
            fault_units,
            liveness_units: 20_000,
            drop_rate: if rng.chance(0.6) {
                rng.below(150) as f64 / 1000.0
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
            partitions: rng.chance(0.6),
            pauses: rng.chance(0.6),
            fault_interval: rng.between(20, 250),
            timeout: rng.between(
                2 * delay_max + fsync_max,
                6 * delay_max + 8 * fsync_max + 40,
            ),
            fence_check: true,
            bug: None,
        }
    }
}
