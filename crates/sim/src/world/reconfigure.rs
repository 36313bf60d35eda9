//! Reconfigurations as faults: the leader is asked to change the configuration — add, remove
//! or replace voters (the leader itself among them), grow to five voters, shrink to three,
//! promote or demote observers — and, half the time, a crash or a partition strikes at once,
//! between the proposal and its activation.

use zab::ReconfigRefused;

use super::World;
use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;
use crate::reconfig::{self, mask};
use crate::trace::TraceEvent;

/// A change to draw, applied to (voters, observers) masks.
#[derive(Clone, Copy, Debug)]
enum Change {
    AddVoter,
    RemoveVoter,
    ReplaceLeader,
    Grow,
    Shrink,
    AddObserver,
    RemoveObserver,
}

const CHANGES: [Change; 7] = [
    Change::AddVoter,
    Change::RemoveVoter,
    Change::ReplaceLeader,
    Change::Grow,
    Change::Shrink,
    Change::AddObserver,
    Change::RemoveObserver,
];

impl World {
    /// The established leader, if one is up.
    fn established_leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.peer.as_ref().is_some_and(|p| p.is_leading()))
    }

    pub(super) fn can_reconfigure(&self) -> bool {
        self.established_leader().is_some()
    }

    /// Draws a change, asks the leader to propose it, and maybe strikes in the middle.
    pub(super) fn reconfigure(&mut self) -> Result<(), Violation> {
        let Some(l) = self.established_leader() else {
            return Ok(());
        };
        let peer = self.nodes[l].peer.as_ref().expect("up");
        let active = peer.active_membership();
        let (voters, observers) = (mask(&active.voters), mask(&active.observers));
        let change = self.rng.pick(&CHANGES);
        let Some((new_voters, new_observers)) = self.changed(change, l, voters, observers) else {
            return Ok(());
        };
        let data = reconfig::encode(new_voters, new_observers);
        let mut out = std::mem::take(&mut self.scratch);
        let result = self.nodes[l]
            .peer
            .as_mut()
            .expect("up")
            .propose_reconfig(data, &mut out);
        let detail = format!(
            "{change:?} at s{}: voters {:?} observers {:?} -> {:?}",
            l + 1,
            reconfig::ids(new_voters),
            reconfig::ids(new_observers),
            result.map_err(|e: ReconfigRefused| e)
        );
        self.trace(TraceEvent::Fault {
            kind: "reconfig",
            detail,
        });
        self.apply(l, out)?;
        if result.is_err() {
            self.report.reconfigs_refused += 1;
            return Ok(());
        }
        self.report.reconfigs_proposed += 1;
        match self.rng.below(4) {
            0 => self.crash_leader_now(l),
            1 => self.isolate_now(l),
            _ => {}
        }
        Ok(())
    }

    /// The masks after `change`, or `None` if it cannot apply to this configuration.
    fn changed(
        &mut self,
        change: Change,
        leader: usize,
        voters: u64,
        observers: u64,
    ) -> Option<(u64, u64)> {
        let all = (1u64 << self.nodes.len()) - 1;
        let leader_bit = 1u64 << leader;
        let others = all & !voters;
        let pick = |world: &mut World, set: u64| -> Option<u64> {
            let ids = reconfig::ids(set);
            (!ids.is_empty()).then(|| mask(&[world.rng.pick(&ids)]))
        };
        match change {
            Change::AddVoter => Some((voters | pick(self, others)?, observers & !voters)),
            Change::RemoveVoter => {
                let gone = pick(self, voters).filter(|_| voters.count_ones() > 1)?;
                let observers = if self.rng.chance(0.5) {
                    observers | gone
                } else {
                    observers
                };
                Some((voters & !gone, observers & !(voters & !gone)))
            }
            Change::ReplaceLeader => {
                let new = pick(self, others)?;
                Some((voters & !leader_bit | new, observers & !new))
            }
            Change::Grow => {
                let mut grown = voters;
                while grown.count_ones() < 5 {
                    grown |= pick(self, all & !grown)?;
                }
                (grown != voters).then_some((grown, observers & !grown))
            }
            Change::Shrink => {
                let mut shrunk = voters;
                while shrunk.count_ones() > 3 {
                    shrunk &= !pick(self, shrunk)?;
                }
                (shrunk != voters).then_some((shrunk, observers))
            }
            Change::AddObserver => Some((voters, observers | pick(self, others & !observers)?)),
            Change::RemoveObserver => Some((voters, observers & !pick(self, observers)?)),
        }
    }

    fn crash_leader_now(&mut self, l: usize) {
        self.report.faults.crash_leader += 1;
        self.trace(TraceEvent::Fault {
            kind: "crash-leader",
            detail: format!("s{} in the middle of a reconfiguration", l + 1),
        });
        self.crash(l, None);
        let delay = self.rng.between(UNITS_PER_TICK, 40 * UNITS_PER_TICK);
        self.schedule(delay, super::Event::Restart(l));
    }

    fn isolate_now(&mut self, l: usize) {
        self.report.faults.isolate_leader += 1;
        let n = self.nodes.len();
        let cuts = (0..n)
            .filter(|&k| k != l)
            .flat_map(|k| [(l, k), (k, l)])
            .collect();
        let duration = self.rng.between(5 * UNITS_PER_TICK, 60 * UNITS_PER_TICK);
        let detail = format!("leader s{} in the middle of a reconfiguration", l + 1);
        self.begin_partition("isolate-leader", detail, cuts, duration);
    }
}
