//! The faults of a partition-log run, the heal that ends them, and convergence.

use partition::BrokerId;

use super::world::{Endpoint, LogWorld, Task};

impl LogWorld {
    /// Draws one fault among the enabled kinds, and schedules the next.
    pub(super) fn fault(&mut self) {
        if !self.faulty {
            return;
        }
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend(["crash", "crash", "crash-all"]);
        }
        if self.opts.partitions_cut {
            kinds.extend(["cut-store", "cut-brokers", "cut-brokers"]);
        }
        if self.opts.pauses {
            kinds.extend(["pause", "pause"]);
        }
        if !kinds.is_empty() {
            let victim = self.rng.between(1, u64::from(self.opts.brokers)) as BrokerId;
            match self.rng.pick(&kinds) {
                "crash" => self.crash_and_restart(victim),
                "crash-all" => {
                    for b in 1..=self.opts.brokers {
                        self.crash_and_restart(b);
                    }
                }
                "cut-store" => self.cut_links(victim, vec![Endpoint::Store]),
                "cut-brokers" => {
                    let others = (1..=self.opts.brokers)
                        .filter(|&b| b != victim && self.rng.chance(0.6))
                        .map(Endpoint::Broker)
                        .collect();
                    self.cut_links(victim, others);
                }
                _ => self.pause(victim),
            }
        }
        let next = self.rng.between(1, 2 * self.opts.fault_interval);
        self.schedule(next, Task::Fault);
    }

    fn crash_and_restart(&mut self, broker: BrokerId) {
        if !self.brokers[broker as usize - 1].up {
            return;
        }
        self.crash(broker);
        let back = self.rng.between(10, 2 * self.opts.session_timeout);
        self.schedule(back, Task::RestartBroker { broker });
    }

    fn cut_links(&mut self, broker: BrokerId, ends: Vec<Endpoint>) {
        if ends.is_empty() {
            return;
        }
        self.cut_id += 1;
        self.report.cuts += 1;
        let id = self.cut_id;
        self.note(|| format!("cut broker {broker} from {ends:?}"));
        let me = Endpoint::Broker(broker);
        for end in ends {
            let key = if me <= end { (me, end) } else { (end, me) };
            self.cuts.insert(key, id);
        }
        let heal = self.rng.between(20, 3 * self.opts.session_timeout);
        self.schedule(heal, Task::HealCut { id });
    }

    /// A long GC pause: the broker handles nothing, its session may expire meanwhile.
    fn pause(&mut self, broker: BrokerId) {
        let length = self.rng.between(10, 2 * self.opts.session_timeout);
        let b = &mut self.brokers[broker as usize - 1];
        b.paused_until = b.paused_until.max(self.now + length);
        self.report.pauses += 1;
        self.note(|| format!("broker {broker} pauses for {length}"));
    }

    /// Ends the faulty phase: links heal, crashed brokers restart, and convergence is awaited.
    pub(super) fn heal(&mut self) {
        self.faulty = false;
        self.healed_at = Some(self.now);
        self.cuts.clear();
        self.note(|| "heal".to_string());
        for b in 1..=self.opts.brokers {
            if !self.brokers[b as usize - 1].up {
                self.boot(b);
            }
        }
        let deadline = self.opts.liveness_units;
        self.schedule(deadline, Task::Deadline);
        self.schedule(50, Task::Converged);
    }

    /// After the heal: once every partition has a leader with every replica caught up and every
    /// producer is done, runs the final checks and ends the run.
    pub(super) fn converged_check(&mut self) {
        if self.unconverged().is_empty() {
            let healed = self.healed_at.unwrap_or(self.now);
            self.report.converged_after_heal = Some(self.now - healed);
            let tps: Vec<_> = self.store.states.keys().cloned().collect();
            for tp in tps {
                let state = self.store.states[&tp].0.clone();
                let result = self.checker.converged(&tp, &state, &self.brokers);
                self.check(result);
            }
            self.done = true;
            return;
        }
        self.schedule(50, Task::Converged);
    }

    /// Why the run has not converged ("" when it has).
    pub(super) fn unconverged(&self) -> String {
        if !self.clients_done() {
            return "producers are not done".to_string();
        }
        for (tp, (state, _)) in &self.store.states {
            let Some(leader) = state.leader else {
                return format!("{tp} has no leader: {state:?}");
            };
            let lead = &self.brokers[leader as usize - 1];
            let Some(replica) = lead.replicas.get(tp).filter(|r| r.leading().is_some()) else {
                return format!("{tp}: broker {leader} does not lead yet");
            };
            let end = replica.durable_end();
            if replica.high_watermark() != end {
                return format!(
                    "{tp}: HW {} below the log end {end}",
                    replica.high_watermark()
                );
            }
            let replicas = &self.assignment.replicas[tp.partition as usize];
            if state.isr.len() != replicas.len() {
                return format!("{tp}: ISR {:?} is not every replica", state.isr);
            }
            for &r in replicas {
                let durable = self.brokers[r as usize - 1]
                    .replicas
                    .get(tp)
                    .map(|r| r.durable_end());
                if durable != Some(end) {
                    return format!("{tp}: broker {r} has {durable:?}, the leader {end}");
                }
            }
        }
        String::new()
    }
}
