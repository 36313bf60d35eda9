//! Checks that what a server recovered from its disk is a whole history before it starts.
//! A server that starts from a partial history does not crash at once: it votes, leads or
//! follows with it, and may reuse zxids or lose acknowledged writes. So a missing or damaged
//! piece stops it at start, naming what is missing.

use zab::Zxid;

/// What recovery found on disk.
#[derive(Clone, Copy, Debug)]
pub struct Found {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    /// The snapshot the state was restored from (zero when none).
    pub snapshot: Zxid,
    /// The newest snapshot file by name, valid or not.
    pub newest_snapshot_file: Option<Zxid>,
    /// What the log continues after, and its last record.
    pub log_base: Zxid,
    pub log_last: Zxid,
}

/// Why the recovered state cannot be started from.
pub fn check(found: &Found) -> Result<(), String> {
    // A server holds transactions only of epochs up to the one it accepted (a leader's
    // history, synchronized before its NEWLEADER raises currentEpoch, may be ahead of
    // currentEpoch but never of acceptedEpoch), and currentEpoch never passes acceptedEpoch.
    let last = found.log_last.max(found.snapshot);
    if last.epoch.0 > found.accepted_epoch || found.current_epoch > found.accepted_epoch {
        return Err(format!(
            "the history reaches {last} (epoch {}) but acceptedEpoch is {} and currentEpoch {}: \
             the epoch files are missing or damaged; a server that forgot its epochs could \
             reuse zxids or follow a stale leader, so it does not start",
            last.epoch.0, found.accepted_epoch, found.current_epoch
        ));
    }
    if found.log_base > found.snapshot {
        return Err(format!(
            "the log continues after {} but the state was restored from {}: the transactions \
             between them are in no snapshot and no log segment (a snapshot or log segment \
             is missing)",
            found.log_base,
            describe(found.snapshot)
        ));
    }
    if let Some(newest) = found.newest_snapshot_file {
        if newest > found.snapshot && found.log_last < newest {
            return Err(format!(
                "the newest snapshot ({newest}) is damaged and the log ends at {}: falling \
                 back to {} would lose the transactions up to {newest}",
                found.log_last,
                describe(found.snapshot)
            ));
        }
    }
    Ok(())
}

fn describe(snapshot: Zxid) -> String {
    if snapshot == Zxid::ZERO {
        "no snapshot (the empty tree)".into()
    } else {
        format!("the snapshot at {snapshot}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Found {
        Found {
            accepted_epoch: 3,
            current_epoch: 3,
            snapshot: Zxid::new(2, 50),
            newest_snapshot_file: Some(Zxid::new(2, 50)),
            log_base: Zxid::new(2, 10),
            log_last: Zxid::new(3, 7),
        }
    }

    #[test]
    fn a_whole_history_starts() {
        assert_eq!(check(&healthy()), Ok(()));
        let fresh = Found {
            accepted_epoch: 0,
            current_epoch: 0,
            snapshot: Zxid::ZERO,
            newest_snapshot_file: None,
            log_base: Zxid::ZERO,
            log_last: Zxid::ZERO,
        };
        assert_eq!(check(&fresh), Ok(()));
    }

    #[test]
    fn deleted_epoch_files_are_refused() {
        let found = Found {
            accepted_epoch: 0,
            current_epoch: 0,
            ..healthy()
        };
        let why = check(&found).unwrap_err();
        assert!(why.contains("epoch files are missing"), "{why}");
        let behind = Found {
            accepted_epoch: 2,
            current_epoch: 2,
            ..healthy()
        };
        assert!(check(&behind).is_err());
        // Synchronized from a leader (accepted its epoch) but crashed before its NEWLEADER
        // raised currentEpoch: a history ahead of currentEpoch is fine.
        let mid_sync = Found {
            current_epoch: 1,
            ..healthy()
        };
        assert_eq!(check(&mid_sync), Ok(()));
    }

    #[test]
    fn a_fallback_the_log_does_not_reach_is_refused() {
        // The newest snapshot is damaged; the older one is before the log's base.
        let found = Found {
            snapshot: Zxid::new(2, 5),
            newest_snapshot_file: Some(Zxid::new(2, 50)),
            ..healthy()
        };
        assert!(check(&found).unwrap_err().contains("continues after"));
        // The log reaches back, but not forward to the damaged snapshot.
        let found = Found {
            snapshot: Zxid::new(2, 20),
            newest_snapshot_file: Some(Zxid::new(2, 50)),
            log_last: Zxid::new(2, 40),
            accepted_epoch: 2,
            current_epoch: 2,
            ..healthy()
        };
        assert!(check(&found).unwrap_err().contains("is damaged"));
        // Reaching both ways is fine.
        let found = Found {
            snapshot: Zxid::new(2, 20),
            newest_snapshot_file: Some(Zxid::new(2, 50)),
            ..healthy()
        };
        assert_eq!(check(&found), Ok(()));
    }
}
