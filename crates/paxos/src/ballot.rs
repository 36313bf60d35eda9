//! Ballots: the fence that orders competing proposers.

use std::fmt;

/// A process (proposer, acceptor and learner at once), numbered from 1.
pub type ProcessId = u32;

/// A ballot number `(round, proposer)`, ordered by round and then by proposer id.
///
/// Why the proposer id: two proposers that pick the same round must still get different
/// ballots, or both could get a quorum of promises for "the same" ballot and have different
/// values accepted under it. Making the proposer part of the ballot makes ballots unique per
/// proposer without any coordination; the round lets a proposer overtake anyone it has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    pub round: u64,
    pub proposer: ProcessId,
}

impl Ballot {
    /// Below every real ballot: what an acceptor that promised nothing has promised.
    pub const ZERO: Ballot = Ballot {
        round: 0,
        proposer: 0,
    };

    pub fn new(round: u64, proposer: ProcessId) -> Ballot {
        Ballot { round, proposer }
    }

    pub fn is_zero(self) -> bool {
        self == Ballot::ZERO
    }
}

impl fmt::Display for Ballot {
    /// `2.3`: round 2 of proposer P3 (`0` for [`Ballot::ZERO`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            write!(f, "0")
        } else {
            write!(f, "{}.{}", self.round, self.proposer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_by_round_then_proposer() {
        assert!(Ballot::new(1, 3) < Ballot::new(2, 1));
        assert!(Ballot::new(2, 1) < Ballot::new(2, 2));
        assert!(Ballot::ZERO < Ballot::new(1, 1));
        assert_eq!(Ballot::new(2, 3).to_string(), "2.3");
    }
}
