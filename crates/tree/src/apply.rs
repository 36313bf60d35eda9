//! Apply: the one path by which every replica (leader, follower, recovery replay) changes its
//! tree. It follows ZooKeeper's `DataTree.processTxn`, returns what the server needs to
//! answer the client, and lists the watch triggers in the order the changes happened.

use std::borrow::Cow;

use bytes::Bytes;
use proto::{ErrorCode, EventType, MultiResult, Stat};
use smallvec::SmallVec;
use zxid::Zxid;

use crate::acl_cache::SharedAcl;
use crate::path;
use crate::thin_bytes::ThinBytes;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnHeader, TxnRecord};

/// A watch to fire: the server delivers `event` to the watches on `path` (for NodeDeleted,
/// data, exist and child watches of the path; for NodeChildrenChanged, child watches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger<'a> {
    /// The node whose watches fire: borrowed from the applied record (a created node's
    /// parent is a prefix of its path), owned only for the ephemerals a session close finds
    /// by itself. Every replica applies every write, and a restart its whole logged suffix:
    /// a path copied for each trigger was two allocations a create, watched or not.
    pub path: Cow<'a, str>,
    /// What happened to it.
    pub event: EventType,
}

/// What a txn did, for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A node was created at `path` (create answers the path, the others path and stat).
    Created {
        /// The final path.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    },
    /// The node was deleted.
    Deleted,
    /// setData: the node's new Stat.
    DataSet {
        /// The Stat after the write.
        stat: Stat,
    },
    /// setACL: the node's new Stat.
    AclSet {
        /// The Stat after the write.
        stat: Stat,
    },
    /// check passed.
    Checked,
    /// A multi: one result per op, in ZooKeeper's shape (when it failed: ops before the
    /// failing one `Error(Ok)`, the failing one its code, later ones RuntimeInconsistency).
    Multi(Vec<MultiResult>),
    /// The session is open.
    SessionCreated,
    /// The session is gone and its ephemerals deleted.
    SessionClosed,
    /// A reconfiguration: `/zookeeper/config`'s new text and Stat (reconfig answers with both,
    /// as getData does).
    Reconfigured {
        /// The configuration's text.
        data: Bytes,
        /// The Stat of `/zookeeper/config` after the change.
        stat: Stat,
    },
    /// The write failed with this code.
    Error(ErrorCode),
}

impl Outcome {
    /// The code for the reply: the error of a failed single op, the first failure of a multi
    /// (ZooKeeper's `rc.err`; note its reply header for multi still says OK), else Ok.
    pub fn err(&self) -> ErrorCode {
        match self {
            Outcome::Error(c) => *c,
            Outcome::Multi(results) => results
                .iter()
                .find_map(|r| match r {
                    MultiResult::Error { err } if *err != ErrorCode::Ok => Some(*err),
                    _ => None,
                })
                .unwrap_or(ErrorCode::Ok),
            _ => ErrorCode::Ok,
        }
    }
}

/// A txn's triggers: at most two for a single write (the node's, its parent's), held inline.
pub type Triggers<'a> = SmallVec<[WatchTrigger<'a>; 2]>;

/// The ACLs of a txn's triggers, as [`Triggers`].
pub type TriggerAcls = SmallVec<[SharedAcl; 2]>;

/// The result of applying one txn; its trigger paths borrow from the record applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyResult<'a> {
    /// The txn's header (zxid, session, cxid) to route the answer.
    pub header: TxnHeader,
    /// What happened.
    pub outcome: Outcome,
    /// Watches to fire, in order.
    pub triggers: Triggers<'a>,
    /// For each of `triggers` (same index), the ACL a watcher must have READ on to be told:
    /// ZooKeeper 3.8 (with the CVE-2024-23944 fix) checks the watcher's session against it
    /// before sending a notification, and drops the notification (the one-shot watch still
    /// goes) when the check fails. NodeCreated, NodeDataChanged and NodeDeleted carry the ACL
    /// of the node itself (a deleted node's as it was), NodeChildrenChanged the parent's.
    pub trigger_acls: TriggerAcls,
}

impl ApplyResult<'_> {
    /// The result with its trigger paths copied, to keep past the record it was applied from.
    pub fn into_owned(self) -> ApplyResult<'static> {
        let triggers = self
            .triggers
            .into_iter()
            .map(|t| WatchTrigger {
                path: Cow::Owned(t.path.into_owned()),
                event: t.event,
            })
            .collect();
        ApplyResult {
            header: self.header,
            outcome: self.outcome,
            triggers,
            trigger_acls: self.trigger_acls,
        }
    }
}

/// Triggers collected while applying, each with the ACL its delivery is checked against.
#[derive(Default)]
struct Fired<'a> {
    triggers: Triggers<'a>,
    acls: TriggerAcls,
}

impl<'a> Fired<'a> {
    fn fire(&mut self, path: impl Into<Cow<'a, str>>, event: EventType, acl: SharedAcl) {
        self.triggers.push(WatchTrigger {
            path: path.into(),
            event,
        });
        self.acls.push(acl);
    }
}

impl DataTree {
    /// Applies one txn. Deterministic: the same txns in the same order give the same tree,
    /// digest and results everywhere. A txn that cannot apply (it can only happen when replaying
    /// over a state prep did not see) changes nothing and reports its code, as ZooKeeper does.
    pub fn apply<'r>(&mut self, record: &'r TxnRecord) -> ApplyResult<'r> {
        let mut fired = Fired::default();
        let outcome = self.apply_txn(&record.header, &record.txn, &mut fired);
        if record.header.zxid > self.last_zxid {
            self.last_zxid = record.header.zxid;
        }
        ApplyResult {
            header: record.header,
            outcome,
            triggers: fired.triggers,
            trigger_acls: fired.acls,
        }
    }

    fn apply_txn<'r>(&mut self, h: &TxnHeader, txn: &'r Txn, out: &mut Fired<'r>) -> Outcome {
        match txn {
            Txn::Create(c) => match self.create_node(c, h.zxid, h.time_ms) {
                Ok(created) => {
                    out.fire(c.path.as_str(), EventType::NodeCreated, created.acl);
                    if let Some((parent, _)) = path::split(&c.path) {
                        out.fire(parent, EventType::NodeChildrenChanged, created.parent_acl);
                    }
                    Outcome::Created {
                        path: c.path.clone(),
                        stat: created.stat,
                    }
                }
                Err(e) => Outcome::Error(e),
            },
            Txn::Delete { path } | Txn::DeleteContainer { path } => {
                self.delete(Cow::Borrowed(path), h.zxid, out)
            }
            Txn::SetData {
                path,
                data,
                version,
            } => match self.set_data(
                path,
                data.as_deref().map(ThinBytes::new),
                *version,
                h.zxid,
                h.time_ms,
            ) {
                Ok((stat, acl)) => {
                    out.fire(path.as_str(), EventType::NodeDataChanged, acl);
                    Outcome::DataSet { stat }
                }
                Err(e) => Outcome::Error(e),
            },
            Txn::SetAcl {
                path,
                acl,
                aversion,
            } => match self.set_acl(path, acl, *aversion) {
                Ok(stat) => Outcome::AclSet { stat },
                Err(e) => Outcome::Error(e),
            },
            Txn::Check { .. } => Outcome::Checked,
            Txn::Multi(txns) => Outcome::Multi(self.apply_multi(h, txns, out)),
            Txn::CreateSession {
                session_id,
                timeout_ms,
            } => {
                self.open_session(*session_id, *timeout_ms);
                Outcome::SessionCreated
            }
            Txn::CloseSession { session_id, paths } => {
                // The paths prep listed, then whatever else the session still owns (sorted, so
                // every replica deletes in the same order). Missing ones are skipped, as
                // ZooKeeper's killSession does.
                let listed: std::collections::HashSet<&String> = paths.iter().collect();
                let mut owned = self.sessions.ephemeral_set(*session_id);
                owned.retain(|p| !listed.contains(p));
                let named = paths.iter().map(|p| Cow::Borrowed(p.as_str()));
                for p in named.chain(owned.into_iter().map(Cow::Owned)) {
                    let owner = self.nodes.get(&*p).and_then(|n| n.kind().session());
                    if owner == Some(*session_id) {
                        self.delete(p, h.zxid, out);
                    }
                }
                self.close_session(*session_id);
                Outcome::SessionClosed
            }
            Txn::Error(code) => Outcome::Error(*code),
            Txn::Reconfig { data } => match self.replace_config(data.clone(), h.zxid, h.time_ms) {
                Some(change) => {
                    out.fire(change.trigger.path, change.trigger.event, change.acl);
                    Outcome::Reconfigured {
                        data: data.clone(),
                        stat: change.stat,
                    }
                }
                // The node is in every tree (DataTree::new and every snapshot hold it).
                None => Outcome::Error(ErrorCode::NoNode),
            },
        }
    }

    fn delete<'r>(&mut self, path: Cow<'r, str>, zxid: Zxid, out: &mut Fired<'r>) -> Outcome {
        match self.delete_node(&path, zxid) {
            Ok(removed) => {
                // The parent's path is a prefix of the deleted one's: borrowed with it, or
                // copied when the path was the tree's own.
                let parent = match &path {
                    Cow::Borrowed(p) => path::split(p).map(|(parent, _)| Cow::Borrowed(parent)),
                    Cow::Owned(p) => path::split(p).map(|(parent, _)| Cow::Owned(parent.into())),
                };
                out.fire(path, EventType::NodeDeleted, removed.acl);
                if let Some(parent) = parent {
                    out.fire(parent, EventType::NodeChildrenChanged, removed.parent_acl);
                }
                Outcome::Deleted
            }
            Err(e) => Outcome::Error(e),
        }
    }

    /// ZooKeeper's multi apply: if any sub-txn is an error, nothing is applied and every op
    /// reports an error (Ok before the first failure, RuntimeInconsistency after it);
    /// otherwise each op applies in order.
    fn apply_multi<'r>(
        &mut self,
        h: &TxnHeader,
        txns: &'r [Txn],
        out: &mut Fired<'r>,
    ) -> Vec<MultiResult> {
        let failed = txns.iter().any(|t| matches!(t, Txn::Error(_)));
        let mut post_failed = false;
        let mut results = Vec::with_capacity(txns.len());
        for txn in txns {
            if let Txn::Error(err) = txn {
                post_failed = true;
                results.push(MultiResult::Error { err: *err });
                continue;
            }
            if failed {
                let err = if post_failed {
                    ErrorCode::RuntimeInconsistency
                } else {
                    ErrorCode::Ok
                };
                results.push(MultiResult::Error { err });
                continue;
            }
            let with_stat = matches!(txn, Txn::Create(c) if c.with_stat);
            let result = match self.apply_txn(h, txn, out) {
                Outcome::Created { path, stat } if with_stat => MultiResult::Create2 { path, stat },
                Outcome::Created { path, .. } => MultiResult::Create { path },
                Outcome::Deleted => MultiResult::Delete,
                Outcome::DataSet { stat } => MultiResult::SetData { stat },
                Outcome::Checked => MultiResult::Check,
                Outcome::Error(err) => MultiResult::Error { err },
                // Sessions, setACL and nested multis are refused by prep and by the decoder.
                _ => MultiResult::Error {
                    err: ErrorCode::Unimplemented,
                },
            };
            results.push(result);
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use proto::{perms, Acl, Id};

    use super::*;
    use crate::node::NodeKind;
    use crate::txn::CreateTxn;

    fn alice_only() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("digest", "alice:x"),
        }]
    }

    fn create(path: &str, acl: Vec<Acl>, kind: NodeKind) -> Txn {
        Txn::Create(CreateTxn {
            path: path.into(),
            data: None,
            acl,
            kind,
            parent_cversion: 0,
            with_stat: false,
        })
    }

    fn apply(tree: &mut DataTree, zxid: i64, session_id: i64, txn: Txn) -> ApplyResult<'static> {
        let header = TxnHeader {
            zxid: Zxid::from_i64(zxid),
            time_ms: 1_000 + zxid,
            session_id,
            cxid: 1,
        };
        tree.apply(&TxnRecord::new(header, txn)).into_owned()
    }

    /// (path, event, acl) for every trigger, in order.
    fn fired<'a>(r: &'a ApplyResult) -> Vec<(&'a str, EventType, &'a [Acl])> {
        assert_eq!(r.triggers.len(), r.trigger_acls.len());
        r.triggers
            .iter()
            .zip(&r.trigger_acls)
            .map(|(t, acl)| (&*t.path, t.event, &acl[..]))
            .collect()
    }

    /// ZooKeeper 3.8 checks READ on an ACL before delivering each notification: the node's own
    /// for NodeCreated, NodeDataChanged and NodeDeleted (a deleted node's as it was), the
    /// parent's for NodeChildrenChanged. Every trigger carries the ACL that applies.
    #[test]
    fn each_trigger_carries_the_acl_zookeeper_checks_before_notifying() {
        let open = Acl::open_unsafe();
        let mut t = DataTree::new();
        let r = apply(
            &mut t,
            1,
            0,
            create("/p", alice_only(), NodeKind::Persistent),
        );
        assert_eq!(
            fired(&r),
            [
                ("/p", EventType::NodeCreated, alice_only().as_slice()),
                ("/", EventType::NodeChildrenChanged, open.as_slice()),
            ]
        );
        let r = apply(
            &mut t,
            2,
            0,
            create("/p/c", open.clone(), NodeKind::Persistent),
        );
        assert_eq!(
            fired(&r),
            [
                ("/p/c", EventType::NodeCreated, open.as_slice()),
                (
                    "/p",
                    EventType::NodeChildrenChanged,
                    alice_only().as_slice()
                ),
            ]
        );
        let set = |path: &str| Txn::SetData {
            path: path.into(),
            data: None,
            version: 1,
        };
        let r = apply(&mut t, 3, 0, set("/p"));
        assert_eq!(
            fired(&r),
            [("/p", EventType::NodeDataChanged, alice_only().as_slice())]
        );
        // A multi that creates a node and deletes it again: the delete's NodeDeleted carries the
        // ACL the node had, though it is gone by the end of the txn.
        let r = apply(
            &mut t,
            4,
            0,
            Txn::Multi(vec![
                create("/q", alice_only(), NodeKind::Persistent),
                Txn::Delete { path: "/q".into() },
                Txn::Delete {
                    path: "/p/c".into(),
                },
            ]),
        );
        assert_eq!(
            fired(&r),
            [
                ("/q", EventType::NodeCreated, alice_only().as_slice()),
                ("/", EventType::NodeChildrenChanged, open.as_slice()),
                ("/q", EventType::NodeDeleted, alice_only().as_slice()),
                ("/", EventType::NodeChildrenChanged, open.as_slice()),
                ("/p/c", EventType::NodeDeleted, open.as_slice()),
                (
                    "/p",
                    EventType::NodeChildrenChanged,
                    alice_only().as_slice()
                ),
            ]
        );
        // A closing session's ephemerals: each deletion with that node's ACL.
        apply(
            &mut t,
            5,
            7,
            Txn::CreateSession {
                session_id: 7,
                timeout_ms: 30_000,
            },
        );
        apply(
            &mut t,
            6,
            7,
            create("/p/e", open.clone(), NodeKind::Ephemeral(7)),
        );
        let r = apply(
            &mut t,
            7,
            7,
            Txn::CloseSession {
                session_id: 7,
                paths: vec!["/p/e".into()],
            },
        );
        assert_eq!(
            fired(&r),
            [
                ("/p/e", EventType::NodeDeleted, open.as_slice()),
                (
                    "/p",
                    EventType::NodeChildrenChanged,
                    alice_only().as_slice()
                ),
            ]
        );
        // Failed txns fire nothing.
        let r = apply(&mut t, 8, 0, set("/missing"));
        assert!(r.triggers.is_empty() && r.trigger_acls.is_empty());
    }
}
