//! Leader election, in the style of ZooKeeper's Fast Leader Election.
//!
//! A looking server votes for itself, then adopts any better vote it hears (votes are ordered
//! by the candidate's currentEpoch, last zxid and id). When a quorum of the votes of its round
//! equal its own, it follows that candidate (or leads, if it is the candidate). A server that
//! hears from an established leader joins it directly.
//!
//! Election only proposes a leader. Safety never rests on it: the prospective leader must
//! still win a quorum in discovery, and abandons if a follower turns out to be ahead.

use std::collections::{BTreeMap, BTreeSet};

use crate::io::Phase;
use crate::membership::Membership;
use crate::message::{Message, Notification, PeerState, Vote};
use crate::peer::{Peer, Role};
use crate::types::ServerId;

/// The state of a looking server.
#[derive(Debug)]
pub(crate) struct Looking {
    vote: Vote,
    /// Votes of this round, by sender (our own included).
    received: BTreeMap<ServerId, Vote>,
    /// Servers that answered as settled: sender → the leader it follows (or is).
    settled: BTreeMap<ServerId, ServerId>,
    /// Servers that look for a leader without standing to be one (observers, and voters of a
    /// configuration they have not seen proposed): each joins whichever leader announces itself.
    observing: BTreeSet<ServerId>,
    /// The newest configuration heard in a notification, if newer than any this server's
    /// history carries.
    heard: Option<Membership>,
    last_broadcast: u64,
}

impl Looking {
    /// `me` votes `vote` (for itself, or for a candidate known to be ahead of it).
    pub(crate) fn new(now: u64, me: ServerId, vote: Vote) -> Looking {
        let mut received = BTreeMap::new();
        received.insert(me, vote);
        Looking {
            vote,
            received,
            settled: BTreeMap::new(),
            observing: BTreeSet::new(),
            heard: None,
            last_broadcast: now,
        }
    }
}

impl Peer {
    /// Returns to election: a new round, a vote for ourselves.
    pub(crate) fn go_looking(&mut self) {
        self.go_looking_voting(None);
    }

    /// Returns to election; `better` is a candidate known to be more up to date than this
    /// server (a follower found ahead in discovery), voted for from the start so that the
    /// election converges on it instead of re-electing this server.
    pub(crate) fn go_looking_voting(&mut self, better: Option<Vote>) {
        self.stats.elections += 1;
        self.round += 1;
        let own = self.candidate_vote();
        let vote = better.filter(|b| b.beats(&own)).unwrap_or(own);
        self.role = Role::Looking(Looking::new(self.now, self.cfg.id, vote));
        self.set_phase(Phase::Looking, self.current_epoch);
        self.broadcast_vote();
        self.check_election();
    }

    pub(crate) fn looking_tick(&mut self) {
        let Role::Looking(looking) = &self.role else {
            return;
        };
        if self.now - looking.last_broadcast >= self.cfg.election_resend_ticks {
            self.broadcast_vote();
        }
    }

    fn broadcast_vote(&mut self) {
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        looking.last_broadcast = self.now;
        let state = if self.can_lead() {
            PeerState::Looking
        } else {
            PeerState::Observing
        };
        let Role::Looking(looking) = &self.role else {
            return;
        };
        let notification = Notification {
            round: self.round,
            state,
            vote: looking.vote,
            membership: self.newest_membership().clone(),
        };
        let mut others = self.others();
        if let Some(heard) = &looking.heard {
            others.extend(heard.members().filter(|&m| m != self.cfg.id));
            others.sort_unstable();
            others.dedup();
        }
        for to in others {
            self.send(to, Message::Vote(notification.clone()));
        }
    }

    /// What a following or leading server tells a looking one.
    pub(crate) fn settled_notification(&self) -> Option<Notification> {
        let (state, leader) = match &self.role {
            Role::Looking(_) => return None,
            Role::Following(f) => (PeerState::Following, f.leader),
            Role::Leading(_) => (PeerState::Leading, self.cfg.id),
        };
        let vote = Vote {
            leader,
            epoch: self.accepted_epoch,
            zxid: self.history.last(),
        };
        Some(Notification {
            round: self.round,
            state,
            vote,
            membership: self.newest_membership().clone(),
        })
    }

    /// The configuration a notification carries: the active one (a pending configuration
    /// may never commit; one held by a minority must not move the others' election).
    fn newest_membership(&self) -> &Membership {
        self.active_membership()
    }

    /// The configurations an election is held in: those in force here, unless a newer one was
    /// heard from another server. Election only proposes a leader; discovery counts by the
    /// prospective leader's own history whatever was heard.
    fn election_views(&self) -> Vec<&Membership> {
        if let Role::Looking(Looking {
            heard: Some(heard), ..
        }) = &self.role
        {
            return vec![heard];
        }
        self.in_force().collect()
    }

    /// Whether this server may lead: it votes in a configuration its own history puts in force
    /// (a leader counts by those) and in the configuration of this election.
    fn can_lead(&self) -> bool {
        self.votes_in_force(self.cfg.id) && self.votes_in_election(self.cfg.id)
    }

    /// The vote this server starts a round with: for itself if it may lead; else a vote every
    /// candidate's beats, so that it adopts the best it hears and helps decide.
    fn candidate_vote(&self) -> Vote {
        let own = self.own_vote();
        let may_lead = match &self.role {
            Role::Looking(_) => self.can_lead(),
            _ => self.votes_in_force(self.cfg.id),
        };
        if may_lead {
            own
        } else {
            Vote {
                leader: own.leader,
                epoch: crate::types::Epoch(0),
                zxid: crate::types::Zxid::ZERO,
            }
        }
    }

    fn votes_in_election(&self, id: ServerId) -> bool {
        self.election_views().iter().any(|m| m.is_voter(id))
    }

    /// Remembers a configuration newer than any this server knows, or activates it if this
    /// server's history holds it.
    fn hear(&mut self, membership: &Membership) {
        self.activate_heard(membership);
        let newest = self.newest_membership().version;
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        let known = looking
            .heard
            .as_ref()
            .map_or(newest, |h| h.version.max(newest));
        if membership.version > known {
            looking.heard = Some(membership.clone());
            // The election is now held among other voters: this round may already be decided,
            // or our vote may name a server that cannot lead here any more.
            if !self.votes_in_election(looking_vote_leader(&self.role)) {
                let own = self.candidate_vote();
                if let Role::Looking(looking) = &mut self.role {
                    looking.vote = own;
                    looking.received.insert(self.cfg.id, own);
                }
                self.broadcast_vote();
            }
            self.check_election();
        }
    }

    /// A notification carries its sender's active configuration, one it delivered, so one
    /// committed. If this server holds that very change (a zxid names one proposal) without
    /// having delivered it, it counts it active from now on, as it would after a restart that
    /// read it from the dynamic file: the configuration it replaced is out of force. Without
    /// this, a server that missed the COMMIT would keep counting the old configuration's
    /// voters, and when the change removed one of them that holds more than this server (as a
    /// removed leader does), election would step aside for it and it would never stand.
    fn activate_heard(&mut self, membership: &Membership) {
        let version = membership.version;
        let held = version > self.activated
            && self.history.has_point(version)
            && self.history.membership_at(version) == membership;
        if held && version > self.active_membership().version {
            self.activated = version;
            // Told at once, before any decision this step takes on it: the driver records the
            // activation as it does a delivered one.
            self.after_step();
        }
    }

    pub(crate) fn on_vote(&mut self, from: ServerId, n: Notification) {
        self.hear(&n.membership);
        if let Some(mine) = self.settled_notification() {
            // Settled servers only answer looking ones, so that they can find the leader.
            let asking = matches!(n.state, PeerState::Looking | PeerState::Observing);
            if asking {
                self.send(from, Message::Vote(mine));
            }
            // The leader we joined is looking again (a later round than the one we joined
            // in): its attempt failed, so do not wait out initLimit for it.
            if let Role::Following(f) = &self.role {
                if f.leader == from && asking && n.round > f.joined_round {
                    return self.go_looking();
                }
            }
            // The server we tried to join follows someone else: join that one instead.
            if let Role::Following(f) = &self.role {
                let redirect = f.leader == from
                    && f.awaiting_new_epoch()
                    && n.state == PeerState::Following
                    && n.vote.leader != self.cfg.id;
                if redirect {
                    self.join(n.vote.leader, self.round);
                }
            }
            return;
        }
        match n.state {
            // Observers neither vote nor are voted for: a looking observer only waits for a
            // leader to announce itself, and voters never count an observer's vote.
            PeerState::Looking if self.votes_with(from) => self.on_looking_vote(from, n),
            PeerState::Observing => self.on_observing(from),
            PeerState::Looking => {}
            // A server announcing that it leads is followed even if it does not vote in a
            // configuration known here: this server's view may be stale (it missed the
            // reconfiguration that made the leader a voter, or removed this server), and
            // following is safe — the leader counts quorums by its own configurations and
            // truncates nothing committed.
            PeerState::Leading if n.vote.leader == from => self.join(from, n.round),
            PeerState::Leading | PeerState::Following => self.on_settled(from, n.vote.leader),
        }
    }

    fn on_looking_vote(&mut self, from: ServerId, n: Notification) {
        let own = self.candidate_vote();
        let can_lead = self.can_lead();
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        let mut changed = false;
        if n.round > self.round {
            self.round = n.round;
            looking.received.clear();
            looking.vote = if n.vote.beats(&own) { n.vote } else { own };
            changed = true;
        } else if n.round < self.round {
            // An older round: tell the sender where we are.
            return self.send_vote_to(from);
        } else if n.vote.beats(&looking.vote) {
            looking.vote = n.vote;
            changed = true;
        }
        // A sender that has not heard our better vote is told it at once. It may have sent
        // its own while we still followed a leader both of us then lost, and been answered
        // only with that leader; it would otherwise wait for our next broadcast, 2 ticks (a
        // failover of 0.7–1 s instead of 50 ms, seen under bench-compare).
        // Not from a server that cannot lead when its vote is its own: as `Looking` (see
        // `send_vote_to`) it would be adopted, undoing `on_observing`'s reset.
        let tell = !changed
            && looking.vote.beats(&n.vote)
            && (can_lead || looking.vote.leader != self.cfg.id);
        looking.received.insert(from, n.vote);
        looking.received.insert(self.cfg.id, looking.vote);
        looking.observing.remove(&from);
        if changed {
            self.broadcast_vote();
        } else if tell {
            self.send_vote_to(from);
        }
        self.check_election();
    }

    /// Sends our vote of this round to one server. Always as `Looking`, even from a server
    /// that cannot lead (whose broadcasts say `Observing`): an `Observing` message is answered
    /// by every looking server, and this answer to it would be answered back, forever.
    fn send_vote_to(&mut self, to: ServerId) {
        let Role::Looking(looking) = &self.role else {
            return;
        };
        let mine = Notification {
            round: self.round,
            state: PeerState::Looking,
            vote: looking.vote,
            membership: self.newest_membership().clone(),
        };
        self.send(to, Message::Vote(mine));
    }

    /// `from` looks for a leader without standing to be one. If our vote is for it (adopted
    /// while it could lead, before a reconfiguration removed it), that vote can never win:
    /// go back to our own.
    fn on_observing(&mut self, from: ServerId) {
        let own = self.candidate_vote();
        let me = self.cfg.id;
        let round = self.round;
        let membership = self.newest_membership().clone();
        let standing = self.votes_in_election(me);
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        looking.observing.insert(from);
        if looking.vote.leader != from {
            // Only a server with a vote answers (two without one would answer each other
            // forever).
            if !standing {
                return;
            }
            // Tell it where this election stands: it may vote here without knowing it (a
            // configuration it has only heard of), and no vote of ours may reach it otherwise.
            let mine = Notification {
                round,
                state: PeerState::Looking,
                vote: looking.vote,
                membership,
            };
            self.send(from, Message::Vote(mine));
            // It counts toward our candidate's quorum now (`check_election`).
            return self.check_election();
        }
        looking.vote = own;
        looking.received.remove(&from);
        looking.received.insert(me, own);
        self.broadcast_vote();
        self.check_election();
    }

    /// A settled server told us whom it follows (or that it leads). Servers out of the
    /// election, or with a view of the configuration older than the ensemble's, may never see
    /// an election of theirs decided: the leader may even be a server they do not know, whom
    /// they never send a vote. Like ZooKeeper's `outofelection` set, this joins the leader that
    /// a quorum of some configuration of the election reports (a leader announcing itself is
    /// joined at once, in `on_vote`).
    /// Joining is safe whatever the view: the leader counts its quorums by its own history.
    fn on_settled(&mut self, from: ServerId, leader: ServerId) {
        let Role::Looking(looking) = &mut self.role else {
            return;
        };
        looking.settled.insert(from, leader);
        if leader == self.cfg.id {
            return self.check_election();
        }
        let Role::Looking(looking) = &self.role else {
            return;
        };
        let reports = |id: ServerId| looking.settled.get(&id) == Some(&leader);
        let quorum = self
            .election_views()
            .iter()
            .any(|m| m.voters.iter().filter(|&&v| reports(v)).count() >= m.quorum_size());
        if quorum && leader != self.cfg.id {
            // Joined in our round: the leader's own looking messages of this round (a
            // re-send, or its answer to a vote of ours it had not seen) are not a failed
            // attempt, only those of a later round are.
            self.join(leader, self.round);
        }
    }

    /// Whether this server and `other` take part in the same election: both vote in a
    /// configuration in force here. A removed server's votes are ignored by the servers that
    /// activated its removal.
    fn votes_with(&self, other: ServerId) -> bool {
        self.votes_in_election(self.cfg.id) && self.votes_in_election(other)
    }

    /// Decides once the votes of this round that agree with ours include a quorum of some
    /// configuration of the election (to follow), or of every configuration in force here (to
    /// lead). An observer (or a removed server) never decides: it joins whichever leader
    /// announces itself.
    ///
    /// Following asks for less because election only proposes a leader — the leader needs a
    /// quorum of every configuration in force in discovery, where safety is decided — and a
    /// follower must not wait for what may never come: a server that has not delivered a
    /// committed change may still count the configuration it replaced, whose removed voters
    /// no longer take part. Leading asks for every configuration because discovery will: two
    /// servers that each lead on a quorum of a different configuration (the active one's voter
    /// and the pending one's) would each wait in discovery for the other, round after round.
    /// A voter that looks without standing to lead (it has not seen the proposal that makes
    /// it one) counts toward a leader, whom it will join once announced.
    fn check_election(&mut self) {
        let Role::Looking(looking) = &self.role else {
            return;
        };
        if !self.votes_in_election(self.cfg.id) {
            return;
        }
        // A server that already follows our candidate agrees too (ZooKeeper counts the
        // notifications of settled servers toward the quorum as well).
        let agrees = |id: ServerId| {
            looking.received.get(&id) == Some(&looking.vote)
                || looking.settled.get(&id) == Some(&looking.vote.leader)
        };
        let has_quorum = |m: &Membership, counts: &dyn Fn(ServerId) -> bool| {
            m.voters.iter().filter(|&&v| counts(v)).count() >= m.quorum_size()
        };
        let leader = looking.vote.leader;
        if leader != self.cfg.id {
            if self.election_views().iter().any(|m| has_quorum(m, &agrees)) {
                self.join(leader, self.round);
            }
            return;
        }
        let pliant = |id: ServerId| {
            agrees(id) || (looking.observing.contains(&id) && !looking.received.contains_key(&id))
        };
        let everywhere = self
            .election_views()
            .into_iter()
            .chain(self.in_force())
            .all(|m| has_quorum(m, &pliant));
        if everywhere && self.can_lead() {
            self.lead();
        }
    }
}

fn looking_vote_leader(role: &Role) -> ServerId {
    match role {
        Role::Looking(looking) => looking.vote.leader,
        _ => ServerId(0),
    }
}
