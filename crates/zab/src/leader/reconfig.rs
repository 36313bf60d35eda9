//! The leader's side of a reconfiguration: the checks ZooKeeper makes before it proposes one.

use bytes::Bytes;

use super::{LeaderPhase, LearnerState};
use crate::io::ReconfigRefused;
use crate::membership::Membership;
use crate::peer::{Peer, Role};
use crate::types::Zxid;

impl Peer {
    pub(crate) fn leader_propose_reconfig(
        &mut self,
        data: Bytes,
        next: &Membership,
    ) -> Result<Zxid, ReconfigRefused> {
        self.leader_check_reconfig(next)?;
        self.leader_propose(data)
            .map_err(ReconfigRefused::NotLeader)
    }

    /// Whether this server could propose a change to `next` now, and if not why: ZooKeeper's
    /// checks, in its order.
    pub(crate) fn leader_check_reconfig(&self, next: &Membership) -> Result<(), ReconfigRefused> {
        let not_leader = ReconfigRefused::NotLeader(self.not_leader());
        let Role::Leading(leading) = &self.role else {
            return Err(not_leader);
        };
        if leading.phase != LeaderPhase::Broadcast {
            return Err(not_leader);
        }
        if next.voters.is_empty() {
            return Err(ReconfigRefused::NoVoters);
        }
        if self.pending_membership().is_some() {
            return Err(ReconfigRefused::InProgress);
        }
        // The new voters must be able to commit as soon as the change is proposed: a quorum
        // of them already connected and synced (this leader counts if it stays a voter).
        let synced = leading.quorum_everywhere([next], self.counting(), true, |l| {
            l.state == LearnerState::Active
        });
        if !synced {
            return Err(ReconfigRefused::NoQuorum);
        }
        Ok(())
    }
}
