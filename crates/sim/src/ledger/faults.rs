//! The faults of a ledger run, and the heal that ends them.

use ledger::BookieId;

use super::bookies::ClientId;
use super::world::{Endpoint, LedgerWorld, Task, WRITER};

impl LedgerWorld {
    /// Draws one fault among the enabled kinds, and schedules the next.
    pub(super) fn fault(&mut self) {
        if !self.faulty {
            return;
        }
        let mut kinds = Vec::new();
        if self.opts.crashes {
            kinds.extend(["crash", "crash", "crash", "power-loss"]);
        }
        if self.opts.partitions {
            kinds.extend(["cut-store", "cut-bookies", "cut-bookies"]);
        }
        if self.opts.pauses {
            kinds.extend(["pause-writer", "pause-writer", "pause-client"]);
        }
        if !kinds.is_empty() {
            match self.rng.pick(&kinds) {
                "crash" => {
                    let up: Vec<BookieId> = (1..=self.opts.bookies as BookieId)
                        .filter(|b| self.bookies[*b as usize - 1].up())
                        .collect();
                    if !up.is_empty() {
                        let victim = self.rng.pick(&up);
                        self.crash(victim);
                    }
                }
                "power-loss" => {
                    for b in 1..=self.opts.bookies as BookieId {
                        self.crash(b);
                    }
                }
                "cut-store" => {
                    let client = self.victim_client();
                    self.cut_links(client, vec![Endpoint::Store]);
                }
                "cut-bookies" => {
                    let client = self.victim_client();
                    let first = self.rng.between(1, self.opts.bookies as u64) as BookieId;
                    let ends = (1..=self.opts.bookies as BookieId)
                        .filter(|b| *b == first || self.rng.chance(0.4))
                        .map(Endpoint::Bookie)
                        .collect();
                    self.cut_links(client, ends);
                }
                "pause-writer" => self.pause(WRITER),
                _ => {
                    let client = self.victim_client();
                    self.pause(client);
                }
            }
        }
        let next = self.rng.between(1, 2 * self.opts.fault_interval);
        self.schedule(next, Task::Fault);
    }

    /// The writer half the time, else any client.
    fn victim_client(&mut self) -> ClientId {
        if self.rng.chance(0.5) {
            return WRITER;
        }
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        self.rng.pick(&ids)
    }

    fn cut_links(&mut self, client: ClientId, ends: Vec<Endpoint>) {
        self.cut_id += 1;
        self.report.partitions += 1;
        let id = self.cut_id;
        self.note(|| format!("cut C{client} from {ends:?}"));
        for end in ends {
            self.cuts.insert((client, end), id);
        }
        let lasts = self.rng.between(50, 1_500);
        self.schedule(lasts, Task::HealCut { id });
    }

    fn pause(&mut self, client: ClientId) {
        let lasts = self.rng.between(50, 2_000);
        if let Some(c) = self.clients.get_mut(&client) {
            c.paused_until = c.paused_until.max(self.now + lasts);
            self.report.pauses += 1;
            self.note(|| format!("pause C{client} for {lasts}"));
        }
    }

    /// Crashes `bookie` (if up): its unwritten records are lost; it restarts later (at the heal
    /// at the latest).
    fn crash(&mut self, bookie: BookieId) {
        let b = &mut self.bookies[bookie as usize - 1];
        if !b.up() {
            return;
        }
        let lost = b.crash();
        self.report.crashes += 1;
        self.note(|| format!("crash B{bookie}, {lost} records lost"));
        let back = if self.rng.chance(0.5) {
            self.rng.between(1, 2 * self.opts.delay_max)
        } else {
            self.rng.between(10, 600)
        };
        if self.now + back < self.opts.fault_units {
            self.schedule(back, Task::RestartBookie { bookie });
        }
    }

    pub(super) fn restart_bookie(&mut self, bookie: BookieId) {
        let b = &mut self.bookies[bookie as usize - 1];
        if !b.up() {
            b.restart();
            self.note(|| format!("restart B{bookie}"));
        }
    }

    /// The end of the faulty phase: links heal, pauses end, bookies restart, the network turns
    /// reliable, and a recovery starts unless the ledger is closed by then.
    pub(super) fn heal(&mut self) {
        self.faulty = false;
        self.healed_at = Some(self.now);
        self.cuts.clear();
        self.note(|| "heal everything".to_string());
        let now = self.now;
        for c in self.clients.values_mut() {
            c.paused_until = c.paused_until.min(now);
        }
        for b in 1..=self.opts.bookies as BookieId {
            self.restart_bookie(b);
        }
        let at = self.rng.between(0, 200);
        self.schedule(at, Task::StartRecovery);
        let deadline = self.opts.liveness_units;
        self.schedule(deadline, Task::Deadline);
    }
}
