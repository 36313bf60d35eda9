//! DIFFs older than the payloads a leader holds in memory: the driver reads them from the log
//! (`Action::ReadLog`), the leader checks the read against its history's zxids, then sends it
//! like any DIFF. A read that fails or does not match turns the sync into a SNAP.

use super::LearnerState;
use crate::config::Bug;
use crate::io::Action;
use crate::peer::{Peer, Role};
use crate::types::{ServerId, Txn, Zxid};

/// Log reads in flight at once (emitted, not yet answered). A follower that rejoins while its
/// read is under way asks for another, and the driver finishes the first anyway; beyond this
/// many, a sync that needs a read gets a SNAP instead.
pub const MAX_LOG_READS_IN_FLIGHT: usize = 4;

impl Peer {
    /// Sends the DIFF of every transaction after `after`, then NEWLEADER; payloads no longer
    /// held in memory are read from the log first.
    pub(super) fn sync_from(&mut self, to: ServerId, after: Zxid) {
        match self.history.unheld_through() {
            Some(up_to) if up_to > after => {
                if self.log_reads_in_flight >= MAX_LOG_READS_IN_FLIGHT {
                    self.stats.log_reads_refused += 1;
                    return self.sync_by_snapshot(to);
                }
                self.read_log(to, after, up_to);
            }
            _ => self.send_diff_and_new_leader(to, after, Vec::new()),
        }
    }

    fn read_log(&mut self, to: ServerId, after: Zxid, up_to: Zxid) {
        self.stats.log_reads += 1;
        self.log_reads_in_flight += 1;
        self.leading().learners.get_mut(&to).expect("learner").state =
            LearnerState::AwaitLog { after, up_to };
        self.out.push(Action::ReadLog {
            for_server: to,
            after,
            up_to,
        });
    }

    /// The oldest point a learner's log read ends at: the payloads after it must stay held
    /// until the read is answered, for its DIFF to go on from memory.
    pub(crate) fn oldest_log_read(&self) -> Option<Zxid> {
        let Role::Leading(leading) = &self.role else {
            return None;
        };
        leading
            .learners
            .values()
            .filter_map(|learner| match learner.state {
                LearnerState::AwaitLog { up_to, .. } => Some(up_to),
                _ => None,
            })
            .min()
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
        self.log_reads_in_flight = self.log_reads_in_flight.saturating_sub(1);
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
        match txns {
            Ok(mut txns) if self.cfg.has_bug(Bug::ShortLogRead) => {
                txns.pop();
                self.send_diff_and_new_leader(for_server, up_to, txns);
            }
            Ok(txns) if self.continues_from_memory(after, up_to, &txns) => {
                self.send_diff_and_new_leader(for_server, up_to, txns);
            }
            _ => {
                // A failed read, or a history compacted past it meanwhile.
                self.stats.log_reads_refused += 1;
                self.sync_by_snapshot(for_server);
            }
        }
    }

    /// Whether `txns` are exactly the history's transactions after `after` up to `up_to`,
    /// `after` still a point of it, and the payloads after `up_to` still held. A compaction
    /// past `after` while the log was read leaves the history (and perhaps the log) without
    /// the transactions just after it, and both would agree on a read with a hole.
    fn continues_from_memory(&self, after: Zxid, up_to: Zxid, txns: &[Txn]) -> bool {
        let held = self.history.range(after, up_to);
        self.history.has_point(after)
            && self.history.unheld_through().is_none_or(|z| z <= up_to)
            && held.len() == txns.len()
            && held.iter().zip(txns).all(|(h, t)| h.zxid == t.zxid)
    }
}
