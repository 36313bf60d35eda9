//! The leader's side of synchronization: bringing one follower to the leader's history
//! (DIFF, TRUNC, SNAP, then NEWLEADER), and admitting it to broadcast once it acknowledged.

use super::{LeaderPhase, LearnerState};
use crate::config::Bug;
use crate::io::Action;
use crate::message::Message;
use crate::peer::{Peer, Role};
use crate::types::{ServerId, Snapshot, Txn, Zxid};

impl Peer {
    /// Brings one follower to our history: DIFF, TRUNC + DIFF, or SNAP + DIFF, then NEWLEADER.
    pub(super) fn start_sync(&mut self, to: ServerId) {
        let (_, follower_last) = self.leading_ref().learners[&to].position;
        let history = &self.history;
        if history.has_point(follower_last) {
            self.stats.sync_diff += 1;
            self.sync_from(to, follower_last);
        } else if let Some(point) = history.point_at_or_below(follower_last) {
            // The follower holds a suffix this epoch did not keep: drop it.
            self.stats.sync_trunc += 1;
            if !self.cfg.has_bug(Bug::SkipTrunc) {
                let epoch = self.leading_ref().epoch.expect("epoch chosen");
                self.send_on_link(to, |link, seq| Message::Trunc {
                    link,
                    seq,
                    epoch,
                    zxid: point,
                });
            }
            self.sync_from(to, point);
        } else {
            // Behind the history's base (a snapshot the driver compacted to): send the state
            // machine.
            self.sync_by_snapshot(to);
        }
    }

    /// Asks the driver for a snapshot to send SNAP.
    pub(super) fn sync_by_snapshot(&mut self, to: ServerId) {
        self.stats.sync_snap += 1;
        self.leading().learners.get_mut(&to).expect("learner").state = LearnerState::AwaitSnapshot;
        self.out.push(Action::TakeSnapshot { for_server: to });
    }

    pub(crate) fn on_snapshot_taken(&mut self, for_server: ServerId, snapshot: Snapshot) {
        let waiting = match &self.role {
            Role::Leading(l) => l
                .learners
                .get(&for_server)
                .is_some_and(|learner| learner.state == LearnerState::AwaitSnapshot),
            _ => false,
        };
        if !waiting {
            return;
        }
        assert!(
            snapshot.zxid <= self.history.last(),
            "snapshot at {} past the history",
            snapshot.zxid
        );
        if snapshot.zxid < self.history.base() {
            // Taken before a compaction that dropped what the DIFF after it needs: the
            // driver answers later than it asked. A newer one will do.
            self.out.push(Action::TakeSnapshot { for_server });
            return;
        }
        let epoch = self.leading_ref().epoch.expect("epoch chosen");
        let zxid = snapshot.zxid;
        // The configuration in force at the snapshot travels with it: the follower's history
        // starts there, and so does its knowledge of who votes.
        let membership = self.history.membership_at(zxid).clone();
        self.send_on_link(for_server, |link, seq| Message::Snap {
            link,
            seq,
            epoch,
            snapshot,
            membership,
        });
        self.sync_from(for_server, zxid);
    }

    /// Sends DIFF messages with `read` (transactions up to `after` read from the log, if any)
    /// followed by every transaction held after `after`, then NEWLEADER.
    pub(super) fn send_diff_and_new_leader(&mut self, to: ServerId, after: Zxid, read: Vec<Txn>) {
        let epoch = self.leading_ref().epoch.expect("epoch chosen");
        let last = self.history.last();
        let batch_max = self.cfg.diff_batch_max.max(1);
        let mut txns = read
            .into_iter()
            .chain(self.history.held_range(after, last).iter().cloned());
        let mut batches = Vec::new();
        loop {
            let batch: Vec<Txn> = txns.by_ref().take(batch_max).collect();
            // An empty DIFF still goes when there is nothing to send.
            if batch.is_empty() && !batches.is_empty() {
                break;
            }
            let done = batch.len() < batch_max;
            batches.push(batch);
            if done {
                break;
            }
        }
        for txns in batches {
            self.send_on_link(to, |link, seq| Message::Diff {
                link,
                seq,
                epoch,
                txns,
            });
        }
        self.leading().learners.get_mut(&to).expect("learner").state =
            LearnerState::AwaitAckNewLeader(last);
        self.send_on_link(to, |link, seq| Message::NewLeader {
            link,
            seq,
            epoch,
            last_zxid: last,
        });
    }

    pub(super) fn on_ack_new_leader(&mut self, from: ServerId, zxid: Zxid) {
        let learner = self.leading().learners.get_mut(&from).expect("learner");
        if learner.state != LearnerState::AwaitAckNewLeader(zxid) {
            self.stats.protocol_error += 1;
            return;
        }
        learner.state = LearnerState::Active;
        learner.acked = zxid;
        if self.leading_ref().phase == LeaderPhase::Broadcast {
            self.activate(from);
            self.advance_commit();
        } else {
            self.maybe_establish();
        }
    }

    /// A follower acknowledged NEWLEADER while we broadcast: the proposals made since its
    /// NEWLEADER went to it as they were made, so COMMIT-LD with our latest committed zxid is
    /// all it still needs.
    fn activate(&mut self, to: ServerId) {
        let leading = self.leading_ref();
        let (epoch, committed) = (leading.epoch.expect("epoch chosen"), leading.committed);
        self.send_on_link(to, |link, seq| Message::CommitNewLeader {
            link,
            seq,
            epoch,
            committed,
        });
    }
}
