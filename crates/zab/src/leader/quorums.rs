//! How a leader counts its quorums while the configuration may be changing.
//!
//! Every decision — choosing the epoch, ending discovery, establishment, leadership
//! confirmation and the liveness check — needs a quorum of *every* configuration in force: the
//! active one and each proposed after it. Commits are counted per transaction: one before a
//! pending configuration's own zxid needs the active configuration only; from it on, both. So
//! no two configurations that may be active can ever commit with disjoint quorums.

use super::{Leading, Learner, LearnerState};
use crate::config::Bug;
use crate::membership::Membership;
use crate::peer::Peer;
use crate::types::{ServerId, Zxid};

/// Who counts in a configuration (the broken variants count wrongly).
#[derive(Clone, Copy)]
pub(super) struct Counting {
    me: ServerId,
    observers_count: bool,
    removed_leader_counts: bool,
}

impl Counting {
    fn counts(&self, m: &Membership, id: ServerId) -> bool {
        m.is_voter(id)
            || (self.observers_count && m.is_member(id))
            || (self.removed_leader_counts && id == self.me)
    }
}

impl Leading {
    /// Whether, in every configuration of `views`, the leader (when `own`) and the learners for
    /// which `yes` holds include a quorum of its voters.
    pub(super) fn quorum_everywhere<'a>(
        &self,
        views: impl IntoIterator<Item = &'a Membership>,
        c: Counting,
        own: bool,
        yes: impl Fn(&Learner) -> bool,
    ) -> bool {
        views.into_iter().all(|m| {
            let mine = usize::from(own && c.counts(m, c.me));
            let theirs = self
                .learners
                .iter()
                .filter(|(&id, l)| c.counts(m, id) && yes(l))
                .count();
            mine + theirs >= m.quorum_size()
        })
    }

    /// The largest value reached by `needed` of the servers counted in `m` (the leader's own
    /// value is `own`; a learner without a value is not counted).
    pub(super) fn quorum_value<T: Ord + Copy>(
        &self,
        m: &Membership,
        c: Counting,
        own: T,
        needed: usize,
        value: impl Fn(&Learner) -> Option<T>,
    ) -> Option<T> {
        let mut values: Vec<T> = self
            .learners
            .iter()
            .filter(|(&id, _)| c.counts(m, id))
            .filter_map(|(_, l)| value(l))
            .collect();
        if c.counts(m, c.me) {
            values.push(own);
        }
        values.sort_unstable_by(|a, b| b.cmp(a));
        values.get(needed.max(1) - 1).copied()
    }
}

impl Peer {
    pub(super) fn counting(&self) -> Counting {
        Counting {
            me: self.cfg.id,
            observers_count: self.cfg.has_bug(Bug::ObserverCounts),
            removed_leader_counts: self.cfg.has_bug(Bug::RemovedLeaderLeads),
        }
    }

    /// Whether the leader (when `own`) and the learners for which `yes` holds are a quorum of
    /// every configuration in force.
    pub(super) fn leader_has_quorum(&self, own: bool, yes: impl Fn(&Learner) -> bool) -> bool {
        self.leading_ref()
            .quorum_everywhere(self.in_force(), self.counting(), own, yes)
    }

    /// The highest zxid that may be committed: durable on a quorum of the active configuration
    /// and, from each pending configuration's own zxid on, on a quorum of that one too.
    pub(super) fn commit_candidate(&self) -> Zxid {
        let leading = self.leading_ref();
        let c = self.counting();
        let minority = self.cfg.has_bug(Bug::CommitOnMinority);
        let needed = |m: &Membership| if minority { 1 } else { m.quorum_size() };
        let durable = self.history.durable();
        let acked = |l: &Learner| (l.state == LearnerState::Active).then_some(l.acked);
        let reached = |m: &Membership| {
            leading
                .quorum_value(m, c, durable, needed(m), acked)
                .unwrap_or(Zxid::ZERO)
        };
        if self.cfg.has_bug(Bug::OldQuorumOnly) {
            return reached(self.active_membership());
        }
        let pending = self.pending_memberships();
        if let Some(newest) = pending
            .last()
            .filter(|_| self.cfg.has_bug(Bug::NewQuorumOnly))
        {
            return reached(newest);
        }
        let mut point = reached(self.active_membership());
        for m in pending {
            if point < m.version {
                break;
            }
            let theirs = reached(m);
            if theirs < m.version {
                point = self.history.point_before(m.version);
                break;
            }
            point = point.min(theirs);
        }
        point
    }

    /// The highest leadership-confirmation round answered by a quorum of every configuration
    /// in force (the leader's own round included).
    pub(super) fn confirmed_candidate(&self) -> u64 {
        let leading = self.leading_ref();
        let c = self.counting();
        let without_quorum = self.cfg.has_bug(Bug::ConfirmWithoutQuorum);
        let answered = |l: &Learner| (l.state == LearnerState::Active).then_some(l.confirmed_round);
        self.in_force()
            .map(|m| {
                let needed = if without_quorum { 1 } else { m.quorum_size() };
                leading
                    .quorum_value(m, c, leading.confirm_round, needed, answered)
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0)
    }
}
