//! DIFFs older than the payloads a leader holds in memory: the driver reads them from the log
//! (`Action::ReadLog`), the leader checks the read against its history's zxids, then sends it
//! like any DIFF. A read that fails or does not match turns the sync into a SNAP.

use super::LearnerState;
use crate::config::Bug;
use crate::io::Action;
use crate::peer::{Peer, Role};
use crate::types::{ServerId, Txn, Zxid};

impl Peer {
    /// Sends the DIFF of every transaction after `after`, then NEWLEADER; payloads no longer
    /// held in memory are read from the log first.
    pub(super) fn sync_from(&mut self, to: ServerId, after: Zxid) {
        match self.history.unheld_through() {
            Some(up_to) if up_to > after => {
                let learner = self.leading().learners.get_mut(&to).expect("learner");
                learner.log_read.clear();
                self.read_log(to, after, up_to);
            }
            _ => self.send_diff_and_new_leader(to, after, Vec::new()),
        }
    }

    fn read_log(&mut self, to: ServerId, after: Zxid, up_to: Zxid) {
        self.stats.log_reads += 1;
        self.leading().learners.get_mut(&to).expect("learner").state =
            LearnerState::AwaitLog { after, up_to };
        self.out.push(Action::ReadLog {
            for_server: to,
            after,
            up_to,
        });
    }

    /// The driver's answer to [`Action::ReadLog`]. Ignored unless the follower still waits
    /// for exactly this read.
    pub(crate) fn on_log_read(
        &mut self,
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
        txns: Result<Vec<Txn>, String>,
    ) {
        let asked = LearnerState::AwaitLog { after, up_to };
        let waiting = match &self.role {
            Role::Leading(l) => l
                .learners
                .get(&for_server)
                .is_some_and(|learner| learner.state == asked),
            _ => false,
        };
        if !waiting {
            return;
        }
        let txns = match txns {
            Ok(mut txns) if self.cfg.has_bug(Bug::ShortLogRead) => {
                txns.pop();
                txns
            }
            Ok(txns) if self.matches_history(after, up_to, &txns) => txns,
            _ => {
                // A failed read, or a history compacted past it meanwhile.
                self.stats.log_reads_refused += 1;
                return self.sync_by_snapshot(for_server);
            }
        };
        let learner = self
            .leading()
            .learners
            .get_mut(&for_server)
            .expect("learner");
        learner.log_read.extend(txns);
        match self.history.unheld_through() {
            // Payloads dropped while the log was read: read on from where this read ended.
            Some(next) if next > up_to => self.read_log(for_server, up_to, next),
            _ => {
                let learner = self
                    .leading()
                    .learners
                    .get_mut(&for_server)
                    .expect("learner");
                let read = std::mem::take(&mut learner.log_read);
                self.send_diff_and_new_leader(for_server, up_to, read);
            }
        }
    }

    /// Whether `txns` are exactly the history's transactions after `after` up to `up_to`,
    /// `after` still a point of it: a compaction past `after` while the log was read leaves
    /// the history (and perhaps the log) without the transactions just after it, and both
    /// would agree on a read with a hole.
    fn matches_history(&self, after: Zxid, up_to: Zxid, txns: &[Txn]) -> bool {
        let held = self.history.range(after, up_to);
        self.history.has_point(after)
            && held.len() == txns.len()
            && held.iter().zip(txns).all(|(h, t)| h.zxid == t.zxid)
    }
}
