//! `/zookeeper/config`: the ensemble's dynamic configuration as clients read it.
//!
//! ZooKeeper 3.8 keeps there the text of the membership (`server.N=…` lines and
//! `version=<hex>`), read-only for clients. It changes in two ways, and both are here so that
//! every replica changes it identically:
//! - at start, to the configuration the server was started with ([`DataTree::init_config`]);
//!   ZooKeeper stamps mtime with the wall clock there, which would make replicas differ, so
//!   here it is 0 and nothing changes when the node already holds that configuration;
//! - when a reconfiguration is applied ([`DataTree::replace_config`]), as ZooKeeper's
//!   `setData` of the reconfig transaction: mzxid the transaction's zxid, mtime its time,
//!   version -1 (ZooKeeper's reconfig always writes version -1).
//!
//! The node is in snapshots like any other, so a follower synchronized by SNAP holds the
//! leader's. The digest leaves it out (see [`crate::digest`]): its text is each server's view
//! of the addresses, which may differ between replicas of one history.

use bytes::Bytes;
use proto::{EventType, Stat};
use zxid::Zxid;

use crate::acl_cache::SharedAcl;
use crate::apply::WatchTrigger;
use crate::path::CONFIG;
use crate::thin_bytes::ThinBytes;
use crate::tree::DataTree;

/// What replacing the configuration did: the node's new Stat, and the watch to fire (with the
/// ACL a watcher must be able to READ through to be told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The Stat of `/zookeeper/config` after the change.
    pub stat: Stat,
    /// NodeDataChanged on `/zookeeper/config`.
    pub trigger: WatchTrigger<'static>,
    /// The node's ACL.
    pub acl: SharedAcl,
}

impl DataTree {
    /// Sets `/zookeeper/config` to the configuration the server starts with: `data` (its
    /// text) at `version` (0 for a zoo.cfg's server lines). Returns `None`, changing nothing,
    /// when the node already holds exactly that (a restart, or a tree restored from a snapshot
    /// that has it), so restarts neither fire watches nor move the Stat.
    /// A node holding a newer configuration (a reconfiguration this tree applied, newer than
    /// the server's file — a removed server keeps an older file) is kept.
    pub fn init_config(&mut self, data: Bytes, version: Zxid) -> Option<ConfigChange> {
        let node = self.node(CONFIG)?;
        let same = node.data.as_deref() == Some(&data[..]) && node.stat.mzxid == version.as_i64();
        if same || node.stat.mzxid > version.as_i64() {
            return None;
        }
        self.replace_config(data, version, 0)
    }

    /// Replaces `/zookeeper/config` as an applied reconfiguration does (ZooKeeper's
    /// `setData(CONFIG_NODE, data, -1, zxid, time)`): the new text, mzxid `zxid`, mtime `time`
    /// (the transaction's), version -1. `None` only if the node is missing, which a tree made
    /// by [`DataTree::new`] or restored from a snapshot never is.
    pub fn replace_config(&mut self, data: Bytes, zxid: Zxid, time: i64) -> Option<ConfigChange> {
        let (stat, acl) = self
            .set_data(CONFIG, Some(ThinBytes::new(&data)), -1, zxid, time)
            .ok()?;
        let trigger = WatchTrigger {
            path: CONFIG.into(),
            event: EventType::NodeDataChanged,
        };
        Some(ConfigChange { stat, trigger, acl })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "server.1=a:1:2:participant\nserver.2=b:1:2:participant\nversion=0";

    #[test]
    fn init_sets_the_text_once_with_zookeepers_stat() {
        let mut t = DataTree::new();
        let change = t.init_config(Bytes::from(TEXT), Zxid::ZERO).unwrap();
        assert_eq!(change.trigger.event, EventType::NodeDataChanged);
        let (data, stat, _) = t.get(CONFIG).unwrap();
        assert_eq!(data, Some(TEXT.as_bytes()));
        assert_eq!(
            (stat.czxid, stat.mzxid, stat.ctime, stat.mtime),
            (0, 0, 0, 0)
        );
        assert_eq!(
            (stat.version, stat.aversion, stat.data_length),
            (-1, -1, TEXT.len() as i32)
        );
        assert_eq!(t.digest(), t.compute_digest());
        assert_eq!(
            t.digest(),
            DataTree::new().digest(),
            "the digest leaves the node out"
        );
        let digest = t.digest();
        assert!(t.init_config(Bytes::from(TEXT), Zxid::ZERO).is_none());
        assert_eq!(t.digest(), digest);
    }

    /// A snapshot written when the digest still counted `/zookeeper/config` (in format 1, whose
    /// node hashes were FNV-1a) restores.
    #[test]
    fn snapshots_whose_digest_counted_the_config_node_restore() {
        use crate::digest::legacy_node_hash;
        let t = DataTree::new();
        let mut bytes = Vec::new();
        t.snapshot_to(&mut bytes).unwrap();
        bytes[5] = 1;
        let legacy = t
            .nodes
            .iter()
            .fold(0u64, |sum, n| sum.wrapping_add(legacy_node_hash(n)));
        let config = t.node(CONFIG).unwrap();
        let old = legacy.wrapping_add(crate::digest::legacy_content_hash(config));
        let at = bytes.len() - 8;
        bytes[at..].copy_from_slice(&old.to_be_bytes());
        assert_eq!(DataTree::restore_from(&mut &bytes[..]).unwrap(), t);
        bytes[at..].copy_from_slice(&old.wrapping_add(1).to_be_bytes());
        assert!(DataTree::restore_from(&mut &bytes[..]).is_err());
    }

    #[test]
    fn replace_moves_mzxid_and_mtime_and_snapshots_carry_it() {
        let mut t = DataTree::new();
        t.init_config(Bytes::from(TEXT), Zxid::ZERO);
        let zxid = Zxid::new(1, 7);
        let change = t
            .replace_config(Bytes::from("version=100000007"), zxid, 1234)
            .unwrap();
        assert_eq!(
            (change.stat.mzxid, change.stat.mtime),
            (zxid.as_i64(), 1234)
        );
        assert_eq!(change.stat.version, -1);
        assert_eq!(t.digest(), t.compute_digest());
        let mut bytes = Vec::new();
        t.snapshot_to(&mut bytes).unwrap();
        let restored = DataTree::restore_from(&mut &bytes[..]).unwrap();
        assert_eq!(restored, t);
        assert_eq!(restored.digest(), t.digest());
        // The same configuration at start changes nothing, nor does an older one (a removed
        // server keeps an older file); a newer one does.
        let mut again = restored.clone();
        assert!(again
            .init_config(Bytes::from("version=100000007"), zxid)
            .is_none());
        assert!(again.init_config(Bytes::from(TEXT), Zxid::ZERO).is_none());
        let newer = Zxid::new(2, 0);
        assert!(again.init_config(Bytes::from(TEXT), newer).is_some());
        assert_eq!(again.stat(CONFIG).unwrap().mzxid, newer.as_i64());
    }
}
