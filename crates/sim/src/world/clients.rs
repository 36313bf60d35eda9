//! Clients: they submit transactions to whoever they believe leads, follow redirects, ask for
//! leadership confirmations (syncs), and, after the faults heal, probe liveness.

use bytes::Bytes;

use super::World;
use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;
use crate::trace::TraceEvent;

impl World {
    pub(super) fn new_payload(&mut self, tag: &str) -> Bytes {
        self.next_payload += 1;
        Bytes::from(format!("{tag}{}", self.next_payload))
    }

    pub(super) fn client_submit(&mut self, c: usize) -> Result<(), Violation> {
        let target = self.clients[c];
        if self.rng.chance(0.3) {
            self.confirm_leadership(target)?;
        }
        let payload = match self.retry[c].take() {
            Some(refused) => refused,
            None => self.new_payload("c"),
        };
        self.propose(target, payload, Some(c))
    }

    pub(super) fn propose(
        &mut self,
        target: usize,
        payload: Bytes,
        client: Option<usize>,
    ) -> Result<(), Violation> {
        let mut out = std::mem::take(&mut self.scratch);
        let result = match self.nodes[target].peer.as_mut() {
            Some(peer) => peer.propose(payload.clone(), &mut out),
            None => Err(zab::NotLeader::NotLeader { hint: None }),
        };
        if let (Err(zab::NotLeader::NotLeader { hint }), Some(c)) = (result, client) {
            // Retry the same transaction next time, at the hinted leader or somewhere else.
            self.retry[c] = Some(payload);
            self.clients[c] = match hint {
                Some(leader) => leader.0 as usize - 1,
                None => self.rng.below(self.nodes.len() as u64) as usize,
            };
        }
        self.apply(target, out)
    }

    /// A client's sync at `target`: if it leads, it starts a leadership confirmation round.
    pub(super) fn confirm_leadership(&mut self, target: usize) -> Result<(), Violation> {
        let mut out = std::mem::take(&mut self.scratch);
        let Some(peer) = self.nodes[target].peer.as_mut() else {
            self.scratch = out;
            return Ok(());
        };
        let epoch = peer.accepted_epoch();
        let server = peer.id();
        if let Some(round) = peer.confirm_leadership(&mut out) {
            self.trace(TraceEvent::ConfirmAsked {
                server,
                epoch,
                round,
            });
            self.confirmations
                .insert((target, round), (self.now, epoch));
        }
        self.apply(target, out)
    }

    /// After healing: submit a probe through the leader and wait for every server to deliver
    /// it. A probe that does not make it in a while is replaced by a new one.
    pub(super) fn probe_liveness(&mut self) -> Result<(), Violation> {
        let stale = self
            .probe
            .as_ref()
            .is_some_and(|(_, at)| self.now - at > 40 * UNITS_PER_TICK);
        if self.probe.is_some() && !stale {
            return Ok(());
        }
        let Some(leader) = self
            .nodes
            .iter()
            .position(|n| n.peer.as_ref().is_some_and(|p| p.is_leading()))
        else {
            return Ok(());
        };
        let payload = self.new_payload("probe");
        self.probe = Some((payload.clone(), self.now));
        self.probe_seen.iter_mut().for_each(|s| *s = false);
        self.propose(leader, payload, None)
    }
}
