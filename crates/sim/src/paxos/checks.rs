//! The invariants, checked after every step of a run.
//!
//! Safety, at every decision: *agreement* (no two learners decide different values),
//! *validity* (a decided value was proposed) and *integrity* (a learner decides at most once,
//! across all its crashes). A per-step rule, at every send: an acceptor's Promise or Accepted
//! never reveals more than its disk holds (*durable before answering*), and never answers
//! below a promise it ever made durable, in this life or an earlier one (*promise kept*: a
//! promise survives crashes, and a refused ballot stays refused). Liveness is judged by
//! the world: once one proposer runs alone after the heal, every process must decide in time.

use std::collections::{BTreeMap, BTreeSet};

use paxos::{Ballot, Durable, Message, ProcessId, Value};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

/// What the checker has seen so far.
#[derive(Debug, Default)]
pub struct Checker {
    proposed: BTreeSet<Value>,
    decisions: BTreeMap<ProcessId, Value>,
}

impl Checker {
    pub fn new(proposed: impl IntoIterator<Item = Value>) -> Checker {
        Checker {
            proposed: proposed.into_iter().collect(),
            decisions: BTreeMap::new(),
        }
    }

    /// How many processes decided.
    pub fn decided(&self) -> usize {
        self.decisions.len()
    }

    /// The value decided, if any process decided.
    pub fn value(&self) -> Option<&Value> {
        self.decisions.values().next()
    }

    /// A learner decided.
    pub fn decide(&mut self, server: ProcessId, value: &Value) -> Result<(), Violation> {
        if let Some(before) = self.decisions.get(&server) {
            return Err(Violation {
                invariant: "integrity",
                detail: format!("P{server} decided {value} after deciding {before}"),
            });
        }
        if !self.proposed.contains(value) {
            return Err(Violation {
                invariant: "validity",
                detail: format!("P{server} decided {value}, which nobody proposed"),
            });
        }
        if let Some((other, v)) = self.decisions.iter().find(|(_, v)| *v != value) {
            return Err(Violation {
                invariant: "agreement",
                detail: format!("P{server} decided {value}, P{other} decided {v}"),
            });
        }
        self.decisions.insert(server, value.clone());
        Ok(())
    }

    /// An acceptor with `disk` (its durable state) sends `msg`; `ever` is the highest promise
    /// it ever had durable.
    pub fn answer(
        &self,
        server: ProcessId,
        disk: &Durable,
        ever: Ballot,
        msg: &Message,
    ) -> Result<(), Violation> {
        if let Message::Promise { ballot, .. } | Message::Accepted { ballot, .. } = msg {
            if *ballot < ever {
                return Err(Violation {
                    invariant: "promise kept",
                    detail: format!("P{server} sent {msg} after promising {ever} durably"),
                });
            }
        }
        let ok = match msg {
            Message::Promise { ballot, .. } => disk.promised >= *ballot,
            Message::Accepted { ballot, .. } => {
                disk.accepted.as_ref().is_some_and(|(b, _)| b >= ballot)
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Violation {
                invariant: "durable before answering",
                detail: format!("P{server} sent {msg} while its disk holds {disk:?}"),
            })
        }
    }
}
