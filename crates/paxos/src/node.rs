//! A process: proposer, acceptor and learner behind one input → actions interface.

use crate::acceptor::Acceptor;
use crate::ballot::{Ballot, ProcessId};
use crate::bug::Bug;
use crate::gate::Gate;
use crate::learner::Learner;
use crate::message::{Message, Value};
use crate::proposer::{Effects, Proposer};

/// How one process is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// This process.
    pub id: ProcessId,
    /// Every process; each is an acceptor and a learner (2f+1 acceptors tolerate f crashes).
    pub processes: Vec<ProcessId>,
    /// A deliberately broken behaviour, for the teeth tests only. It exists only in builds
    /// with the `bugs` cargo feature, which the shipped binary is never built with.
    #[cfg(feature = "bugs")]
    pub bug: Option<Bug>,
}

impl Config {
    pub fn new(id: ProcessId, processes: Vec<ProcessId>) -> Config {
        Config {
            id,
            processes,
            #[cfg(feature = "bugs")]
            bug: None,
        }
    }

    /// The broken variant this process runs (never one, without the `bugs` feature).
    pub fn bug(&self) -> Option<Bug> {
        #[cfg(feature = "bugs")]
        {
            self.bug
        }
        #[cfg(not(feature = "bugs"))]
        {
            None
        }
    }
}

/// Everything a process keeps on disk. Written whole by each [`Action::Persist`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    /// The acceptor's promise.
    pub promised: Ballot,
    /// The acceptor's highest-ballot accepted proposal.
    pub accepted: Option<(Ballot, Value)>,
    /// The proposer's highest round used.
    pub round: u64,
    /// The learner's decision.
    pub decided: Option<Value>,
}

/// What the driver feeds a process.
#[derive(Clone, Debug)]
pub enum Input {
    /// A client asks this process to propose `value` (again, after a restart).
    Propose(Value),
    /// The driver's retry timer: the current ballot seems stuck.
    Timeout,
    /// A message from `from`.
    Receive { from: ProcessId, msg: Message },
    /// Writes up to `seq` (of this incarnation) are durable.
    Durable { seq: u64 },
}

/// What a process asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to `to` (possibly this process itself).
    Send { to: ProcessId, msg: Message },
    /// Write `state` (the whole durable state); report it with [`Input::Durable`] `seq`.
    /// Writes must become durable in order.
    Persist { seq: u64, state: Durable },
    /// This learner decided `value` (reported once, after the decision is durable).
    Decide { value: Value },
}

/// One process.
#[derive(Debug)]
pub struct Node {
    config: Config,
    acceptor: Acceptor,
    proposer: Proposer,
    learner: Learner,
    gate: Gate<Action>,
}

impl Node {
    /// A process booting with `disk` (what its disk holds; `None` for a blank disk).
    pub fn new(config: Config, disk: Option<Durable>) -> Node {
        let disk = disk.unwrap_or_default();
        let bug = config.bug();
        Node {
            acceptor: Acceptor::restore(disk.promised, disk.accepted, bug),
            proposer: Proposer::new(config.id, config.processes.clone(), disk.round),
            learner: Learner {
                decided: disk.decided,
            },
            config,
            gate: Gate::default(),
        }
    }

    pub fn id(&self) -> ProcessId {
        self.config.id
    }

    /// The state that would be persisted now.
    pub fn durable_state(&self) -> Durable {
        Durable {
            promised: self.acceptor.promised,
            accepted: self.acceptor.accepted.clone(),
            round: self.proposer.round,
            decided: self.learner.decided.clone(),
        }
    }

    pub fn acceptor(&self) -> &Acceptor {
        &self.acceptor
    }

    pub fn proposer(&self) -> &Proposer {
        &self.proposer
    }

    pub fn decided(&self) -> Option<&Value> {
        self.learner.decided.as_ref()
    }

    /// Takes one input; returns what to do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        let bug = self.config.bug();
        match input {
            Input::Propose(value) => {
                self.proposer.observe(self.acceptor.promised);
                let effects = self.proposer.propose(value);
                self.apply(effects, &mut out);
            }
            Input::Timeout => {
                if let Some(value) = self.learner.decided.clone() {
                    // Already decided: tell the learners again (they may have missed it).
                    self.tell_learners(value, &mut out);
                } else {
                    self.proposer.observe(self.acceptor.promised);
                    let effects = self.proposer.timeout();
                    self.apply(effects, &mut out);
                }
            }
            Input::Durable { seq } => self.gate.durable(seq, &mut out),
            Input::Receive { from, msg } => match msg {
                Message::Prepare { ballot } => {
                    let answer = self.acceptor.on_prepare(ballot);
                    self.answer(from, answer.reply, answer.changed, &mut out);
                }
                Message::Accept { ballot, value } => {
                    let answer = self.acceptor.on_accept(ballot, value, bug);
                    self.answer(from, answer.reply, answer.changed, &mut out);
                }
                Message::Promise { ballot, accepted } => {
                    let effects = self.proposer.on_promise(from, ballot, accepted, bug);
                    self.apply(effects, &mut out);
                }
                Message::Accepted { ballot, .. } => {
                    let effects = self.proposer.on_accepted(from, ballot, bug);
                    self.apply(effects, &mut out);
                }
                Message::Nack { ballot, promised } => self.proposer.on_nack(ballot, promised),
                Message::Decided { value } => self.learn(value, &mut out),
            },
        }
        out
    }

    /// An acceptor's reply: persisted first if it changed the acceptor's state.
    fn answer(&mut self, to: ProcessId, reply: Message, changed: bool, out: &mut Vec<Action>) {
        if changed {
            self.persist(out);
        }
        self.gate.push(Action::Send { to, msg: reply }, out);
    }

    fn apply(&mut self, effects: Effects, out: &mut Vec<Action>) {
        if effects.changed {
            self.persist(out);
        }
        for (to, msg) in effects.sends {
            self.gate.push(Action::Send { to, msg }, out);
        }
        if let Some(value) = effects.chosen {
            self.learn(value.clone(), out);
            self.tell_learners(value, out);
        }
    }

    fn tell_learners(&mut self, value: Value, out: &mut Vec<Action>) {
        for &to in &self.config.processes {
            if to != self.config.id {
                let msg = Message::Decided {
                    value: value.clone(),
                };
                self.gate.push(Action::Send { to, msg }, out);
            }
        }
    }

    fn learn(&mut self, value: Value, out: &mut Vec<Action>) {
        if self.learner.learn(&value) {
            self.persist(out);
            self.gate.push(Action::Decide { value }, out);
        }
    }

    fn persist(&mut self, out: &mut Vec<Action>) {
        let seq = self.gate.write();
        out.push(Action::Persist {
            seq,
            state: self.durable_state(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: ProcessId) -> Node {
        Node::new(Config::new(id, vec![1, 2, 3]), None)
    }

    #[test]
    fn a_promise_waits_for_its_write() {
        let mut n = node(2);
        let prepare = Message::Prepare {
            ballot: Ballot::new(1, 1),
        };
        let out = n.step(Input::Receive {
            from: 1,
            msg: prepare,
        });
        assert!(matches!(out.as_slice(), [Action::Persist { seq: 1, .. }]));
        let out = n.step(Input::Durable { seq: 1 });
        assert!(matches!(
            out.as_slice(),
            [Action::Send {
                to: 1,
                msg: Message::Promise { .. }
            }]
        ));
    }

    #[test]
    fn the_highest_accepted_value_is_carried_forward() {
        let mut n = node(1);
        n.step(Input::Propose("red".into()));
        n.step(Input::Durable { seq: 1 });
        let ballot = n.proposer().ballot;
        for (from, accepted) in [
            (2, Some((Ballot::new(1, 2), "blue".to_string()))),
            (3, Some((Ballot::new(1, 3), "green".to_string()))),
        ] {
            let out = n.step(Input::Receive {
                from,
                msg: Message::Promise { ballot, accepted },
            });
            if from == 3 {
                assert!(out.iter().all(|a| matches!(
                    a,
                    Action::Send { msg: Message::Accept { value, .. }, .. } if value == "green"
                )));
            }
        }
    }
}
