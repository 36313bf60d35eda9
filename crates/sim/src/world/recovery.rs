//! What the real peer transport does about silent links, modelled here; how long the ensemble
//! takes to recover once a partition heals; and a scripted isolation to measure it on.
//!
//! The server's links send a keepalive every tick and drop a link that received nothing for
//! `syncLimit` ticks (the core then gets `PeerDisconnected`). In the simulator a link is silent
//! when it is partitioned or its sender is down; a server is told once per silent spell.

use zab::{Input, Phase};

use super::World;
use crate::checker::Violation;
use crate::options::UNITS_PER_TICK;

/// One directed link's silent spell, as its receiver sees it.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Silence {
    /// Since when nothing could arrive; `None` while the link carries traffic.
    since: Option<u64>,
    /// Whether the receiver was told the link is down during this spell.
    reported: bool,
}

impl World {
    /// At server `i`'s tick: a link into `i` silent for `syncLimit` ticks is reported down.
    pub(super) fn check_link_silence(&mut self, i: usize) -> Result<(), Violation> {
        let n = self.nodes.len();
        let Some(peer) = self.nodes[i].peer.as_ref() else {
            return Ok(());
        };
        // The transport's silence limit runs on this server's clock.
        let limit = peer.config().sync_limit * self.nodes[i].tick_period / 1000;
        for j in (0..n).filter(|&j| j != i) {
            let silent = self.blocked[j * n + i] || self.nodes[j].peer.is_none();
            let spell = &mut self.silence[j * n + i];
            if !silent {
                *spell = Silence::default();
                continue;
            }
            let since = *spell.since.get_or_insert(self.now);
            if !spell.reported && self.now - since >= limit {
                spell.reported = true;
                let from = self.nodes[j].id;
                self.step(i, Input::PeerDisconnected(from))?;
            }
        }
        Ok(())
    }

    /// A partition healed: time the recovery, if every server is up (a server still down
    /// would measure its restart, not the network).
    pub(super) fn start_recovery_clock(&mut self) {
        if self.nodes.iter().all(|n| n.peer.is_some()) {
            self.recovering_since = Some(self.now);
        }
    }

    /// Another fault struck before recovery: that heal's figure would mix two faults.
    pub(super) fn abandon_recovery_clock(&mut self) {
        self.recovering_since = None;
    }

    /// After each event while a recovery is timed: done once one leader leads in broadcast and
    /// every other server follows it in broadcast.
    pub(super) fn check_recovered(&mut self) {
        let Some(since) = self.recovering_since else {
            return;
        };
        if !self.one_leader_all_in_broadcast() {
            return;
        }
        let took = self.now - since;
        self.recovering_since = None;
        self.report.recoveries += 1;
        self.report.recovery_units_total += took;
        self.report.recovery_units_max = self.report.recovery_units_max.max(took);
    }

    fn one_leader_all_in_broadcast(&self) -> bool {
        let mut leader = None;
        for node in &self.nodes {
            let Some(peer) = node.peer.as_ref() else {
                return false;
            };
            match peer.phase() {
                Phase::LeadingBroadcast if leader.is_none() => leader = Some(node.id),
                Phase::FollowingBroadcast => {}
                _ => return false,
            }
        }
        leader.is_some()
            && self
                .nodes
                .iter()
                .all(|n| n.peer.as_ref().and_then(|p| p.leader()) == leader)
    }

    /// The scripted fault: cut a follower (the first server otherwise) off from everyone, both
    /// ways, for [`Options::isolation`]'s ticks.
    pub(super) fn isolate_a_follower(&mut self) {
        let Some(isolation) = self.opts.isolation else {
            return;
        };
        let n = self.nodes.len();
        let victim = (0..n)
            .find(|&k| {
                let peer = self.nodes[k].peer.as_ref();
                peer.is_some_and(|p| p.phase() == zab::Phase::FollowingBroadcast)
            })
            .unwrap_or(0);
        let mut cuts = Vec::new();
        for other in (0..n).filter(|&k| k != victim) {
            cuts.extend([(victim, other), (other, victim)]);
        }
        self.report.faults.isolate_follower += 1;
        let id = self.nodes[victim].id;
        let detail = format!("follower {id} for {} ticks", isolation.ticks);
        let duration = isolation.ticks * UNITS_PER_TICK;
        self.begin_partition("isolate-follower", detail, cuts, duration);
    }
}
