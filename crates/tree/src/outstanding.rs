//! What prep has promised but apply has not yet done: ZooKeeper's `outstandingChanges`.
//!
//! The leader preps request N+1 before txn N is committed and applied. To decide request N+1
//! correctly (versions, existence, sequence numbers, ACLs, sessions) prep reads the latest
//! pending record for a path first and the tree only when there is none. Records carry the
//! zxid of the txn that made them; once the tree has applied that zxid they are dropped
//! ([`Outstanding::applied`]). A leader that loses leadership discards them all
//! ([`Outstanding::clear`]).

use std::collections::VecDeque;
use zxid::Zxid;

use crate::acl_cache::SharedAcl;
use crate::FastMap;

use crate::node::NodeKind;
use crate::tree::DataTree;

/// The fields of a node prep decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNode {
    /// Data version.
    pub version: i32,
    /// Child version (next sequence number).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Number of children.
    pub child_count: i32,
    /// The ACL in force.
    pub acl: SharedAcl,
    /// Kind (and ephemeral owner).
    pub kind: NodeKind,
}

impl PendingNode {
    /// The record for a node as the tree has it.
    pub fn from_tree(tree: &DataTree, path: &str) -> Option<PendingNode> {
        tree.node(path).map(|n| PendingNode {
            version: n.stat.version,
            cversion: n.stat.cversion,
            aversion: n.stat.aversion,
            child_count: n.num_children(),
            acl: n.acl.clone(),
            kind: n.kind(),
        })
    }
}

/// A pending session change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingSession {
    /// createSession prepped.
    Open,
    /// closeSession prepped: further writes get SessionExpired.
    Closing,
}

#[derive(Debug, Clone)]
struct Entry<T> {
    zxid: Zxid,
    value: T,
}

/// Pending changes by path (`None` = pending delete) and by session.
#[derive(Debug, Clone, Default)]
pub struct Outstanding {
    paths: FastMap<String, Entry<Option<PendingNode>>>,
    /// Every change prepped, in order, with what it made the path: deleted (`None`) or a node
    /// of a kind; a path's later changes do not hide its earlier ones here.
    path_order: VecDeque<(Zxid, String, Option<NodeKind>)>,
    sessions: FastMap<i64, Entry<PendingSession>>,
    session_order: VecDeque<(Zxid, i64)>,
}

impl Outstanding {
    /// Nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// The latest pending record for `path`: `Some(None)` for a pending delete.
    pub fn get(&self, path: &str) -> Option<&Option<PendingNode>> {
        self.paths.get(path).map(|e| &e.value)
    }

    /// The pending state of a session.
    pub fn session(&self, id: i64) -> Option<PendingSession> {
        self.sessions.get(&id).map(|e| e.value)
    }

    /// Every path with a pending record and that record, in the order they were prepped
    /// (zxid, then path): never in a hash map's order, which differs between processes, since
    /// what prep makes of it goes into a transaction.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Option<PendingNode>)> {
        let mut entries: Vec<(&String, &Entry<Option<PendingNode>>)> = self.paths.iter().collect();
        entries.sort_by(|a, b| (a.1.zxid, a.0).cmp(&(b.1.zxid, b.0)));
        entries.into_iter().map(|(p, e)| (p.as_str(), &e.value))
    }

    /// Every pending change, in prep order (each op of a multi on its own), as what it made
    /// its path: deleted (`None`) or a node of a kind. ZooKeeper's closeSession walks its
    /// pending change records this way.
    pub fn changes(&self) -> impl Iterator<Item = (&str, Option<NodeKind>)> {
        self.path_order.iter().map(|(_, p, k)| (p.as_str(), *k))
    }

    /// Number of paths and sessions with pending records.
    pub fn len(&self) -> usize {
        self.paths.len() + self.sessions.len()
    }

    /// Nothing pending.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.sessions.is_empty()
    }

    /// Records the txn `zxid`'s changes: `latest`, each changed path's final record, and
    /// `each`, every change it made in order (a multi may change a path more than once), as
    /// what it made the path. Every path of `latest` is in `each`.
    pub(crate) fn put(
        &mut self,
        zxid: Zxid,
        latest: Vec<(String, Option<PendingNode>)>,
        each: Vec<(String, Option<NodeKind>)>,
    ) {
        debug_assert!(latest.iter().all(|(p, _)| each.iter().any(|(q, _)| q == p)));
        self.path_order
            .extend(each.into_iter().map(|(path, kind)| (zxid, path, kind)));
        for (path, value) in latest {
            self.paths.insert(path, Entry { zxid, value });
        }
    }

    pub(crate) fn put_session(&mut self, zxid: Zxid, id: i64, value: PendingSession) {
        self.session_order.push_back((zxid, id));
        self.sessions.insert(id, Entry { zxid, value });
    }

    /// The tree has applied every txn up to `zxid`: drop the records they made (a record
    /// overwritten by a later txn stays until that one is applied too).
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some((z, _, _)) = self.path_order.front() {
            if *z > zxid {
                break;
            }
            let (_, path, _) = self.path_order.pop_front().expect("front exists");
            if self.paths.get(&path).is_some_and(|e| e.zxid <= zxid) {
                self.paths.remove(&path);
            }
        }
        while let Some((z, _)) = self.session_order.front() {
            if *z > zxid {
                break;
            }
            let (_, id) = self.session_order.pop_front().expect("front exists");
            if self.sessions.get(&id).is_some_and(|e| e.zxid <= zxid) {
                self.sessions.remove(&id);
            }
        }
    }

    /// Forget everything (leadership lost; the txns may never commit).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}
