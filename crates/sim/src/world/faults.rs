//! The fault generator: crashes, power loss and partitions, drawn from the run's seed, each
//! doing what its name says. At each fault time it draws among the kinds that can act now — a
//! crash needs a server that is up, "crash the leader" and "isolate the leader" need a leader,
//! a bridge needs three servers — and counts what the fault did ([`crate::FaultCounts`]); when
//! none can act, the fault is deferred to the next fault time. Crashes in the middle of a
//! write (a SNAP install, an epoch file) strike where those writes happen, in `actions.rs`.

use super::World;
use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;
use crate::trace::TraceEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Crash,
    CrashLeader,
    PowerLoss,
    Split,
    OneWay,
    IsolateLeader,
    Bridge,
    Reconfig,
}

impl World {
    /// The server in a leading phase (prospective or established), if any is up.
    pub(super) fn leader_index(&self) -> Option<usize> {
        self.nodes.iter().position(|node| {
            node.peer
                .as_ref()
                .is_some_and(|p| p.leader() == Some(node.id))
        })
    }

    fn up(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].peer.is_some())
            .collect()
    }

    fn can_act(&self, kind: Kind, leader: Option<usize>, up: usize) -> bool {
        let n = self.nodes.len();
        match kind {
            Kind::Crash | Kind::PowerLoss => up > 0,
            Kind::CrashLeader => leader.is_some(),
            Kind::Split | Kind::OneWay => n >= 2,
            Kind::IsolateLeader => leader.is_some() && n >= 2,
            Kind::Bridge => n >= 3,
            Kind::Reconfig => self.can_reconfigure(),
        }
    }

    pub(super) fn inject_fault(&mut self) -> Result<(), Violation> {
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend([Kind::Crash, Kind::CrashLeader, Kind::Crash, Kind::PowerLoss]);
        }
        if self.opts.partitions {
            kinds.extend([Kind::Split, Kind::OneWay, Kind::IsolateLeader, Kind::Bridge]);
        }
        if self.opts.reconfig {
            kinds.extend([Kind::Reconfig, Kind::Reconfig]);
        }
        if kinds.is_empty() {
            return Ok(());
        }
        let leader = self.leader_index();
        let up = self.up();
        kinds.retain(|&kind| self.can_act(kind, leader, up.len()));
        if kinds.is_empty() {
            self.report.faults.deferred += 1;
            return Ok(());
        }
        self.abandon_recovery_clock();
        match self.rng.pick(&kinds) {
            Kind::Crash => {
                let victim = up[self.rng.below(up.len() as u64) as usize];
                self.report.faults.crash += 1;
                self.trace(TraceEvent::Fault {
                    kind: "crash",
                    detail: format!("s{}", victim + 1),
                });
                self.crash_and_restart(victim, UNITS_PER_TICK, 40 * UNITS_PER_TICK);
            }
            Kind::CrashLeader => {
                self.report.faults.crash_leader += 1;
                let victim = leader.expect("checked");
                self.trace(TraceEvent::Fault {
                    kind: "crash-leader",
                    detail: format!("s{}", victim + 1),
                });
                self.crash_and_restart(victim, UNITS_PER_TICK, 40 * UNITS_PER_TICK);
            }
            Kind::PowerLoss => {
                // Every server loses power at once: only what each fsynced survives.
                self.trace(TraceEvent::Fault {
                    kind: "power-loss",
                    detail: format!("{} servers up go down", up.len()),
                });
                self.report.faults.power_loss += 1;
                self.report.faults.power_loss_servers += up.len() as u64;
                for victim in up {
                    self.crash_and_restart(victim, 1, 30 * UNITS_PER_TICK);
                }
            }
            Kind::Reconfig => self.reconfigure()?,
            kind => self.partition(kind, leader),
        }
        Ok(())
    }

    /// Crashes `victim` (up) and schedules its restart between `min` and `max` units later.
    fn crash_and_restart(&mut self, victim: usize, min: u64, max: u64) {
        self.crash(victim, None);
        let delay = self.rng.between(min, max);
        self.schedule(delay, super::Event::Restart(victim));
    }

    /// Two non-empty sides of `members`, at random.
    fn two_sides(&mut self, mut members: Vec<usize>) -> (Vec<usize>, Vec<usize>) {
        for k in (1..members.len()).rev() {
            let j = self.rng.below(k as u64 + 1) as usize;
            members.swap(k, j);
        }
        let size = self.rng.between(1, members.len() as u64 - 1) as usize;
        let other = members.split_off(size);
        (members, other)
    }

    fn partition(&mut self, kind: Kind, leader: Option<usize>) {
        let n = self.nodes.len();
        let both_ways = |a: &[usize], b: &[usize]| -> Vec<(usize, usize)> {
            let mut cuts = Vec::new();
            for &x in a {
                for &y in b {
                    cuts.extend([(x, y), (y, x)]);
                }
            }
            cuts
        };
        let ids = |side: &[usize]| -> Vec<usize> {
            let mut ids: Vec<usize> = side.iter().map(|&k| k + 1).collect();
            ids.sort_unstable();
            ids
        };
        let (name, detail, cuts) = match kind {
            Kind::Split => {
                self.report.faults.split += 1;
                let (a, b) = self.two_sides((0..n).collect());
                let detail = format!("{:?} | {:?}", ids(&a), ids(&b));
                ("split", detail, both_ways(&a, &b))
            }
            Kind::OneWay => {
                self.report.faults.one_way += 1;
                let (a, b) = self.two_sides((0..n).collect());
                let cuts = a
                    .iter()
                    .flat_map(|&x| b.iter().map(move |&y| (x, y)))
                    .collect();
                let detail = format!("{:?} cannot send to {:?}", ids(&a), ids(&b));
                ("one-way", detail, cuts)
            }
            Kind::IsolateLeader => {
                self.report.faults.isolate_leader += 1;
                let l = leader.expect("checked");
                let others: Vec<usize> = (0..n).filter(|&k| k != l).collect();
                let detail = format!("leader s{} | {:?}", l + 1, ids(&others));
                ("isolate-leader", detail, both_ways(&[l], &others))
            }
            Kind::Bridge => {
                self.report.faults.bridge += 1;
                let bridge = self.rng.below(n as u64) as usize;
                let (a, b) = self.two_sides((0..n).filter(|&k| k != bridge).collect());
                let detail = format!("{:?} | {:?}, bridge s{}", ids(&a), ids(&b), bridge + 1);
                ("bridge", detail, both_ways(&a, &b))
            }
            Kind::Crash | Kind::CrashLeader | Kind::PowerLoss | Kind::Reconfig => {
                unreachable!("not a partition")
            }
        };
        let duration = self.rng.between(5 * UNITS_PER_TICK, 60 * UNITS_PER_TICK);
        self.begin_partition(name, detail, cuts, duration);
    }
}
