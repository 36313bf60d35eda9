//! A configuration of the ensemble as a value: who votes, who only learns, and since when.
//!
//! ZooKeeper 3.5 made the server set part of the replicated state: a reconfiguration is a
//! transaction, and the configuration it carries is *proposed* from the moment a server appends
//! it and *active* from the moment it is committed. The core keeps, beside its history, the
//! configuration in force at the history's base and every configuration carried by a
//! transaction after it (see [`crate::history::History`]); which of them a decision must
//! satisfy is decided in [`crate::quorums`].

use crate::types::{ServerId, Zxid};

/// One configuration: the voting members, the observers, and its version — the zxid of the
/// transaction that carried it, or [`Zxid::ZERO`] for the configuration a server was started
/// with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Membership {
    pub version: Zxid,
    /// Sorted, without duplicates.
    pub voters: Vec<ServerId>,
    /// Sorted, without duplicates, disjoint from `voters`.
    pub observers: Vec<ServerId>,
}

/// Recognizes the transactions that carry a configuration. The application owns the payload
/// format; the core asks this function about every transaction it appends, so that it knows the
/// configurations in its history whichever way they arrived (proposal, DIFF, recovery).
/// Returns the configuration without its version (the core sets it to the zxid).
pub type Decoder = fn(&[u8]) -> Option<Membership>;

/// The decoder of an application that never reconfigures.
pub fn no_reconfig(_: &[u8]) -> Option<Membership> {
    None
}

impl Membership {
    /// A configuration of version zero; sorts and de-duplicates, and drops from the observers
    /// anyone who also votes.
    pub fn new(voters: Vec<ServerId>, observers: Vec<ServerId>) -> Membership {
        let mut voters = voters;
        voters.sort_unstable();
        voters.dedup();
        let mut observers = observers;
        observers.retain(|o| !voters.contains(o));
        observers.sort_unstable();
        observers.dedup();
        Membership {
            version: Zxid::ZERO,
            voters,
            observers,
        }
    }

    /// The size of a majority of the voters.
    pub fn quorum_size(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub fn is_voter(&self, id: ServerId) -> bool {
        self.voters.binary_search(&id).is_ok()
    }

    pub fn is_member(&self, id: ServerId) -> bool {
        self.is_voter(id) || self.observers.binary_search(&id).is_ok()
    }

    /// Voters and observers.
    pub fn members(&self) -> impl Iterator<Item = ServerId> + '_ {
        self.voters.iter().chain(&self.observers).copied()
    }

    /// The same members and roles, whatever the version.
    pub fn same_members(&self, other: &Membership) -> bool {
        self.voters == other.voters && self.observers == other.observers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<ServerId> {
        v.iter().copied().map(ServerId).collect()
    }

    #[test]
    fn normalizes_and_counts() {
        let m = Membership::new(ids(&[3, 1, 2, 1]), ids(&[5, 2, 4]));
        assert_eq!(m.voters, ids(&[1, 2, 3]));
        assert_eq!(m.observers, ids(&[4, 5]));
        assert_eq!(m.quorum_size(), 2);
        assert!(m.is_voter(ServerId(2)) && !m.is_voter(ServerId(4)));
        assert!(m.is_member(ServerId(5)) && !m.is_member(ServerId(6)));
        assert_eq!(m.members().count(), 5);
    }
}
