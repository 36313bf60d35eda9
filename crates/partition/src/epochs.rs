//! The leader-epoch cache: where each leader epoch starts in this replica's log.
//!
//! This is what replaces truncation by high watermark (the KIP-101 bug): a follower asks the
//! leader where its own latest epoch ends in the leader's log and truncates there. An entry is
//! added when a batch of a new epoch is appended (or when a replica starts leading an epoch), and
//! entries beyond a truncation point are dropped with the records.

use crate::ids::{LeaderEpoch, Offset};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochCache {
    /// (epoch, start offset), both strictly increasing.
    entries: Vec<(LeaderEpoch, Offset)>,
}

impl EpochCache {
    /// From entries read back at start; out-of-order entries mean a corrupt checkpoint.
    pub fn from_entries(entries: Vec<(LeaderEpoch, Offset)>) -> Result<EpochCache, String> {
        for pair in entries.windows(2) {
            if pair[0].0 >= pair[1].0 || pair[0].1 > pair[1].1 {
                return Err(format!("epoch cache out of order: {pair:?}"));
            }
        }
        Ok(EpochCache { entries })
    }

    pub fn entries(&self) -> &[(LeaderEpoch, Offset)] {
        &self.entries
    }

    /// The latest epoch this log has records (or a leadership) in.
    pub fn latest(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|&(epoch, _)| epoch)
    }

    /// Records that epoch `epoch` starts at `offset` (a no-op if it is already the latest).
    /// Epochs only grow: an older epoch here is an internal error.
    pub fn assign(&mut self, epoch: LeaderEpoch, offset: Offset) {
        match self.entries.last() {
            Some(&(last, _)) if last == epoch => {}
            Some(&(last, start)) => {
                assert!(
                    epoch > last && offset >= start,
                    "epoch {epoch}@{offset} after {last}@{start}"
                );
                self.entries.push((epoch, offset));
            }
            None => self.entries.push((epoch, offset)),
        }
    }

    /// The answer to OffsetForLeaderEpoch(`epoch`) given this log ends at `log_end`: the largest
    /// epoch ≤ `epoch` known here, and the offset where it ends (the next epoch's start, or the
    /// log end for the latest). None if every known epoch is newer (the asker truncates to 0).
    pub fn end_of(&self, epoch: LeaderEpoch, log_end: Offset) -> Option<(LeaderEpoch, Offset)> {
        let index = self.entries.iter().rposition(|&(e, _)| e <= epoch)?;
        let end = match self.entries.get(index + 1) {
            Some(&(_, next_start)) => next_start,
            None => log_end,
        };
        Some((self.entries[index].0, end))
    }

    /// Drops what starts at or after `offset` (the records there are gone).
    pub fn truncate(&mut self, offset: Offset) {
        self.entries.retain(|&(_, start)| start < offset);
    }

    /// The start offset of `epoch`, if it is known.
    pub fn start_of(&self, epoch: LeaderEpoch) -> Option<Offset> {
        self.entries
            .iter()
            .find(|&&(e, _)| e == epoch)
            .map(|&(_, start)| start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_an_epoch_is_the_next_start() {
        let mut cache = EpochCache::default();
        cache.assign(1, 0);
        cache.assign(1, 5);
        cache.assign(3, 10);
        cache.assign(4, 10);
        assert_eq!(cache.end_of(1, 20), Some((1, 10)));
        assert_eq!(cache.end_of(2, 20), Some((1, 10)));
        assert_eq!(cache.end_of(3, 20), Some((3, 10)));
        assert_eq!(cache.end_of(9, 20), Some((4, 20)));
        assert_eq!(cache.end_of(0, 20), None);
        cache.truncate(10);
        assert_eq!(cache.latest(), Some(1));
        assert!(EpochCache::from_entries(vec![(2, 0), (1, 4)]).is_err());
    }
}
