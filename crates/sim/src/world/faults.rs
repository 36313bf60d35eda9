//! The fault generator: crashes, power loss and partitions, drawn from the run's seed.

use super::{Event, World};
use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;
use crate::trace::TraceEvent;

impl World {
    pub(super) fn heal_partitions(&mut self) {
        if self.blocked.iter().any(|&b| b) {
            self.trace(TraceEvent::Fault {
                kind: "heal",
                detail: "partition healed".into(),
            });
            self.start_recovery_clock();
        }
        self.blocked.iter_mut().for_each(|b| *b = false);
        self.partition_generation += 1;
    }

    pub(super) fn inject_fault(&mut self) -> Result<(), Violation> {
        let n = self.nodes.len();
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend(["crash", "crash-leader", "crash", "power-loss"]);
        }
        if self.opts.partitions {
            kinds.extend(["split", "one-way", "isolate-leader", "bridge"]);
        }
        if kinds.is_empty() {
            return Ok(());
        }
        self.abandon_recovery_clock();
        let kind = self.rng.pick(&kinds);
        let leader = self.nodes.iter().position(|node| {
            node.peer
                .as_ref()
                .is_some_and(|p| p.leader() == Some(node.id))
        });
        match kind {
            "power-loss" => {
                // Every server loses power at once: only what each fsynced survives.
                self.trace(TraceEvent::Fault {
                    kind: "power-loss",
                    detail: "all servers".into(),
                });
                for victim in 0..n {
                    self.crash(victim);
                    let delay = self.rng.between(1, 30 * UNITS_PER_TICK);
                    self.schedule(delay, Event::Restart(victim));
                }
            }
            "crash" | "crash-leader" => {
                let victim = match (kind, leader) {
                    ("crash-leader", Some(l)) => l,
                    _ => self.rng.below(n as u64) as usize,
                };
                self.crash(victim);
                let delay = self.rng.between(UNITS_PER_TICK, 40 * UNITS_PER_TICK);
                self.schedule(delay, Event::Restart(victim));
            }
            _ => {
                self.heal_partitions();
                let mut side = vec![false; n];
                match (kind, leader) {
                    ("isolate-leader", Some(l)) => side[l] = true,
                    _ => {
                        let size = self.rng.between(1, n as u64 - 1) as usize;
                        for _ in 0..size {
                            let k = self.rng.below(n as u64) as usize;
                            side[k] = true;
                        }
                    }
                }
                let bridge = (kind == "bridge").then(|| self.rng.below(n as u64) as usize);
                let one_way = kind == "one-way";
                for a in 0..n {
                    for b in 0..n {
                        let cut = side[a] && !side[b] || (!one_way && !side[a] && side[b]);
                        if cut && bridge != Some(a) && bridge != Some(b) {
                            self.blocked[a * n + b] = true;
                        }
                    }
                }
                self.report.partitions += 1;
                let detail = format!(
                    "{kind}: {:?} | others{}",
                    (0..n)
                        .filter(|&k| side[k])
                        .map(|k| k + 1)
                        .collect::<Vec<_>>(),
                    bridge.map_or(String::new(), |b| format!(", bridge s{}", b + 1))
                );
                self.trace(TraceEvent::Fault {
                    kind: "partition",
                    detail,
                });
                let generation = self.partition_generation;
                let delay = self.rng.between(5 * UNITS_PER_TICK, 60 * UNITS_PER_TICK);
                self.schedule(delay, Event::HealPartition(generation));
            }
        }
        Ok(())
    }
}
