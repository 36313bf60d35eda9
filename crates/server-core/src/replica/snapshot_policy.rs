//! When to take a periodic snapshot.
//!
//! ZooKeeper snapshots every `snapCount` transactions, off the request path. Here too: the core
//! task only freezes the tree (O(1), see `tree::node_map`) and the snapshot writer serializes
//! it. But writing a snapshot still costs a CPU and the disk for as long as it takes, which
//! grows with the tree, and while it runs every node changed is held twice; what a snapshot
//! saves, replaying the log at recovery, grows with the log written since the previous one. So
//! a snapshot waits for `snapCount` delivered transactions *and* for the log written since the
//! last snapshot to reach a quarter of that snapshot's size on average: a small tree is
//! snapshotted every `snapCount` transactions or less, as in ZooKeeper; a 200 MB tree updated
//! with 200-byte transactions every 250,000 or so. Recovery then replays at most a third of a
//! snapshot's bytes of log beyond `snapCount` transactions. A snapshot falls due again while
//! the previous one is still being written only on a slow disk; it then waits for that one.
//!
//! Both thresholds are scaled, snapshot by snapshot, by a share between a half and the whole,
//! as ZooKeeper rolls `snapCount / 2 + random(snapCount / 2)` (and the log's is a third of the
//! snapshot's size, not a quarter, so that a big tree is not snapshotted more often on
//! average): the servers of an ensemble deliver the same transactions, and with one threshold
//! they all serialize a snapshot at the same moment, each taking a CPU and the disk while the
//! others do too. (A follower restarted while both other servers wrote theirs, a million
//! znodes, three servers on two cores, took twice as long to restore as on a quiet machine.)
//! The share is drawn from the server's id, the start's nonce and the count of snapshots
//! taken, so the simulator replays a run exactly.

use crate::mix::{mix64, GOLDEN};

/// The log written since the last snapshot must reach 1/`LOG_PER_SNAPSHOT` of its size, times
/// the cycle's share.
const LOG_PER_SNAPSHOT: u64 = 3;

/// A threshold's share is in 1/`SHARE_ONE`: from a half to the whole.
const SHARE_ONE: u64 = 1024;

/// Counts what was delivered since the last snapshot.
#[derive(Debug)]
pub struct SnapshotPolicy {
    snap_count: u64,
    txns: u64,
    log_bytes: u64,
    last_snapshot_bytes: u64,
    /// Where this server's shares come from.
    seed: u64,
    /// Snapshots taken since the start: which share is next.
    taken: u64,
    /// This cycle's share of both thresholds.
    share: u64,
}

impl SnapshotPolicy {
    /// A policy for `snap_count`, starting after a snapshot of `last_snapshot_bytes` (0 when
    /// the server starts without one), its shares drawn from `seed`.
    pub fn new(snap_count: u64, last_snapshot_bytes: usize, seed: u64) -> SnapshotPolicy {
        SnapshotPolicy {
            snap_count: snap_count.max(2),
            txns: 0,
            log_bytes: 0,
            last_snapshot_bytes: last_snapshot_bytes as u64,
            seed,
            taken: 0,
            share: share(seed, 0),
        }
    }

    /// A transaction whose payload is `payload` bytes was delivered.
    pub fn delivered(&mut self, payload: usize) {
        self.txns += 1;
        self.log_bytes += (payload + storage::RECORD_OVERHEAD) as u64;
    }

    /// Whether to snapshot now.
    pub fn due(&self) -> bool {
        let one = u128::from(SHARE_ONE);
        let share = |n: u64| u128::from(n) * u128::from(self.share);
        let log = u128::from(self.log_bytes) * u128::from(LOG_PER_SNAPSHOT);
        u128::from(self.txns) * one >= share(self.snap_count)
            && log * one >= share(self.last_snapshot_bytes)
    }

    /// A snapshot of `bytes` was taken.
    pub fn taken(&mut self, bytes: usize) {
        self.txns = 0;
        self.log_bytes = 0;
        self.last_snapshot_bytes = bytes as u64;
        self.taken += 1;
        self.share = share(self.seed, self.taken);
    }
}

/// The share of cycle `n`: SplitMix64's mix of the seed and `n`, onto [½, 1).
fn share(seed: u64, n: u64) -> u64 {
    let z = mix64(seed ^ n.wrapping_add(1).wrapping_mul(GOLDEN));
    SHARE_ONE / 2 + z % (SHARE_ONE / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliveries_until_due(p: &mut SnapshotPolicy, payload: usize) -> u64 {
        let mut n = 0;
        while !p.due() {
            p.delivered(payload);
            n += 1;
        }
        n
    }

    #[test]
    fn a_small_tree_is_snapshotted_after_half_to_all_of_snap_count() {
        let mut p = SnapshotPolicy::new(1000, 0, 7);
        for _ in 0..20 {
            let n = deliveries_until_due(&mut p, 100);
            assert!((500..=1000).contains(&n), "{n}");
            p.taken(50_000);
        }
    }

    #[test]
    fn a_big_tree_waits_for_a_sixth_to_a_third_of_its_size_in_log() {
        let mut p = SnapshotPolicy::new(1000, 0, 7);
        for _ in 0..20 {
            p.taken(40_000_000);
            // 6.7 to 13.3 MB of log at 179 + 21 bytes a record.
            let n = deliveries_until_due(&mut p, 179);
            assert!((33_333..=66_667).contains(&n), "{n}");
        }
    }

    #[test]
    fn servers_snapshot_at_different_points_and_a_seed_always_at_the_same() {
        let points = |seed| {
            let mut p = SnapshotPolicy::new(100_000, 0, seed);
            (0..8)
                .map(|_| {
                    let n = deliveries_until_due(&mut p, 100);
                    p.taken(1_000);
                    n
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(points(1), points(1));
        assert_ne!(points(1), points(2));
        assert_ne!(points(2), points(3));
        let one = points(1);
        let spread = one.iter().max().unwrap() - one.iter().min().unwrap();
        assert!(spread > 5_000, "the shares barely differ: {one:?}");
    }
}
