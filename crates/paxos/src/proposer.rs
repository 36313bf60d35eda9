//! The proposer: runs ballots until a value is chosen.
//!
//! A ballot has two phases. Phase 1 (Prepare/Promise) fences off every lower ballot at a quorum
//! of acceptors and learns what they accepted; phase 2 (Accept/Accepted) proposes a value under
//! the ballot. The value is not free: if any promise reports an accepted proposal, the proposer
//! must take the one with the highest ballot, because that value may already be chosen — only
//! if no acceptor of the quorum accepted anything is its own value safe. Once a quorum accepted
//! in the ballot the value is chosen, and the proposer tells the learners.
//!
//! The proposer has no clock: the driver feeds [`crate::Input::Timeout`] when a ballot seems
//! stuck (lost messages, a competing proposer) and the proposer starts a higher one.

use std::collections::{BTreeMap, BTreeSet};

use crate::ballot::{Ballot, ProcessId};
use crate::bug::Bug;
use crate::message::{Message, Value};

/// Where the current ballot stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No ballot running (never started, refused, or after a restart).
    Idle,
    /// Phase 1: promises received so far, with what each acceptor had accepted.
    Preparing {
        promises: BTreeMap<ProcessId, Option<(Ballot, Value)>>,
    },
    /// Phase 2: `value` proposed; acceptors that accepted it.
    Accepting {
        value: Value,
        accepted: BTreeSet<ProcessId>,
    },
    /// The value was chosen in this ballot.
    Chosen { value: Value },
}

/// One proposer's state.
#[derive(Clone, Debug)]
pub struct Proposer {
    id: ProcessId,
    acceptors: Vec<ProcessId>,
    /// The highest round this proposer used: durable, so that a restarted proposer never reuses
    /// a ballot (it might propose a different value under it).
    pub round: u64,
    /// The highest round seen in any ballot (from refusals): the next ballot overtakes it.
    max_seen: u64,
    /// The value this proposer was asked to propose.
    value: Option<Value>,
    /// The ballot currently run.
    pub ballot: Ballot,
    pub phase: Phase,
}

/// What the proposer wants done: messages to send, and a value it saw chosen.
#[derive(Default)]
pub struct Effects {
    pub sends: Vec<(ProcessId, Message)>,
    pub chosen: Option<Value>,
    /// The durable round changed: persist before the sends leave.
    pub changed: bool,
}

impl Proposer {
    pub fn new(id: ProcessId, acceptors: Vec<ProcessId>, round: u64) -> Proposer {
        Proposer {
            id,
            acceptors,
            round,
            max_seen: round,
            value: None,
            ballot: Ballot::ZERO,
            phase: Phase::Idle,
        }
    }

    fn quorum(&self) -> usize {
        self.acceptors.len() / 2 + 1
    }

    /// Asked to propose `value`: starts a ballot (unless one is running already).
    pub fn propose(&mut self, value: Value) -> Effects {
        self.value = Some(value);
        if self.phase == Phase::Idle {
            self.start()
        } else {
            Effects::default()
        }
    }

    /// The driver's retry timer fired: abandon the current ballot and start a higher one.
    pub fn timeout(&mut self) -> Effects {
        match self.phase {
            Phase::Chosen { .. } => Effects::default(),
            _ if self.value.is_some() => self.start(),
            _ => Effects::default(),
        }
    }

    /// Starts a new ballot above every round this proposer used or saw.
    fn start(&mut self) -> Effects {
        self.round = self.round.max(self.max_seen) + 1;
        self.ballot = Ballot::new(self.round, self.id);
        self.phase = Phase::Preparing {
            promises: BTreeMap::new(),
        };
        let ballot = self.ballot;
        Effects {
            sends: self
                .acceptors
                .iter()
                .map(|&a| (a, Message::Prepare { ballot }))
                .collect(),
            chosen: None,
            changed: true,
        }
    }

    /// A Promise from `from`.
    pub fn on_promise(
        &mut self,
        from: ProcessId,
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
        bug: Option<Bug>,
    ) -> Effects {
        let quorum = self.quorum();
        let Phase::Preparing { promises } = &mut self.phase else {
            return Effects::default();
        };
        if ballot != self.ballot {
            return Effects::default();
        }
        promises.insert(from, accepted);
        if promises.len() < quorum {
            return Effects::default();
        }
        // The highest-ballot accepted proposal among the quorum's promises, if any.
        let highest = promises
            .values()
            .flatten()
            .max_by_key(|(b, _)| *b)
            .map(|(_, v)| v.clone());
        let own = self.value.clone().expect("a ballot runs only with a value");
        let value = match highest {
            Some(v) if bug != Some(Bug::IgnoreAccepted) => v,
            _ => own,
        };
        self.phase = Phase::Accepting {
            value: value.clone(),
            accepted: BTreeSet::new(),
        };
        let sends = self
            .acceptors
            .iter()
            .map(|&a| {
                (
                    a,
                    Message::Accept {
                        ballot,
                        value: value.clone(),
                    },
                )
            })
            .collect();
        Effects {
            sends,
            chosen: None,
            changed: false,
        }
    }

    /// An Accepted from `from`: once a quorum accepted in this ballot, the value is chosen.
    pub fn on_accepted(&mut self, from: ProcessId, ballot: Ballot, bug: Option<Bug>) -> Effects {
        let quorum = if bug == Some(Bug::DecideOnMinority) {
            1
        } else {
            self.quorum()
        };
        let Phase::Accepting { value, accepted } = &mut self.phase else {
            return Effects::default();
        };
        if ballot != self.ballot {
            return Effects::default();
        }
        accepted.insert(from);
        if accepted.len() < quorum {
            return Effects::default();
        }
        let value = value.clone();
        self.phase = Phase::Chosen {
            value: value.clone(),
        };
        Effects {
            sends: Vec::new(),
            chosen: Some(value),
            changed: false,
        }
    }

    /// A ballot seen (its own acceptor's promise, say): the next ballot will overtake it,
    /// rather than start below it only to be refused.
    pub fn observe(&mut self, ballot: Ballot) {
        self.max_seen = self.max_seen.max(ballot.round);
    }

    /// A refusal: remember the round to overtake; a refused ballot is abandoned (the driver's
    /// timeout starts the next one, so duelling proposers do not retry in lockstep).
    pub fn on_nack(&mut self, ballot: Ballot, promised: Ballot) {
        self.max_seen = self.max_seen.max(promised.round);
        if ballot == self.ballot && !matches!(self.phase, Phase::Chosen { .. }) {
            self.phase = Phase::Idle;
        }
    }
}
