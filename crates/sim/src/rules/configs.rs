//! The configurations in force on a server, derived from what the world holds for it — the
//! configuration of its disk's snapshot (or the initial one), every reconfiguration record on
//! its disk, and how far its state machine delivered — never from the core's own bookkeeping.
//! A decision must rest on a quorum of each of them.

use zab::{Membership, Zxid};

use super::Server;
use crate::app::App;
use crate::reconfig;

/// A server's configurations: the one at its snapshot, then each carried by a record after it.
pub struct Configs {
    list: Vec<Membership>,
    /// The newest activation the disk records, and the disk's last record.
    activated: Zxid,
    last: Zxid,
}

impl Configs {
    pub fn of(server: Server<'_>, initial: &Membership) -> Configs {
        let disk = server.disk;
        let snapshot = disk.snapshot.as_ref();
        let base_zxid = snapshot.map_or(Zxid::ZERO, |s| s.zxid);
        let base = snapshot
            .and_then(App::restore)
            .and_then(|app| app.membership())
            .unwrap_or_else(|| initial.clone());
        let carried = disk
            .synced
            .iter()
            .chain(&disk.unsynced)
            .filter(|t| t.zxid > base_zxid)
            .filter_map(|t| {
                reconfig::decode(&t.data).map(|m| Membership {
                    version: t.zxid,
                    ..m
                })
            });
        let last = disk
            .synced
            .iter()
            .chain(&disk.unsynced)
            .map(|t| t.zxid)
            .max()
            .unwrap_or(base_zxid)
            .max(base_zxid);
        Configs {
            list: std::iter::once(base).chain(carried).collect(),
            activated: disk.activated,
            last,
        }
    }

    /// The configuration in force at `zxid`.
    pub fn at(&self, zxid: Zxid) -> &Membership {
        let i = self.list.partition_point(|m| m.version <= zxid).max(1);
        &self.list[i - 1]
    }

    /// The configurations in force for a server that delivered up to `delivered` (or whose
    /// disk records a later activation): the active one and every one proposed after it.
    pub fn in_force(&self, delivered: Zxid) -> Vec<&Membership> {
        let settled = delivered.max(self.activated.min(self.last));
        let active = self.at(settled);
        std::iter::once(active)
            .chain(self.list.iter().filter(|m| m.version > settled))
            .collect()
    }
}

/// The first configuration of `views` in which the servers for which `yes` holds are not a
/// quorum of the voters, with how many of its voters they are.
pub fn short<'a>(
    views: &[&'a Membership],
    yes: impl Fn(zab::ServerId) -> bool,
) -> Option<(&'a Membership, usize)> {
    views.iter().find_map(|m| {
        let votes = m.voters.iter().filter(|&&v| yes(v)).count();
        (votes < m.quorum_size()).then_some((*m, votes))
    })
}

/// How a configuration reads in a violation.
pub fn describe(m: &Membership) -> String {
    let ids: Vec<String> = m.voters.iter().map(|v| v.0.to_string()).collect();
    format!("voters {{{}}} of version {}", ids.join(","), m.version)
}
