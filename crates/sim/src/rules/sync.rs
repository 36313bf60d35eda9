//! Synchronization leaves the follower with the leader's history.
//!
//! The paper (DSN 2011, phase 2) has the leader send its whole initial history with NEWLEADER
//! and the follower adopt it (Zab.tla `FollowerProcessNEWLEADER`: `history' = mhistory`).
//! Quorum's leader sends only the difference from the follower's last zxid, as ZooKeeper does:
//! DIFF when that zxid is in its history, TRUNC then DIFF when the follower holds a suffix the
//! new epoch did not keep, SNAP then DIFF when the follower is too far behind. Whatever it
//! chose, when it sends NEWLEADER(z) the follower's history as reported in ACK-E, with the
//! sync messages of that link applied, must equal the leader's history up to z. A wrong
//! DIFF-versus-TRUNC choice is how ZooKeeper diverged in ZOOKEEPER-1154 and ZOOKEEPER-2418.
//!
//! Histories are compared in full, as zxid sequences: a server's history is the delivered
//! prefix its snapshot stands for, then its log. Zxids suffice: the end-to-end checker holds
//! every zxid to one payload (integrity: broadcast once, delivered as broadcast).

use std::collections::HashMap;

use zab::{Message, ServerId, Zxid};

use super::{violation, Server};
use crate::app::App;
use crate::checker::Violation;
use crate::disk::Disk;

/// One history: the zxid of every transaction, in order.
type History = Vec<Zxid>;

/// The first `count` zxids of the delivered sequence.
fn delivered_prefix(canonical: &[(Zxid, u64)], count: usize) -> History {
    canonical[..count.min(canonical.len())]
        .iter()
        .map(|&(z, _)| z)
        .collect()
}

/// The whole history `disk` holds; `canonical` is the delivered sequence.
pub fn history_of(disk: &Disk, canonical: &[(Zxid, u64)]) -> History {
    let (base, count) = disk.snapshot.as_ref().map_or((Zxid::ZERO, 0), |s| {
        (s.zxid, App::restore(s).map_or(0, |app| app.count as usize))
    });
    let mut history = delivered_prefix(canonical, count);
    let log = disk.synced.iter().chain(&disk.unsynced);
    history.extend(log.map(|t| t.zxid).filter(|&z| z > base));
    history
}

#[derive(Default)]
pub struct Syncs {
    /// Per follower link: the follower's history when it sent ACK-E, with the sync messages
    /// the leader sent on that link applied so far.
    projected: HashMap<(ServerId, u64), History>,
}

impl Syncs {
    pub fn on_send(
        &mut self,
        server: Server<'_>,
        to: ServerId,
        message: &Message,
        canonical: &[(Zxid, u64)],
    ) -> Result<(), Violation> {
        match message {
            Message::AckEpoch { link, .. } => {
                // A follower has one link at a time: forget its older ones.
                self.projected
                    .retain(|(follower, _), _| *follower != server.id);
                let history = history_of(server.disk, canonical);
                self.projected.insert((server.id, *link), history);
            }
            Message::Trunc { link, zxid, .. } => {
                if let Some(history) = self.projected.get_mut(&(to, *link)) {
                    history.retain(|z| z <= zxid);
                }
            }
            Message::Snap { link, snapshot, .. } => {
                if let Some(history) = self.projected.get_mut(&(to, *link)) {
                    let count = App::restore(snapshot).map_or(0, |app| app.count as usize);
                    *history = delivered_prefix(canonical, count);
                }
            }
            Message::Diff { link, txns, .. } => {
                if let Some(history) = self.projected.get_mut(&(to, *link)) {
                    history.extend(txns.iter().map(|t| t.zxid));
                }
            }
            Message::NewLeader {
                link,
                epoch,
                last_zxid,
                ..
            } => {
                let Some(follower) = self.projected.remove(&(to, *link)) else {
                    return Ok(());
                };
                let mut leader = history_of(server.disk, canonical);
                leader.retain(|z| z <= last_zxid);
                if follower != leader {
                    let at = follower
                        .iter()
                        .zip(&leader)
                        .position(|(a, b)| a != b)
                        .unwrap_or(follower.len().min(leader.len()));
                    let show = |h: &History| h.get(at).map_or("nothing".into(), |z| z.to_string());
                    return violation(
                        "synchronization",
                        format!(
                            "{} sent NEWLEADER of {epoch} (history to {last_zxid}) to {to}, whose history after the sync differs from the leader's at position {at}: {} there, the leader {}",
                            server.id,
                            show(&follower),
                            show(&leader)
                        ),
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}
