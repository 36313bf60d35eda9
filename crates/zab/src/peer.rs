//! The peer: one server's Zab state machine. Inputs go in through [`Peer::step`], actions come
//! out; nothing here blocks, reads a clock, draws a random number or does IO.
//!
//! The role-specific handlers live in [`crate::election`], [`crate::leader`] and
//! [`crate::follower`]; this file holds the state they share and the dispatch.

use bytes::Bytes;

use crate::config::Config;
use crate::election::Looking;
use crate::follower::Following;
use crate::history::History;
use crate::io::{Action, Boot, Input, NotLeader, Phase, ReconfigRefused};
use crate::leader::Leading;
use crate::membership::Membership;
use crate::message::Message;
use crate::stats::Stats;
use crate::types::{Epoch, ServerId, Zxid};

/// The role a peer plays, with the state of that role.
#[derive(Debug)]
pub(crate) enum Role {
    Looking(Looking),
    Following(Following),
    Leading(Leading),
}

/// One server's Zab state machine.
#[derive(Debug)]
pub struct Peer {
    pub(crate) cfg: Config,
    /// Logical time, in ticks since start.
    pub(crate) now: u64,
    /// Durable: the last epoch this server promised to (NEWEPOCH accepted), and who asked.
    pub(crate) accepted_epoch: Epoch,
    pub(crate) accepted_leader: ServerId,
    /// Durable: the epoch of the last NEWLEADER this server acknowledged (or led).
    pub(crate) current_epoch: Epoch,
    /// The accepted history (its durable part is the log on disk).
    pub(crate) history: History,
    /// The last transaction handed to the state machine.
    pub(crate) delivered: Zxid,
    /// The version of the newest configuration known activated (see [`Boot::activated`]).
    pub(crate) activated: Zxid,
    pub(crate) role: Role,
    /// The election round (Fast Leader Election's logical clock).
    pub(crate) round: u64,
    /// Distinguishes this start of the server from earlier ones (see [`Boot::nonce`]).
    pub(crate) nonce: u64,
    /// How many times this server started following someone: makes fresh link ids.
    pub(crate) joins: u64,
    /// `Action::ReadLog`s emitted and not answered yet, whatever role asked: bounds the reads
    /// queued in the driver when followers rejoin during their reads.
    pub(crate) log_reads_in_flight: usize,
    pub(crate) stats: Stats,
    /// The configuration in force after the last step (to notice when it changes).
    pub(crate) active: Membership,
    /// Actions of the step in progress.
    pub(crate) out: Vec<Action>,
}

impl Peer {
    /// Starts a peer from what its disk holds. It begins by looking for a leader; call
    /// [`Peer::start`] to send its first votes.
    pub fn new(cfg: Config, boot: Boot) -> Peer {
        assert!(
            boot.current_epoch <= boot.accepted_epoch,
            "currentEpoch above acceptedEpoch"
        );
        let base_membership = boot.membership.unwrap_or_else(|| cfg.initial_membership());
        let history =
            History::recovered(boot.snapshot_zxid, boot.log, base_membership, cfg.decoder);
        let looking = Looking::new(
            0,
            cfg.id,
            Self::own_vote_of(&cfg, boot.current_epoch, &history),
        );
        let settled = boot.snapshot_zxid.max(boot.activated.min(history.last()));
        let active = history.membership_at(settled).clone();
        Peer {
            active,
            cfg,
            now: 0,
            accepted_epoch: boot.accepted_epoch,
            accepted_leader: boot.accepted_leader,
            current_epoch: boot.current_epoch,
            delivered: boot.snapshot_zxid,
            activated: boot.activated,
            history,
            role: Role::Looking(looking),
            round: 0,
            nonce: boot.nonce,
            joins: 0,
            log_reads_in_flight: 0,
            stats: Stats::default(),
            out: Vec::new(),
        }
    }

    /// Begins the first election.
    pub fn start(&mut self, out: &mut Vec<Action>) {
        std::mem::swap(&mut self.out, out);
        self.go_looking();
        std::mem::swap(&mut self.out, out);
    }

    /// Feeds one input; the actions to carry out are appended to `out`, in order.
    pub fn step(&mut self, input: Input, out: &mut Vec<Action>) {
        std::mem::swap(&mut self.out, out);
        match input {
            Input::Tick => {
                self.now += 1;
                self.on_tick();
            }
            // Servers outside every configuration known here are heard too: a joining server
            // syncs with the leader before the reconfiguration that adds it, and election only
            // ever counts the voters of the configurations in force.
            Input::Message { from, message } => {
                if from == self.cfg.id {
                    self.stats.unknown_server += 1;
                } else {
                    self.on_message(from, message);
                }
            }
            Input::LogDurable(zxid) => {
                self.history.mark_durable(zxid);
                self.on_durable();
            }
            Input::SnapshotTaken {
                for_server,
                snapshot,
            } => {
                self.on_snapshot_taken(for_server, snapshot);
            }
            Input::LogRead {
                for_server,
                after,
                up_to,
                txns,
            } => self.on_log_read(for_server, after, up_to, txns),
            Input::PeerDisconnected(peer) => {
                if let Role::Following(f) = &self.role {
                    if f.leader == peer {
                        self.go_looking();
                    }
                }
            }
            Input::Compact(zxid) => {
                self.history.compact(zxid.min(self.delivered));
            }
        }
        if self.history.compacting() {
            self.history.compact_some();
        }
        self.drop_payloads();
        self.after_step();
        std::mem::swap(&mut self.out, out);
    }

    /// Reacts to a change of the configuration in force: tells the driver, and a leader that
    /// no longer votes steps down (its successor is elected among the new voters; the COMMIT
    /// that activated the change has already left).
    pub(crate) fn after_step(&mut self) {
        if self.active == *self.active_membership() {
            return;
        }
        self.active = self.active_membership().clone();
        self.stats.reconfigs_activated += 1;
        self.out
            .push(Action::MembershipChanged(self.active.clone()));
        let removed =
            !self.votes_in_force(self.cfg.id) && !self.cfg.has_bug(crate::Bug::RemovedLeaderLeads);
        if matches!(self.role, Role::Leading(_)) && removed {
            self.go_looking();
        }
    }

    /// Broadcasts a new transaction. Only an established leader accepts; the returned zxid
    /// is delivered (everywhere) once a quorum has it durably.
    pub fn propose(&mut self, data: Bytes, out: &mut Vec<Action>) -> Result<Zxid, NotLeader> {
        assert!(
            self.history.is_reconfig(&data).is_none(),
            "a reconfiguration goes through propose_reconfig"
        );
        std::mem::swap(&mut self.out, out);
        let result = self.leader_propose(data);
        std::mem::swap(&mut self.out, out);
        result
    }

    /// Broadcasts a transaction carrying a new configuration (the application's encoding,
    /// recognized by [`Config::decoder`]). Refused while another is pending, when the new
    /// configuration has no voter, or when its voters connected and synced to this leader are
    /// not a quorum of it (a joining server syncs as a learner first). From its proposal until
    /// its commit, every decision needs a quorum of both the active and the new configuration;
    /// it is active once committed, on each server when it delivers it.
    pub fn propose_reconfig(
        &mut self,
        data: Bytes,
        out: &mut Vec<Action>,
    ) -> Result<Zxid, ReconfigRefused> {
        let Some(membership) = self.history.is_reconfig(&data) else {
            return Err(ReconfigRefused::NotAConfiguration);
        };
        std::mem::swap(&mut self.out, out);
        let result = self.leader_propose_reconfig(data, &membership);
        std::mem::swap(&mut self.out, out);
        result
    }

    /// Whether [`Peer::propose_reconfig`] would take a change to `next` now (the checks
    /// without the proposal), so that a server can make its own checks after the core's, in
    /// ZooKeeper's order.
    pub fn check_reconfig(&self, next: &Membership) -> Result<(), ReconfigRefused> {
        self.leader_check_reconfig(next)
    }

    /// On an established leader: starts a round confirming, with a quorum, that this server
    /// still leads; [`Action::LeadershipConfirmed`] follows once a quorum answered. Used to make
    /// `sync` linearizable (a deposed leader cannot confirm). `None` when not leading.
    pub fn confirm_leadership(&mut self, out: &mut Vec<Action>) -> Option<u64> {
        std::mem::swap(&mut self.out, out);
        let round = self.leader_confirm();
        std::mem::swap(&mut self.out, out);
        round
    }

    pub fn id(&self) -> ServerId {
        self.cfg.id
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The configuration in force: the last one carried by a delivered transaction (or the
    /// snapshot's, or the one this server started with).
    pub fn active_membership(&self) -> &Membership {
        self.history.membership_at(self.settled())
    }

    /// A configuration proposed and not yet delivered here, if any.
    pub fn pending_membership(&self) -> Option<&Membership> {
        self.history.changes_after(self.settled()).last()
    }

    /// The point up to which the configurations of the history are known committed: what
    /// was delivered, or the newest configuration activated before a restart.
    fn settled(&self) -> Zxid {
        self.delivered.max(self.activated.min(self.history.last()))
    }

    /// The role and phase, for observers.
    pub fn phase(&self) -> Phase {
        match &self.role {
            Role::Looking(_) => Phase::Looking,
            Role::Following(f) => f.phase_summary(),
            Role::Leading(l) => l.phase_summary(),
        }
    }

    /// Whether this server is an established leader (it accepts proposals).
    pub fn is_leading(&self) -> bool {
        self.phase() == Phase::LeadingBroadcast
    }

    /// On an established leader, the zxid the next [`Peer::propose`] will assign (so the
    /// application can stamp its transaction before proposing it).
    pub fn next_zxid(&self) -> Option<Zxid> {
        match &self.role {
            Role::Leading(l) => l.next_zxid(),
            _ => None,
        }
    }

    /// On a leader: each follower with a link, and whether it is in sync (sent ACK-LD).
    pub fn followers(&self) -> Vec<(ServerId, bool)> {
        match &self.role {
            Role::Leading(l) => l.followers(),
            _ => Vec::new(),
        }
    }

    /// The leader this server follows or is, if any.
    pub fn leader(&self) -> Option<ServerId> {
        match &self.role {
            Role::Looking(_) => None,
            Role::Following(f) => Some(f.leader),
            Role::Leading(_) => Some(self.cfg.id),
        }
    }

    pub fn accepted_epoch(&self) -> Epoch {
        self.accepted_epoch
    }

    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }

    pub fn last_zxid(&self) -> Zxid {
        self.history.last()
    }

    pub fn durable_zxid(&self) -> Zxid {
        self.history.durable()
    }

    pub fn delivered_zxid(&self) -> Zxid {
        self.delivered
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Logical time in ticks.
    pub fn now(&self) -> u64 {
        self.now
    }

    fn on_tick(&mut self) {
        match self.role {
            Role::Looking(_) => self.looking_tick(),
            Role::Following(_) => self.follower_tick(),
            Role::Leading(_) => self.leader_tick(),
        }
    }

    fn on_message(&mut self, from: ServerId, message: Message) {
        if let Message::Vote(notification) = message {
            return self.on_vote(from, notification);
        }
        if matches!(message, Message::CEpoch { .. }) && !matches!(self.role, Role::Leading(_)) {
            // Someone takes us for its leader: tell it whom we follow, if anyone.
            self.stats.stale += 1;
            if let Some(mine) = self.settled_notification() {
                self.send(from, Message::Vote(mine));
            }
            return;
        }
        match self.role {
            Role::Looking(_) => self.stats.stale += 1,
            Role::Following(_) => self.follower_message(from, message),
            Role::Leading(_) => self.leader_message(from, message),
        }
    }

    fn on_durable(&mut self) {
        match self.role {
            Role::Looking(_) => {}
            Role::Following(_) => self.follower_durable(),
            Role::Leading(_) => self.leader_durable(),
        }
    }

    // ---- shared helpers ----

    pub(crate) fn send(&mut self, to: ServerId, message: Message) {
        self.out.push(Action::Send { to, message });
    }

    /// Every other member of every configuration this server knows, voters and observers.
    pub(crate) fn others(&self) -> Vec<ServerId> {
        let me = self.cfg.id;
        let mut everyone: Vec<ServerId> = self
            .history
            .memberships()
            .flat_map(|m| m.members())
            .filter(|&m| m != me)
            .collect();
        everyone.sort_unstable();
        everyone.dedup();
        everyone
    }

    /// The configurations a decision must satisfy now: the active one, then every one
    /// proposed after it (at most one, unless a new leader inherited several).
    pub(crate) fn in_force(&self) -> impl Iterator<Item = &Membership> {
        std::iter::once(self.active_membership()).chain(self.history.changes_after(self.settled()))
    }

    /// The configurations proposed after the active one.
    pub(crate) fn pending_memberships(&self) -> &[Membership] {
        self.history.changes_after(self.settled())
    }

    /// Whether `id` votes in some configuration in force: it may vote, be voted for and lead.
    pub(crate) fn votes_in_force(&self, id: ServerId) -> bool {
        self.in_force().any(|m| m.is_voter(id))
    }

    pub(crate) fn set_phase(&mut self, phase: Phase, epoch: Epoch) {
        self.out.push(Action::PhaseChanged { phase, epoch });
    }

    /// Keeps in memory only the newest payloads (the configured tail) of what is durable and
    /// delivered: the log holds the rest.
    fn drop_payloads(&mut self) {
        let mut through = self.delivered.min(self.history.durable());
        if let Some(read) = self.oldest_log_read() {
            // A read's DIFF goes on with the payloads held after it.
            through = through.min(read);
        }
        let (txns, bytes) = (self.cfg.history_tail_txns, self.cfg.history_tail_bytes);
        self.history.drop_payloads(through, txns, bytes);
    }

    /// Hands every held transaction up to `target` to the state machine, in order.
    pub(crate) fn deliver_upto(&mut self, target: Zxid) {
        if target <= self.delivered {
            return;
        }
        let txns = self.history.held_range(self.delivered, target);
        if let Some(last) = txns.last() {
            let last = last.zxid;
            self.out.extend(txns.iter().cloned().map(Action::Deliver));
            self.delivered = last;
        }
    }

    pub(crate) fn own_vote(&self) -> crate::message::Vote {
        Self::own_vote_of(&self.cfg, self.current_epoch, &self.history)
    }

    fn own_vote_of(cfg: &Config, current_epoch: Epoch, history: &History) -> crate::message::Vote {
        crate::message::Vote {
            leader: cfg.id,
            epoch: current_epoch,
            zxid: history.last(),
        }
    }

    /// Durably promises `epoch` to `leader` (acceptedEpoch).
    pub(crate) fn persist_accepted_epoch(&mut self, epoch: Epoch, leader: ServerId) {
        if (self.accepted_epoch, self.accepted_leader) != (epoch, leader) {
            self.accepted_epoch = epoch;
            self.accepted_leader = leader;
            self.out
                .push(Action::PersistAcceptedEpoch { epoch, leader });
        }
    }

    /// Durably records currentEpoch. Callers must have made the history durable first.
    pub(crate) fn persist_current_epoch(&mut self, epoch: Epoch) {
        assert!(
            epoch <= self.accepted_epoch,
            "currentEpoch {epoch} above acceptedEpoch"
        );
        if self.current_epoch != epoch {
            self.current_epoch = epoch;
            self.out.push(Action::PersistCurrentEpoch(epoch));
        }
    }

    pub(crate) fn not_leader(&self) -> NotLeader {
        NotLeader::NotLeader {
            hint: self.leader().filter(|&l| l != self.cfg.id),
        }
    }
}
