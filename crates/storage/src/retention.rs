//! Retention like ZooKeeper's autopurge: keep the newest N snapshots and the log records
//! they need.

use crate::error::Result;
use crate::traits::{SnapshotStore, TxnLog};

/// Deletes all but the newest `keep` snapshots, then the log segments whose records are all
/// covered by the oldest snapshot kept. Replaying from any kept snapshot stays possible.
pub fn purge(snapshots: &mut dyn SnapshotStore, log: &mut dyn TxnLog, keep: usize) -> Result<()> {
    if let Some(oldest_kept) = snapshots.purge(keep)? {
        log.purge_through(oldest_kept)?;
    }
    Ok(())
}
