//! Everything a run does is drawn from its seed: cluster size is given, the fault mix (which
//! kinds are on and how hard) is chosen per seed, "swarm" style, so that a sweep explores
//! both gentle and brutal runs.

use zab::Bug;

use crate::rng::Rng;

/// Simulated time units per tick.
pub const UNITS_PER_TICK: u64 = 10;

#[derive(Clone, Debug)]
pub struct Options {
    /// Voting servers.
    pub servers: usize,
    /// Observers beside them (non-voting learners, ids after the voters'); not drawn from the
    /// seed: a sweep chooses how many.
    pub observers: usize,
    /// Servers outside the initial configuration (ids after the observers'), each started
    /// with it plus itself as an observer, as a server about to be added is: reconfigurations
    /// bring them in and out. Not drawn from the seed.
    pub spares: usize,
    /// Reconfigurations join the fault mix (add, remove and replace voters, grow, shrink,
    /// promote and demote observers). Not drawn from the seed.
    pub reconfig: bool,
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
    /// A new partition may strike while others are in force; each heals on its own. Without
    /// it, a new partition heals the one in force first.
    pub overlapping_partitions: bool,
    /// While faults are on, a server installing a SNAP's snapshot may crash in the middle of
    /// it (with probability [`CRASH_MID_INSTALL`]).
    pub crash_mid_install: bool,
    /// While faults are on, a server writing an epoch file may crash in the middle of it (with
    /// probability [`CRASH_MID_EPOCH_WRITE`]).
    pub crash_mid_epoch_write: bool,
    /// Each server's clock runs at its own rate, within this many per mille of the nominal
    /// tick (0: all tick at the same rate). Timeouts, counted in ticks, expire early on a fast
    /// clock and late on a slow one.
    pub clock_drift_permille: u64,
    /// Check the per-step protocol rules (`crate::rules`) as well as the end-to-end
    /// invariants. Off only to show that an end-to-end invariant catches a broken core on its
    /// own (the rules would otherwise report it first).
    pub step_rules: bool,
    /// Payloads each server keeps in memory ([`zab::Config::history_tail_txns`]): a few, so
    /// that most DIFFs read the log (`Action::ReadLog`), answered after a random delay.
    pub history_tail_txns: usize,
    /// Log reads fail ([`FAILED_LOG_READ`]) and are slow ([`SLOW_LOG_READ`]) now and then. On
    /// in every seed; off where a test times recoveries on a fast disk.
    pub log_read_faults: bool,
}

/// The chance that a log read for a follower's DIFF fails (the leader must send SNAP).
pub const FAILED_LOG_READ: f64 = 0.1;
/// The chance that a log read is slow: answered within [`SLOW_LOG_READ_TICKS`], past the
/// follower's initLimit at times (it rejoins and asks again while the first read finishes).
pub const SLOW_LOG_READ: f64 = 0.05;
/// The longest a slow log read takes, in ticks.
pub const SLOW_LOG_READ_TICKS: u64 = 30;
/// The chance that a SNAP install crashes midway, when [`Options::crash_mid_install`] is on.
pub const CRASH_MID_INSTALL: f64 = 0.5;
/// The chance that an epoch-file write crashes midway, when
/// [`Options::crash_mid_epoch_write`] is on.
pub const CRASH_MID_EPOCH_WRITE: f64 = 0.05;

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
        let mut opts = Options {
            servers,
            observers: 0,
            spares: 0,
            reconfig: false,
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
            overlapping_partitions: false,
            crash_mid_install: false,
            crash_mid_epoch_write: false,
            clock_drift_permille: 0,
            step_rules: true,
            history_tail_txns: 0,
            log_read_faults: true,
        };
        // Drawn last, so that the draws above (and the runs of seeds without these faults)
        // stay what they were before these faults existed.
        opts.overlapping_partitions = opts.partitions && rng.chance(0.5);
        opts.crash_mid_install = rng.chance(0.5);
        opts.crash_mid_epoch_write = rng.chance(0.3);
        opts.clock_drift_permille = if rng.chance(0.3) {
            rng.between(5, 100)
        } else {
            0
        };
        opts.history_tail_txns = rng.between(1, 8) as usize;
        opts
    }
}
