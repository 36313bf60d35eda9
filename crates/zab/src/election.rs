//! Leader election, in the style of ZooKeeper's Fast Leader Election.
//!
//! A looking server votes for itself, then adopts any better vote it hears (votes are ordered
//! by the candidate's currentEpoch, last zxid and id). When a quorum of the votes of its round
//! equal its own, it follows that candidate (or leads, if it is the candidate). A server that
//! hears from an established leader joins it directly.
//!
//! Election only proposes a leader. Safety never rests on it: the prospective leader must
//! still win a quorum in discovery, and abandons if a follower turns out to be ahead.

use std::collections::BTreeMap;

use crate::io::Phase;
use crate::message::{Message, Notification, PeerState, Vote};
use crate::peer::{Peer, Role};
use crate::types::ServerId;

/// The state of a looking server.
#[derive(Debug)]
pub(crate) struct Looking {
    vote: Vote,
    /// Votes of this round, by sender (our own included).
    received: BTreeMap<ServerId, Vote>,
    last_broadcast: u64,
}

impl Looking {
    pub(crate) fn new(now: u64, vote: Vote) -> Looking {
        let mut received = BTreeMap::new();
        received.insert(vote.leader, vote);
        Looking {
            vote,
            received,
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
        let own = self.own_vote();
        let vote = better.filter(|b| b.beats(&own)).unwrap_or(own);
        self.role = Role::Looking(Looking::new(self.now, vote));
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
        let notification = Notification {
            round: self.round,
            state: PeerState::Looking,
            vote: looking.vote,
        };
        for to in self.others() {
            self.send(to, Message::Vote(notification));
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
        })
    }

    pub(crate) fn on_vote(&mut self, from: ServerId, n: Notification) {
        if let Some(mine) = self.settled_notification() {
            // Settled servers only answer looking ones, so that they can find the leader.
            if n.state == PeerState::Looking {
                self.send(from, Message::Vote(mine));
            }
            // The leader we joined is looking again (a later round than the one we joined
            // in): its attempt failed, so do not wait out initLimit for it.
            if let Role::Following(f) = &self.role {
                if f.leader == from && n.state == PeerState::Looking && n.round > f.joined_round {
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
                    self.join(n.vote.leader, 0);
                }
            }
            return;
        }
        match n.state {
            // Observers neither vote nor are voted for: a looking observer only waits for a
            // leader to announce itself, and voters never count an observer's vote.
            PeerState::Looking if self.votes_with(from) => self.on_looking_vote(from, n),
            PeerState::Looking => {}
            // Only a voter can lead: an announcement from a server that votes in no
            // configuration in force here is not followed.
            PeerState::Leading if n.vote.leader == from && self.votes_in_force(from) => {
                self.join(from, n.round)
            }
            PeerState::Leading | PeerState::Following => {}
        }
    }

    fn on_looking_vote(&mut self, from: ServerId, n: Notification) {
        let own = self.own_vote();
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
            let mine = Notification {
                round: self.round,
                state: PeerState::Looking,
                vote: looking.vote,
            };
            self.send(from, Message::Vote(mine));
            return;
        } else if n.vote.beats(&looking.vote) {
            looking.vote = n.vote;
            changed = true;
        }
        looking.received.insert(from, n.vote);
        looking.received.insert(self.cfg.id, looking.vote);
        if changed {
            self.broadcast_vote();
        }
        self.check_election();
    }

    /// Whether this server and `other` take part in the same election: both vote in a
    /// configuration in force here. A removed server's votes are ignored by the servers that
    /// activated its removal.
    fn votes_with(&self, other: ServerId) -> bool {
        self.votes_in_force(self.cfg.id) && self.votes_in_force(other)
    }

    /// Decides once the votes of this round that agree with ours include a quorum of every
    /// configuration in force. An observer (or a removed server) never decides: it joins
    /// whichever leader announces itself.
    fn check_election(&mut self) {
        let Role::Looking(looking) = &self.role else {
            return;
        };
        if !self.votes_in_force(self.cfg.id) {
            return;
        }
        let agrees = |id: ServerId| looking.received.get(&id) == Some(&looking.vote);
        let decided = self
            .in_force()
            .all(|m| m.voters.iter().filter(|&&v| agrees(v)).count() >= m.quorum_size());
        if decided {
            let leader = looking.vote.leader;
            if leader == self.cfg.id {
                self.lead();
            } else {
                self.join(leader, self.round);
            }
        }
    }
}
