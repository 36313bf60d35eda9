//! A simulated disk: what survives a crash is what was fsynced, plus (as on a real disk, where
//! the page cache may have flushed on its own) an arbitrary prefix of what was not, whose last
//! record may be torn and is then dropped by recovery.

use zab::{Boot, Epoch, ServerId, Snapshot, Txn, Zxid};

use crate::app::App;
use crate::rng::Rng;

#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub accepted_epoch: Epoch,
    pub accepted_leader: ServerId,
    pub current_epoch: Epoch,
    pub snapshot: Option<Snapshot>,
    /// Durable log records (after the snapshot).
    pub synced: Vec<Txn>,
    /// Written but not yet fsynced.
    pub unsynced: Vec<Txn>,
    /// The version of the newest configuration activated (written durably at activation, as
    /// ZooKeeper writes its dynamic configuration file).
    pub activated: Zxid,
}

impl Disk {
    pub fn append(&mut self, txns: &[Txn]) {
        self.unsynced.extend_from_slice(txns);
    }

    /// Makes everything written durable; returns the last durable zxid.
    pub fn fsync(&mut self) -> Option<Zxid> {
        self.synced.append(&mut self.unsynced);
        self.synced.last().map(|t| t.zxid)
    }

    /// The records written with `after < zxid <= up_to`, durable or not, in order.
    pub fn read(&self, after: Zxid, up_to: Zxid) -> Vec<Txn> {
        let written = self.synced.iter().chain(&self.unsynced);
        written
            .filter(|t| after < t.zxid && t.zxid <= up_to)
            .cloned()
            .collect()
    }

    /// Drops every record after `zxid`, written or durable; records at or below it stay as
    /// they are (still waiting for their fsync, if they were).
    pub fn truncate(&mut self, zxid: Zxid) {
        self.synced.retain(|t| t.zxid <= zxid);
        self.unsynced.retain(|t| t.zxid <= zxid);
    }

    pub fn install_snapshot(&mut self, snapshot: Snapshot) {
        self.snapshot = Some(snapshot);
        self.synced.clear();
        self.unsynced.clear();
    }

    /// What a crash in the middle of [`Disk::install_snapshot`] leaves (the crash itself,
    /// [`Disk::crash`], follows). The install writes the snapshot to a temporary file, renames
    /// it into place, then resets the log. If the rename happened (`written`), the new
    /// snapshot stands beside the old log, whose records it covers (they are all below it: a
    /// SNAP goes only to a follower behind the leader's snapshot); if not, the half-written
    /// temporary file is ignored and the old snapshot and log stand.
    pub fn interrupt_install(&mut self, snapshot: Snapshot, written: bool) {
        if written {
            self.snapshot = Some(snapshot);
        }
    }

    /// Takes a snapshot of the application and drops the log records it covers.
    pub fn compact(&mut self, app: &App) {
        let snapshot = app.snapshot();
        self.synced.retain(|t| t.zxid > snapshot.zxid);
        self.unsynced.retain(|t| t.zxid > snapshot.zxid);
        self.snapshot = Some(snapshot);
    }

    /// A crash: unsynced records survive only as a random prefix, and the last of those may be
    /// torn (recovery drops a torn record).
    pub fn crash(&mut self, rng: &mut Rng, torn_writes: bool) {
        let mut kept = if torn_writes {
            rng.below(self.unsynced.len() as u64 + 1) as usize
        } else {
            0
        };
        if kept > 0 && rng.chance(0.5) {
            kept -= 1; // the last surviving record was torn
        }
        let survivors: Vec<Txn> = self.unsynced.drain(..kept).collect();
        self.synced.extend(survivors);
        self.unsynced.clear();
    }

    /// The last zxid of the durable history: the last fsynced record or the snapshot's zxid,
    /// whichever is later (after a crash in the middle of a SNAP install, the log may hold
    /// only records below the new snapshot).
    pub fn durable_end(&self) -> Zxid {
        let snapshot = self.snapshot.as_ref().map_or(Zxid::ZERO, |s| s.zxid);
        self.synced
            .last()
            .map_or(snapshot, |t| t.zxid.max(snapshot))
    }

    /// What the server recovers on start, and the application restored from the snapshot.
    pub fn boot(&self, nonce: u64) -> (Boot, App) {
        let app = self.snapshot.as_ref().map_or_else(App::default, |s| {
            App::restore(s).expect("the simulator only writes its own snapshots")
        });
        let boot = Boot {
            accepted_epoch: self.accepted_epoch,
            accepted_leader: self.accepted_leader,
            current_epoch: self.current_epoch,
            snapshot_zxid: app.zxid,
            log: self.synced.clone(),
            nonce,
            membership: app.membership(),
            activated: self.activated,
        };
        (boot, app)
    }
}
