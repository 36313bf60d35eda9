//! The messages processes exchange, named as in the talk.

use std::fmt;

use crate::ballot::Ballot;

/// A proposed value (in the talk, a colour).
pub type Value = String;

/// One message between processes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Phase 1a, proposer → acceptors: "promise to ignore every ballot below `ballot`".
    Prepare { ballot: Ballot },
    /// Phase 1b, acceptor → proposer: the promise, with the highest-ballot proposal the
    /// acceptor has accepted (the proposer must propose that value, if any).
    Promise {
        ballot: Ballot,
        accepted: Option<(Ballot, Value)>,
    },
    /// Phase 2a, proposer → acceptors: "accept `value` in `ballot`".
    Accept { ballot: Ballot, value: Value },
    /// Phase 2b, acceptor → proposer: the proposal is accepted.
    Accepted { ballot: Ballot, value: Value },
    /// An acceptor refuses a Prepare or Accept of `ballot` because it promised `promised`
    /// (higher). Not needed for safety; it tells the proposer which round to overtake.
    Nack { ballot: Ballot, promised: Ballot },
    /// Proposer → learners: `value` is chosen (a quorum accepted it in one ballot).
    Decided { value: Value },
}

impl Message {
    /// The message's name, as in the talk and in trace lines (`type`).
    pub fn name(&self) -> &'static str {
        match self {
            Message::Prepare { .. } => "Prepare",
            Message::Promise { .. } => "Promise",
            Message::Accept { .. } => "Accept",
            Message::Accepted { .. } => "Accepted",
            Message::Nack { .. } => "Nack",
            Message::Decided { .. } => "Decided",
        }
    }

    /// The ballot the message is about (none for Decided).
    pub fn ballot(&self) -> Option<Ballot> {
        match self {
            Message::Prepare { ballot }
            | Message::Promise { ballot, .. }
            | Message::Accept { ballot, .. }
            | Message::Accepted { ballot, .. }
            | Message::Nack { ballot, .. } => Some(*ballot),
            Message::Decided { .. } => None,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Prepare { ballot } => write!(f, "Prepare({ballot})"),
            Message::Promise {
                ballot,
                accepted: None,
            } => write!(f, "Promise({ballot}, nothing accepted)"),
            Message::Promise {
                ballot,
                accepted: Some((b, v)),
            } => write!(f, "Promise({ballot}, accepted {v} in {b})"),
            Message::Accept { ballot, value } => write!(f, "Accept({ballot}, {value})"),
            Message::Accepted { ballot, value } => write!(f, "Accepted({ballot}, {value})"),
            Message::Nack { ballot, promised } => {
                write!(f, "Nack({ballot}: promised {promised})")
            }
            Message::Decided { value } => write!(f, "Decided({value})"),
        }
    }
}
