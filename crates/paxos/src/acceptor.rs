//! The acceptor: the protocol's memory.
//!
//! It keeps two things, both durable: the highest ballot it promised (a fence: it refuses every
//! Prepare and Accept below it) and the highest-ballot proposal it accepted (which it reports in
//! every promise, so that a later proposer carries a possibly chosen value forward). Its
//! answers are held by the node until the state they reveal is durable (see [`crate::gate`]).

use crate::ballot::Ballot;
use crate::bug::Bug;
use crate::message::{Message, Value};

/// One acceptor's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acceptor {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// The highest-ballot proposal accepted.
    pub accepted: Option<(Ballot, Value)>,
}

/// An acceptor's answer, and whether its durable state changed (must be persisted first).
pub struct Answer {
    pub reply: Message,
    pub changed: bool,
}

impl Acceptor {
    /// The state a restarted acceptor resumes from: what its disk held.
    pub fn restore(promised: Ballot, accepted: Option<(Ballot, Value)>, bug: Option<Bug>) -> Self {
        let promised = if bug == Some(Bug::ForgetPromise) {
            // Broken: the promise is forgotten; only the accepted ballot is remembered.
            accepted.as_ref().map_or(Ballot::ZERO, |(b, _)| *b)
        } else {
            promised
        };
        Acceptor { promised, accepted }
    }

    /// Phase 1: promise `ballot` unless a higher one was promised. A repeated Prepare of the
    /// promised ballot (a duplicate) gets the same promise again.
    pub fn on_prepare(&mut self, ballot: Ballot) -> Answer {
        if ballot < self.promised {
            return self.refuse(ballot);
        }
        let changed = ballot != self.promised;
        self.promised = ballot;
        Answer {
            reply: Message::Promise {
                ballot,
                accepted: self.accepted.clone(),
            },
            changed,
        }
    }

    /// Phase 2: accept `value` in `ballot` unless a higher ballot was promised.
    pub fn on_accept(&mut self, ballot: Ballot, value: Value, bug: Option<Bug>) -> Answer {
        if ballot < self.promised && bug != Some(Bug::AcceptBelowPromise) {
            return self.refuse(ballot);
        }
        let proposal = Some((ballot, value.clone()));
        let changed = self.accepted != proposal || ballot > self.promised;
        self.promised = self.promised.max(ballot);
        self.accepted = proposal;
        Answer {
            reply: Message::Accepted { ballot, value },
            changed,
        }
    }

    fn refuse(&self, ballot: Ballot) -> Answer {
        Answer {
            reply: Message::Nack {
                ballot,
                promised: self.promised,
            },
            changed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_holds() {
        let mut a = Acceptor::default();
        assert!(a.on_prepare(Ballot::new(2, 2)).changed);
        let refused = a.on_accept(Ballot::new(1, 1), "red".into(), None);
        assert!(matches!(refused.reply, Message::Nack { .. }));
        assert!(!refused.changed);
        let ok = a.on_accept(Ballot::new(2, 2), "blue".into(), None);
        assert!(matches!(ok.reply, Message::Accepted { .. }));
        match a.on_prepare(Ballot::new(3, 1)).reply {
            Message::Promise { accepted, .. } => {
                assert_eq!(accepted, Some((Ballot::new(2, 2), "blue".into())))
            }
            other => panic!("{other:?}"),
        }
    }
}
