//! When to take a periodic snapshot.
//!
//! ZooKeeper snapshots every `snapCount` transactions, off the request path. Here too: the core
//! task only freezes the tree (O(1), see `tree::node_map`) and the snapshot writer serializes
//! it. But writing a snapshot still costs a CPU and the disk for as long as it takes, which
//! grows with the tree, and while it runs every node changed is held twice; what a snapshot
//! saves, replaying the log at recovery, grows with the log written since the previous one. So
//! a snapshot waits for `snapCount` delivered transactions *and* for the log written since the
//! last snapshot to reach a quarter of that snapshot's size: a small tree is snapshotted every
//! `snapCount` transactions, as in ZooKeeper; a 200 MB tree updated with 200-byte transactions
//! every 250,000 or so. Recovery then replays at most about a quarter of a snapshot's bytes of
//! log beyond `snapCount` transactions. A snapshot falls due again while the previous one is
//! still being written only on a slow disk; it then waits for that one.

/// The log written since the last snapshot must reach 1/`LOG_PER_SNAPSHOT` of its size.
const LOG_PER_SNAPSHOT: u64 = 4;

/// Counts what was delivered since the last snapshot.
#[derive(Debug)]
pub struct SnapshotPolicy {
    snap_count: u64,
    txns: u64,
    log_bytes: u64,
    last_snapshot_bytes: u64,
}

impl SnapshotPolicy {
    /// A policy for `snap_count`, starting after a snapshot of `last_snapshot_bytes` (0 when
    /// the server starts without one).
    pub fn new(snap_count: u64, last_snapshot_bytes: usize) -> SnapshotPolicy {
        SnapshotPolicy {
            snap_count: snap_count.max(2),
            txns: 0,
            log_bytes: 0,
            last_snapshot_bytes: last_snapshot_bytes as u64,
        }
    }

    /// A transaction whose payload is `payload` bytes was delivered.
    pub fn delivered(&mut self, payload: usize) {
        self.txns += 1;
        self.log_bytes += (payload + storage::RECORD_OVERHEAD) as u64;
    }

    /// Whether to snapshot now.
    pub fn due(&self) -> bool {
        self.txns >= self.snap_count
            && self.log_bytes.saturating_mul(LOG_PER_SNAPSHOT) >= self.last_snapshot_bytes
    }

    /// A snapshot of `bytes` was taken.
    pub fn taken(&mut self, bytes: usize) {
        self.txns = 0;
        self.log_bytes = 0;
        self.last_snapshot_bytes = bytes as u64;
    }
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
    fn a_small_tree_is_snapshotted_every_snap_count() {
        let mut p = SnapshotPolicy::new(1000, 0);
        assert_eq!(deliveries_until_due(&mut p, 100), 1000);
        p.taken(50_000);
        assert_eq!(deliveries_until_due(&mut p, 100), 1000);
    }

    #[test]
    fn a_big_tree_waits_for_a_quarter_of_its_size_in_log() {
        let mut p = SnapshotPolicy::new(1000, 0);
        p.taken(40_000_000);
        // 10 MB of log at 179 + 21 bytes a record.
        assert_eq!(deliveries_until_due(&mut p, 179), 50_000);
    }
}
