//! Faults while the run is faulty (crashes, power loss, partitions), healing, and what must hold
//! once everything healed: every request answered or its connection closed, the servers
//! converged, the history linearizable.

use super::options::MS;
use super::world::{violation, Event, Step, Violation, World};

impl World {
    pub(super) fn on_fault(&mut self) -> Step {
        if !self.faults_on {
            return Ok(());
        }
        let next = self.rng.between(1, 2 * self.opts.fault_interval);
        self.schedule(next, Event::Fault);
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend(["crash", "crash-leader", "power-loss"]);
        }
        if self.opts.partitions {
            kinds.extend(["isolate", "isolate-leader", "split", "one-way"]);
        }
        if kinds.is_empty() {
            return Ok(());
        }
        let kind = self.rng.pick(&kinds);
        let n = self.nodes.len();
        let leader = (0..n).find(|&i| self.leads(i));
        match kind {
            "crash" | "crash-leader" => {
                let victim = match (kind, leader) {
                    ("crash-leader", Some(l)) => l,
                    _ => self.rng.below(n as u64) as usize,
                };
                self.crash(victim);
                let back = self.rng.between(self.opts.tick, 30 * self.opts.tick);
                self.schedule(back, Event::Restart(victim));
            }
            "power-loss" => {
                self.trace
                    .note(self.now, "fault", "power loss of every server");
                for victim in 0..n {
                    self.crash(victim);
                    let back = self.rng.between(self.opts.tick, 20 * self.opts.tick);
                    self.schedule(back, Event::Restart(victim));
                }
            }
            _ => self.partition(kind, leader),
        }
        Ok(())
    }

    fn leads(&self, i: usize) -> bool {
        self.nodes[i]
            .core
            .as_ref()
            .is_some_and(|c| c.replica.phase() == zab::Phase::LeadingBroadcast)
    }

    /// A silent partition (on top of any other, which overlap), healed after a while.
    fn partition(&mut self, kind: &str, leader: Option<usize>) {
        let n = self.nodes.len();
        let mut side = vec![false; n];
        match (kind, leader) {
            ("isolate-leader", Some(l)) => side[l] = true,
            ("isolate", _) | ("isolate-leader", None) => {
                side[self.rng.below(n as u64) as usize] = true;
            }
            _ => {
                let size = self.rng.between(1, (n as u64 - 1).max(1));
                for _ in 0..size {
                    side[self.rng.below(n as u64) as usize] = true;
                }
            }
        }
        let one_way = kind == "one-way";
        for a in 0..n {
            for b in 0..n {
                if side[a] && !side[b] || (!one_way && !side[a] && side[b]) {
                    self.links.block(a, b);
                }
            }
        }
        self.report.partitions += 1;
        let cut: Vec<usize> = (0..n).filter(|&k| side[k]).map(|k| k + 1).collect();
        self.trace
            .note(self.now, "fault", &format!("{kind}: {cut:?}"));
        let partition = self.links.partition_generation;
        let silence = 5 * self.opts.tick;
        for (a, b) in self.links.cut_pairs() {
            self.schedule(silence, Event::Silence { a, b, partition });
        }
        let heal = self.rng.between(5 * self.opts.tick, 60 * self.opts.tick);
        self.schedule(heal, Event::HealPartition(partition));
    }

    pub(super) fn heal_partitions(&mut self) -> Step {
        if self.links.any_blocked() {
            self.trace.note(self.now, "heal", "partitions");
        }
        self.links.heal();
        // What stalled in the partition arrives now, in order and ahead of what was sent
        // after it (TCP's retransmissions).
        for (from, to, generation, frame) in self.links.take_stalled() {
            self.on_frame(from, to, generation, frame)?;
        }
        Ok(())
    }

    /// The faulty phase ends: partitions heal, servers restart, clients read and speak again,
    /// zombies go, and from now on the run waits for everything to be answered and to
    /// converge.
    pub(super) fn on_heal_all(&mut self) -> Step {
        self.faults_on = false;
        self.healed_at = Some(self.now);
        self.heal_partitions()?;
        self.trace.note(self.now, "heal", "everything");
        for i in 0..self.nodes.len() {
            if self.nodes[i].core.is_none() {
                self.boot(i)?;
            }
        }
        for c in 0..self.clients.len() {
            self.clients[c].silent_until = 0;
            self.resume_reading(c);
        }
        self.schedule(self.opts.tick, Event::Settle);
        Ok(())
    }

    /// After healing, every tick: done once nothing is in flight on an open connection and
    /// every server serves the same state.
    pub(super) fn on_settle(&mut self) -> Step {
        self.schedule(self.opts.tick, Event::Settle);
        let answered = self.clients.iter().all(|c| c.in_flight() == 0 && !c.held());
        if answered && self.converged() {
            self.settled = true;
            self.report.settle_ms = (self.now - self.healed_at.unwrap_or(self.now)) / MS;
        }
        Ok(())
    }

    /// Every server up and serving, with one leader, at the same zxid and digest.
    fn converged(&self) -> bool {
        let n = self.nodes.len();
        if !(0..n).all(|i| self.serving(i)) || (0..n).filter(|&i| self.leads(i)).count() != 1 {
            return false;
        }
        let states: Vec<(zab::Zxid, u64)> = self
            .nodes
            .iter()
            .filter_map(|node| node.core.as_ref())
            .map(|c| (c.replica.app.tree.last_zxid(), c.replica.app.tree.digest()))
            .collect();
        states.windows(2).all(|w| w[0] == w[1])
    }

    pub(super) fn liveness_violation(&self) -> Violation {
        let stuck: Vec<String> = self
            .clients
            .iter()
            .filter(|c| c.in_flight() > 0)
            .map(|c| {
                let main = c.main.as_ref().map(|m| {
                    format!(
                        "s{} conn {} open={} first xid {:?}",
                        m.server + 1,
                        m.id,
                        m.open,
                        m.pending.front().map(|p| (p.xid, p.op))
                    )
                });
                format!("client {}: {} in flight ({main:?})", c.index, c.in_flight())
            })
            .collect();
        violation(
            "liveness",
            format!(
                "{} ms after healing: requests unanswered on open connections [{}]; servers: {}",
                self.opts.liveness / MS,
                stuck.join("; "),
                self.roles()
            ),
        )
    }

    /// The history of register operations: linearizable, monotonic per session, no
    /// acknowledged write lost (the chaos crate's checkers).
    pub(super) fn final_checks(&mut self) -> Option<Violation> {
        let report = chaos::check(&self.history.events);
        self.report.register_ops = report.ops as u64;
        let anomaly = report.anomalies.first()?;
        Some(violation("history", anomaly.to_string()))
    }
}
