//! What one run did: the totals a sweep adds up, the faults by kind (what each one actually
//! did), and the violation, if any.

use std::fmt;

use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;

/// The outcome of one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub servers: usize,
    pub events: u64,
    pub ticks: u64,
    pub messages: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Servers that went down (every kind of crash fault).
    pub crashes: u64,
    /// Partitions begun (drawn or scripted).
    pub partitions: u64,
    pub deliveries: u64,
    pub committed: u64,
    pub elections: u64,
    pub established: u64,
    pub syncs_diff: u64,
    pub syncs_trunc: u64,
    pub syncs_snap: u64,
    /// Log reads for DIFFs older than the payloads held in memory, and those refused (failed
    /// or not matching: the follower got a SNAP).
    pub log_reads: u64,
    pub log_reads_refused: u64,
    /// Partition heals timed until one leader and every other server followed it in broadcast
    /// (heals followed by another fault first are not counted).
    pub recoveries: u64,
    /// Sum and largest of those times, in time units (a tick is [`UNITS_PER_TICK`]).
    pub recovery_units_total: u64,
    pub recovery_units_max: u64,
    pub faults: FaultCounts,
    /// Reconfigurations proposed by a leader, refused, and activations (one per server that
    /// changed its configuration in force).
    pub reconfigs_proposed: u64,
    pub reconfigs_refused: u64,
    pub reconfigs_activated: u64,
    pub violation: Option<Violation>,
}

impl Report {
    /// The longest recovery after a heal, in ticks.
    pub fn recovery_ticks_max(&self) -> f64 {
        self.recovery_units_max as f64 / UNITS_PER_TICK as f64
    }
}

/// Faults by kind, counting what each did (not what was drawn): a fault that could not do
/// what its name says at the moment it was due was not injected and is counted as deferred.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// A server that was up crashed (and restarts later).
    pub crash: u64,
    /// The leader (a server in a leading phase) crashed.
    pub crash_leader: u64,
    /// Every server lost power at once; `power_loss_servers` of them were up.
    pub power_loss: u64,
    pub power_loss_servers: u64,
    /// Partitions by shape: two sides cut both ways; one side cut off from sending to the
    /// other; the leader cut off from everyone; two sides cut from each other while one server
    /// (the bridge) talks to both.
    pub split: u64,
    pub one_way: u64,
    pub isolate_leader: u64,
    pub bridge: u64,
    /// Scripted isolations of a follower (`Options::isolation`).
    pub isolate_follower: u64,
    /// Directed links those partitions cut (each cuts at least one).
    pub links_cut: u64,
    /// Partitions begun while another one was in force (each heals on its own).
    pub overlapping: u64,
    /// Crashes in the middle of installing a SNAP's snapshot: with the snapshot file half
    /// written (the old snapshot and log survive), or written but the log not yet reset.
    pub install_half_written: u64,
    pub install_log_not_reset: u64,
    /// Crashes in the middle of writing an epoch file, which then holds the old value or the
    /// new one.
    pub epoch_write_old_kept: u64,
    pub epoch_write_new_kept: u64,
    /// Servers whose clock runs at its own rate, and the largest drift among them (per mille).
    pub drifting_servers: u64,
    pub drift_permille_max: u64,
    /// Fault times at which no enabled kind could do what it says (tried again at the next).
    pub deferred: u64,
}

impl FaultCounts {
    pub fn add(&mut self, other: &FaultCounts) {
        self.crash += other.crash;
        self.crash_leader += other.crash_leader;
        self.power_loss += other.power_loss;
        self.power_loss_servers += other.power_loss_servers;
        self.split += other.split;
        self.one_way += other.one_way;
        self.isolate_leader += other.isolate_leader;
        self.bridge += other.bridge;
        self.isolate_follower += other.isolate_follower;
        self.links_cut += other.links_cut;
        self.overlapping += other.overlapping;
        self.install_half_written += other.install_half_written;
        self.install_log_not_reset += other.install_log_not_reset;
        self.epoch_write_old_kept += other.epoch_write_old_kept;
        self.epoch_write_new_kept += other.epoch_write_new_kept;
        self.drifting_servers += other.drifting_servers;
        self.drift_permille_max = self.drift_permille_max.max(other.drift_permille_max);
        self.deferred += other.deferred;
    }

    /// Partitions of every shape.
    pub fn partitions(&self) -> u64 {
        self.split + self.one_way + self.isolate_leader + self.bridge + self.isolate_follower
    }
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  crash {}, crash-leader {}, power-loss {} ({} servers down)",
            self.crash, self.crash_leader, self.power_loss, self.power_loss_servers
        )?;
        writeln!(
            f,
            "  partitions: split {}, one-way {}, isolate-leader {}, bridge {}, isolate-follower {} \
             ({} directed links cut; {} overlapping another)",
            self.split,
            self.one_way,
            self.isolate_leader,
            self.bridge,
            self.isolate_follower,
            self.links_cut,
            self.overlapping
        )?;
        writeln!(
            f,
            "  crash mid-install of a SNAP: {} snapshot half written, {} written with the log not reset",
            self.install_half_written, self.install_log_not_reset
        )?;
        writeln!(
            f,
            "  crash mid epoch-file write: {} kept the old value, {} the new",
            self.epoch_write_old_kept, self.epoch_write_new_kept
        )?;
        write!(
            f,
            "  clock drift: {} servers (up to {}‰); deferred (nothing could do what it says): {}",
            self.drifting_servers, self.drift_permille_max, self.deferred
        )
    }
}
