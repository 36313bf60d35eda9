//! Partitions: each one a set of directed links it cuts, in force until it heals. A link is
//! cut while any partition in force cuts it, so partitions may overlap and heal independently
//! ([`crate::Options::overlapping_partitions`]); without overlap, a new partition heals the
//! ones in force first.

use super::{Event, World};
use crate::trace::TraceEvent;

/// One partition in force.
pub(super) struct Partition {
    id: u64,
    /// The directed links (from, to) it cuts.
    cuts: Vec<(usize, usize)>,
}

impl World {
    /// Puts a partition cutting `cuts` in force for `duration` time units; `detail` describes
    /// it in the trace.
    pub(super) fn begin_partition(
        &mut self,
        kind: &'static str,
        detail: String,
        cuts: Vec<(usize, usize)>,
        duration: u64,
    ) {
        debug_assert!(!cuts.is_empty(), "a partition that cuts nothing");
        if !self.opts.overlapping_partitions {
            self.heal_all_partitions();
        }
        if !self.partitions.is_empty() {
            self.report.faults.overlapping += 1;
        }
        self.next_partition += 1;
        let id = self.next_partition;
        self.report.partitions += 1;
        self.report.faults.links_cut += cuts.len() as u64;
        self.trace(TraceEvent::Fault {
            kind,
            detail: format!("#{id} {detail} ({} links cut)", cuts.len()),
        });
        self.partitions.push(Partition { id, cuts });
        self.recompute_blocked();
        self.schedule(duration, Event::HealPartition(id));
    }

    /// Partition `id` heals (if it is still in force). Once none is, recovery is timed.
    pub(super) fn heal_partition(&mut self, id: u64) {
        let before = self.partitions.len();
        self.partitions.retain(|p| p.id != id);
        if self.partitions.len() == before {
            return;
        }
        self.recompute_blocked();
        let still = self.partitions.len();
        self.trace(TraceEvent::Fault {
            kind: "heal",
            detail: format!("partition #{id} healed ({still} still in force)"),
        });
        if still == 0 {
            self.start_recovery_clock();
        }
    }

    pub(super) fn heal_all_partitions(&mut self) {
        let ids: Vec<u64> = self.partitions.iter().map(|p| p.id).collect();
        for id in ids {
            self.heal_partition(id);
        }
    }

    fn recompute_blocked(&mut self) {
        let n = self.nodes.len();
        self.blocked.iter_mut().for_each(|b| *b = false);
        for partition in &self.partitions {
            for &(from, to) in &partition.cuts {
                self.blocked[from * n + to] = true;
            }
        }
    }
}
