//! The leader's side of discovery, synchronization and broadcast.
//!
//! The leader keeps one [`Learner`] record per follower link: where that follower is in the
//! protocol is data here, not the state of a thread.

use std::collections::BTreeMap;

use bytes::Bytes;

mod log_read;
pub use log_read::MAX_LOG_READS_IN_FLIGHT;
mod quorums;
mod reconfig;
mod sync;

use crate::config::Bug;
use crate::io::{Action, NotLeader, Phase};
use crate::message::Message;
use crate::peer::{Peer, Role};
use crate::types::{Epoch, ServerId, Txn, Zxid};

/// The leader's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeaderPhase {
    /// Collecting CEPOCH from a quorum (epoch not chosen yet), then ACK-E from a quorum.
    Discovery,
    /// Synchronizing followers; waiting for a quorum of ACK-LD.
    Sync,
    /// Established: proposing, committing.
    Broadcast,
}

/// Where one follower is, as the leader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LearnerState {
    /// Sent CEPOCH; NEWEPOCH not sent yet (the epoch is not chosen).
    Joined,
    /// NEWEPOCH sent; waiting for ACK-E.
    AwaitAckEpoch,
    /// ACK-E received; synchronization starts once the leader leaves discovery. Counts toward
    /// the discovery quorum only if `promised`.
    AckedEpoch { promised: bool },
    /// Waiting for the state machine's snapshot to send SNAP.
    AwaitSnapshot,
    /// Waiting for the log records `after < zxid <= up_to` (`Action::ReadLog`), the part of a
    /// DIFF older than the payloads held in memory; the payloads after `up_to` stay held
    /// meanwhile.
    AwaitLog { after: Zxid, up_to: Zxid },
    /// Sync and NEWLEADER sent; waiting for ACK-LD of this zxid. Proposals made since are
    /// sent as they are made, behind the NEWLEADER; commits wait for the ACK-LD.
    AwaitAckNewLeader(Zxid),
    /// ACK-LD received: receives proposals and commits, and its ACKs count.
    Active,
}

#[derive(Debug)]
struct Learner {
    link: u64,
    next_seq: u64,
    accepted_epoch: Epoch,
    /// From ACK-E: (currentEpoch, last zxid).
    position: (Epoch, Zxid),
    state: LearnerState,
    /// The highest zxid it reported durable (ACK-LD or ACK); counts only when `Active`.
    acked: Zxid,
    last_heard: u64,
    /// The highest leadership-confirmation round it answered.
    confirmed_round: u64,
}

/// The state of a leading server.
#[derive(Debug)]
pub(crate) struct Leading {
    phase: LeaderPhase,
    /// The epoch being led, once chosen.
    epoch: Option<Epoch>,
    started: u64,
    learners: BTreeMap<ServerId, Learner>,
    /// Whether our own currentEpoch is persisted for `epoch` (the leader's own ACK-LD).
    self_acked_new_leader: bool,
    /// The last zxid of the history this leader establishes.
    initial: Zxid,
    committed: Zxid,
    counter: u32,
    /// Where the next learner link starts numbering. Each link starts far above the last, so
    /// that a follower which sees the leader re-open a link it already used (after a stale,
    /// duplicated CEPOCH) finds a gap and rejoins instead of mixing two sessions.
    next_link_seq: u64,
    /// The latest leadership-confirmation round asked for, and the highest one a quorum
    /// answered.
    confirm_round: u64,
    confirmed_round: u64,
}

impl Leading {
    /// Followers whose state passes `keep`.
    fn learners_where(&self, keep: impl Fn(LearnerState) -> bool) -> Vec<ServerId> {
        self.learners
            .iter()
            .filter(|(_, l)| keep(l.state))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Followers that are sent proposals: those in sync and those awaiting ACK-LD. A follower
    /// installing a big SNAP takes seconds to acknowledge NEWLEADER; holding the proposals made
    /// meanwhile for its ACK-LD would send them all in one step and stall the leader.
    fn proposal_receivers(&self) -> Vec<ServerId> {
        self.learners_where(|s| {
            matches!(s, LearnerState::Active | LearnerState::AwaitAckNewLeader(_))
        })
    }

    /// Each follower with a link, and whether it is in sync (acknowledged NEWLEADER).
    pub(crate) fn followers(&self) -> Vec<(ServerId, bool)> {
        self.learners
            .iter()
            .map(|(&id, l)| (id, l.state == LearnerState::Active))
            .collect()
    }

    pub(crate) fn next_zxid(&self) -> Option<Zxid> {
        let epoch = self
            .epoch
            .filter(|_| self.phase == LeaderPhase::Broadcast)?;
        Some(Zxid {
            epoch,
            counter: self.counter.checked_add(1)?,
        })
    }

    pub(crate) fn phase_summary(&self) -> Phase {
        match self.phase {
            LeaderPhase::Discovery => Phase::LeadingDiscovery,
            LeaderPhase::Sync => Phase::LeadingSync,
            LeaderPhase::Broadcast => Phase::LeadingBroadcast,
        }
    }
}

impl Peer {
    /// Becomes the prospective leader and starts discovery.
    pub(crate) fn lead(&mut self) {
        self.role = Role::Leading(Leading {
            phase: LeaderPhase::Discovery,
            epoch: None,
            started: self.now,
            learners: BTreeMap::new(),
            self_acked_new_leader: false,
            initial: self.history.last(),
            committed: Zxid::ZERO,
            counter: 0,
            next_link_seq: 0,
            confirm_round: 0,
            confirmed_round: 0,
        });
        self.set_phase(Phase::LeadingDiscovery, self.accepted_epoch);
        // A single-server ensemble is its own quorum.
        self.maybe_choose_epoch();
    }

    fn leading(&mut self) -> &mut Leading {
        match &mut self.role {
            Role::Leading(l) => l,
            _ => unreachable!("leader handler outside the leading role"),
        }
    }

    fn leading_ref(&self) -> &Leading {
        match &self.role {
            Role::Leading(l) => l,
            _ => unreachable!("leader handler outside the leading role"),
        }
    }

    /// Sends a sequenced message to every follower that acknowledged NEWLEADER.
    fn send_to_active(&mut self, make: impl Fn(u64, u64) -> Message) {
        for to in self
            .leading_ref()
            .learners_where(|s| s == LearnerState::Active)
        {
            self.send_on_link(to, &make);
        }
    }

    /// Sends a sequenced message on `to`'s link.
    fn send_on_link(&mut self, to: ServerId, make: impl FnOnce(u64, u64) -> Message) {
        let learner = self.leading().learners.get_mut(&to).expect("learner");
        let (link, seq) = (learner.link, learner.next_seq);
        learner.next_seq += 1;
        self.send(to, make(link, seq));
    }

    pub(crate) fn leader_tick(&mut self) {
        let now = self.now;
        let (init_limit, sync_limit) = (self.cfg.init_limit, self.cfg.sync_limit);
        let leading = self.leading_ref();
        if leading.phase != LeaderPhase::Broadcast {
            if now - leading.started > init_limit {
                return self.go_looking();
            }
        } else {
            let heard =
                |l: &Learner| l.state == LearnerState::Active && now - l.last_heard <= sync_limit;
            if !self.leader_has_quorum(true, heard) {
                return self.go_looking();
            }
        }
        let leading = self.leading();
        // Forget links that went silent; those followers rejoin with a new link.
        let forget_after = init_limit.max(sync_limit);
        leading
            .learners
            .retain(|_, l| now - l.last_heard <= forget_after);
        let Some(epoch) = leading.epoch else { return };
        let round = leading.confirm_round;
        let pinged: Vec<ServerId> = leading
            .learners
            .iter()
            .filter(|(_, l)| l.state != LearnerState::Joined)
            .map(|(&id, _)| id)
            .collect();
        for to in pinged {
            self.send_on_link(to, |link, seq| Message::Ping {
                link,
                seq,
                epoch,
                round,
            });
        }
    }

    pub(crate) fn leader_message(&mut self, from: ServerId, message: Message) {
        if let Message::CEpoch {
            link,
            accepted_epoch,
        } = message
        {
            return self.on_cepoch(from, link, accepted_epoch);
        }
        let now = self.now;
        let leading = self.leading();
        let (Some(epoch), Some(learner)) = (leading.epoch, leading.learners.get_mut(&from)) else {
            self.stats.stale += 1;
            return;
        };
        let (link, msg_epoch) = match &message {
            Message::AckEpoch { link, epoch, .. }
            | Message::AckNewLeader { link, epoch, .. }
            | Message::Ack { link, epoch, .. }
            | Message::PingAck { link, epoch, .. } => (*link, *epoch),
            _ => {
                self.stats.protocol_error += 1;
                return;
            }
        };
        if link != learner.link || msg_epoch != epoch {
            self.stats.stale += 1;
            return;
        }
        learner.last_heard = now;
        match message {
            Message::AckEpoch {
                current_epoch,
                last_zxid,
                promised,
                ..
            } => self.on_ack_epoch(from, current_epoch, last_zxid, promised),
            Message::AckNewLeader { zxid, .. } => self.on_ack_new_leader(from, zxid),
            Message::Ack { zxid, .. } => {
                let last = self.history.last();
                let learner = self.leading().learners.get_mut(&from).expect("learner");
                if learner.state == LearnerState::Active {
                    learner.acked = learner.acked.max(zxid.min(last));
                    self.advance_commit();
                } else {
                    self.stats.protocol_error += 1;
                }
            }
            Message::PingAck { round, .. } => {
                let learner = self.leading().learners.get_mut(&from).expect("learner");
                learner.confirmed_round = learner.confirmed_round.max(round);
                self.check_confirmations();
            }
            _ => {}
        }
    }

    fn on_cepoch(&mut self, from: ServerId, link: u64, accepted_epoch: Epoch) {
        let now = self.now;
        let leading = self.leading();
        if let Some(learner) = leading.learners.get_mut(&from).filter(|l| l.link == link) {
            // The follower repeats CEPOCH until it hears NEWEPOCH.
            learner.last_heard = now;
            self.stats.duplicate += 1;
            return;
        }
        let next_seq = leading.next_link_seq;
        leading.next_link_seq += 1 << 32;
        leading.learners.insert(
            from,
            Learner {
                link,
                next_seq,
                accepted_epoch,
                position: (Epoch(0), Zxid::ZERO),
                state: LearnerState::Joined,
                acked: Zxid::ZERO,
                last_heard: now,
                confirmed_round: 0,
            },
        );
        if let Some(epoch) = leading.epoch {
            let member = self.history.memberships().any(|m| m.is_member(from));
            let leading = self.leading();
            if accepted_epoch > epoch && leading.phase == LeaderPhase::Broadcast && member {
                // The follower promised a later epoch (to a leadership attempt that failed) and
                // can never join our established epoch. Step down so that a new election picks
                // an epoch above its promise; otherwise it would stay out until the next
                // failure. (Before establishment the attempt simply runs its course.)
                self.stats.stale += 1;
                return self.go_looking();
            }
            self.send_new_epoch(from, epoch);
        } else {
            self.maybe_choose_epoch();
        }
    }

    /// Once a quorum has sent CEPOCH, picks e' = max(acceptedEpoch) + 1, promises it durably
    /// ourselves, and proposes it to every follower that joined.
    fn maybe_choose_epoch(&mut self) {
        let me = self.cfg.id;
        let own = self.accepted_epoch;
        if self.leading_ref().epoch.is_some() || !self.leader_has_quorum(true, |_| true) {
            return;
        }
        // Only members of a known configuration raise the epoch: a server outside them (a
        // joining one) may learn, but must not push the epoch around.
        let known: Vec<ServerId> = self
            .history
            .memberships()
            .flat_map(|m| m.members())
            .collect();
        let leading = self.leading();
        let highest = leading
            .learners
            .iter()
            .filter(|(id, _)| known.contains(id))
            .map(|(_, l)| l.accepted_epoch)
            .fold(own, Epoch::max);
        let Some(next) = highest.0.checked_add(1) else {
            // The epoch space is exhausted: no new epoch can be chosen (ZooKeeper stops too).
            self.stats.protocol_error += 1;
            return self.go_looking();
        };
        let epoch = Epoch(next);
        let leading = self.leading();
        leading.epoch = Some(epoch);
        let joined: Vec<ServerId> = leading.learners.keys().copied().collect();
        // Durable before any NEWEPOCH leaves: a restarted leader never proposes this epoch
        // again.
        self.persist_accepted_epoch(epoch, me);
        self.set_phase(Phase::LeadingDiscovery, epoch);
        for to in joined {
            self.send_new_epoch(to, epoch);
        }
        self.maybe_finish_discovery();
    }

    fn send_new_epoch(&mut self, to: ServerId, epoch: Epoch) {
        self.leading().learners.get_mut(&to).expect("learner").state = LearnerState::AwaitAckEpoch;
        self.send_on_link(to, |link, seq| Message::NewEpoch { link, seq, epoch });
    }

    fn on_ack_epoch(
        &mut self,
        from: ServerId,
        current_epoch: Epoch,
        last_zxid: Zxid,
        promised: bool,
    ) {
        let own = (self.current_epoch, self.history.last());
        let leading = self.leading();
        let phase = leading.phase;
        let learner = leading.learners.get_mut(&from).expect("learner");
        if learner.state != LearnerState::AwaitAckEpoch {
            self.stats.protocol_error += 1;
            return;
        }
        learner.state = LearnerState::AckedEpoch { promised };
        learner.position = (current_epoch, last_zxid);
        // An observer ahead of the leader holds only uncommitted proposals beyond it (anything
        // committed is on a quorum of voters, which the discovery quorum intersects): it is
        // truncated, never followed, since it cannot lead.
        if phase == LeaderPhase::Discovery {
            // The same last zxid means the same history (Zab's prefix property), whatever
            // the currentEpochs: nothing to adopt, and the follower may not be able to lead.
            let counts = self.votes_in_force(from) || self.cfg.has_bug(Bug::ObserverCounts);
            if (current_epoch, last_zxid) > own && last_zxid != own.1 && counts {
                // Zab adopts the most up-to-date history of the quorum. Ours must be it, or
                // we step aside, voting for that follower so that the election finds it.
                self.stats.follower_ahead += 1;
                let better = crate::message::Vote {
                    leader: from,
                    epoch: current_epoch,
                    zxid: last_zxid,
                };
                return self.go_looking_voting(Some(better));
            }
            self.maybe_finish_discovery();
        } else {
            self.start_sync(from);
        }
    }

    /// With a quorum of ACK-E, discovery is over: synchronize everyone who acknowledged.
    fn maybe_finish_discovery(&mut self) {
        let last = self.history.last();
        let Some(epoch) = self.leading_ref().epoch else {
            return;
        };
        let promised = |l: &Learner| l.state == LearnerState::AckedEpoch { promised: true };
        if !self.leader_has_quorum(true, promised) {
            return;
        }
        let leading = self.leading();
        let acked: Vec<ServerId> = leading
            .learners
            .iter()
            .filter(|(_, l)| matches!(l.state, LearnerState::AckedEpoch { .. }))
            .map(|(&id, _)| id)
            .collect();
        leading.phase = LeaderPhase::Sync;
        leading.initial = last;
        self.set_phase(Phase::LeadingSync, epoch);
        for to in acked {
            self.start_sync(to);
        }
        self.leader_durable();
    }

    pub(crate) fn leader_durable(&mut self) {
        let leading = self.leading_ref();
        match leading.phase {
            LeaderPhase::Discovery => {}
            LeaderPhase::Sync => {
                let epoch = leading.epoch.expect("epoch chosen");
                if !leading.self_acked_new_leader && self.history.durable() >= leading.initial {
                    // Our own ACK-LD: history durable first, then currentEpoch.
                    self.persist_current_epoch(epoch);
                    self.leading().self_acked_new_leader = true;
                    self.maybe_establish();
                }
            }
            LeaderPhase::Broadcast => self.advance_commit(),
        }
    }

    /// With a quorum of ACK-LD (ours included), the leader is established: the initial history
    /// is committed and broadcast begins.
    fn maybe_establish(&mut self) {
        let own = self.leading_ref().self_acked_new_leader;
        if !own || !self.leader_has_quorum(true, |l| l.state == LearnerState::Active) {
            return;
        }
        let leading = self.leading();
        let epoch = leading.epoch.expect("epoch chosen");
        let initial = leading.initial;
        leading.phase = LeaderPhase::Broadcast;
        leading.committed = initial;
        self.stats.established += 1;
        self.out.push(Action::Established { epoch, initial });
        self.set_phase(Phase::LeadingBroadcast, epoch);
        self.send_to_active(|link, seq| Message::CommitNewLeader {
            link,
            seq,
            epoch,
            committed: initial,
        });
        self.deliver_upto(initial);
    }

    /// Commits the highest zxid that a quorum (us included) holds durably.
    fn advance_commit(&mut self) {
        if self.leading_ref().phase != LeaderPhase::Broadcast {
            return;
        }
        let candidate = self.commit_candidate();
        let leading = self.leading();
        if candidate <= leading.committed {
            return;
        }
        leading.committed = candidate;
        let epoch = leading.epoch.expect("epoch chosen");
        self.send_to_active(|link, seq| Message::Commit {
            link,
            seq,
            epoch,
            zxid: candidate,
        });
        self.deliver_upto(candidate);
    }

    /// Starts a leadership-confirmation round: pings every active follower now; once a quorum
    /// (this leader included) answered this round or a later one, the core emits
    /// [`Action::LeadershipConfirmed`]. A deposed leader cannot gather that quorum (the quorum
    /// that elected its successor no longer follows it), so an answer given after the
    /// confirmation — a sync, say — is one the current leader would give too.
    pub(crate) fn leader_confirm(&mut self) -> Option<u64> {
        let Role::Leading(leading) = &mut self.role else {
            return None;
        };
        if leading.phase != LeaderPhase::Broadcast {
            return None;
        }
        leading.confirm_round += 1;
        let round = leading.confirm_round;
        let epoch = leading.epoch.expect("epoch chosen");
        self.send_to_active(|link, seq| Message::Ping {
            link,
            seq,
            epoch,
            round,
        });
        self.check_confirmations();
        Some(round)
    }

    fn check_confirmations(&mut self) {
        let round = self.confirmed_candidate();
        let leading = self.leading();
        if round > leading.confirmed_round {
            leading.confirmed_round = round;
            self.out.push(Action::LeadershipConfirmed { round });
        }
    }

    pub(crate) fn leader_propose(&mut self, data: Bytes) -> Result<Zxid, NotLeader> {
        let not_leader = self.not_leader();
        let Role::Leading(leading) = &mut self.role else {
            return Err(not_leader);
        };
        if leading.phase != LeaderPhase::Broadcast {
            return Err(not_leader);
        }
        let Some(counter) = leading.counter.checked_add(1) else {
            // The counter is exhausted: a new epoch is needed (ZooKeeper does the same).
            self.go_looking();
            return Err(self.not_leader());
        };
        leading.counter = counter;
        let epoch = leading.epoch.expect("epoch chosen");
        let zxid = Zxid { epoch, counter };
        let txn = Txn { zxid, data };
        self.history.append(txn.clone());
        self.out.push(Action::Append(vec![txn.clone()]));
        for to in self.leading_ref().proposal_receivers() {
            self.send_on_link(to, |link, seq| Message::Propose {
                link,
                seq,
                epoch,
                txn: txn.clone(),
            });
        }
        Ok(zxid)
    }
}
