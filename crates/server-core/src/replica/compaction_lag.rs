//! Where the replica compacts the Zab core's history: one snapshot behind the newest.
//!
//! The history only feeds DIFFs. Without their payloads (the core keeps a bounded tail of
//! them) its transactions cost a slot each, and the log still holds them: at least three
//! snapshots are kept, and the log after the oldest. So the history is compacted to the
//! snapshot *before* the newest, and a follower back within two snapshots of the leader gets
//! a DIFF read from the log where it would get a SNAP.
//!
//! What the core forgets it counts as durable, so each point handed out here is one the disk
//! covers: at a freeze the caller caps it by the log's durable point; once a snapshot is
//! saved, the freeze before it is covered by that snapshot.

use std::collections::VecDeque;

use zab::Zxid;

/// Freezes remembered: the newest, the one before it, and those of saves still under way.
const FREEZES_KEPT: usize = 4;

/// The zxids of the recent snapshots, oldest first.
#[derive(Debug)]
pub struct CompactionLag {
    freezes: VecDeque<Zxid>,
}

impl CompactionLag {
    /// Starting from the snapshot recovered (`Zxid::ZERO` without one): the history's base.
    pub fn new(base: Zxid) -> CompactionLag {
        CompactionLag {
            freezes: VecDeque::from([base]),
        }
    }

    /// A periodic snapshot was frozen at `zxid`: returns the freeze before it, where the
    /// history may be compacted as far as the log is durable.
    pub fn frozen(&mut self, zxid: Zxid) -> Zxid {
        let before = self.freezes.back().copied().unwrap_or(Zxid::ZERO);
        self.freezes.push_back(zxid);
        if self.freezes.len() > FREEZES_KEPT {
            self.freezes.pop_front();
        }
        before
    }

    /// The snapshot frozen at `zxid` is saved: returns the freeze before it, which the saved
    /// snapshot covers, and forgets the freezes older than that.
    pub fn saved(&mut self, zxid: Zxid) -> Zxid {
        let before = self
            .freezes
            .iter()
            .rev()
            .find(|&&f| f < zxid)
            .copied()
            .unwrap_or(Zxid::ZERO);
        self.freezes.retain(|&f| f >= before);
        before
    }

    /// A snapshot at `zxid` was installed from the leader: the core's history starts there.
    pub fn installed(&mut self, zxid: Zxid) {
        self.freezes.clear();
        self.freezes.push_back(zxid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(counter: u32) -> Zxid {
        Zxid::new(1, counter)
    }

    #[test]
    fn compacts_to_the_snapshot_before_the_newest() {
        let mut lag = CompactionLag::new(z(10));
        assert_eq!(lag.frozen(z(100)), z(10));
        assert_eq!(lag.saved(z(100)), z(10));
        assert_eq!(lag.frozen(z(200)), z(100));
        assert_eq!(lag.saved(z(200)), z(100));
    }

    #[test]
    fn a_save_reported_after_the_next_freeze_still_compacts_to_the_freeze_before_it() {
        // A slow disk: freeze 300 happens before the save of 200 is reported.
        let mut lag = CompactionLag::new(z(0));
        lag.frozen(z(100));
        lag.saved(z(100));
        assert_eq!(lag.frozen(z(200)), z(100));
        assert_eq!(lag.frozen(z(300)), z(200));
        assert_eq!(lag.saved(z(200)), z(100), "not 200: 300 is not saved yet");
        assert_eq!(lag.saved(z(300)), z(200));
    }

    #[test]
    fn an_installed_snapshot_starts_again_from_it() {
        let mut lag = CompactionLag::new(z(0));
        lag.frozen(z(100));
        lag.installed(z(500));
        // The save of 100 reported late compacts below the installed base: nothing.
        assert_eq!(lag.saved(z(100)), Zxid::ZERO);
        assert_eq!(lag.frozen(z(600)), z(500));
        assert_eq!(lag.saved(z(600)), z(500));
    }

    #[test]
    fn the_freezes_remembered_are_bounded_while_saves_fail() {
        let mut lag = CompactionLag::new(z(0));
        for i in 1..100 {
            assert_eq!(lag.frozen(z(i * 10)), z((i - 1) * 10));
        }
        assert!(lag.freezes.len() <= FREEZES_KEPT);
    }
}
