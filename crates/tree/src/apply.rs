//! Apply: the one path by which every replica (leader, follower, recovery replay) changes its
//! tree. It follows ZooKeeper's `DataTree.processTxn`, returns what the server needs to
//! answer the client, and lists the watch triggers in the order the changes happened.

use proto::{ErrorCode, EventType, MultiResult, Stat};

use crate::path;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnHeader, TxnRecord};

/// A watch to fire: the server delivers `event` to the watches on `path` (for NodeDeleted,
/// data, exist and child watches of the path; for NodeChildrenChanged, child watches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    /// The node whose watches fire.
    pub path: String,
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

/// The result of applying one txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyResult {
    /// The txn's header (zxid, session, cxid) to route the answer.
    pub header: TxnHeader,
    /// What happened.
    pub outcome: Outcome,
    /// Watches to fire, in order.
    pub triggers: Vec<WatchTrigger>,
}

impl DataTree {
    /// Applies one txn. Deterministic: the same txns in the same order give the same tree,
    /// digest and results everywhere. A txn that cannot apply (it can only happen when replaying
    /// over a state prep did not see) changes nothing and reports its code, as ZooKeeper does.
    pub fn apply(&mut self, record: &TxnRecord) -> ApplyResult {
        let mut triggers = Vec::new();
        let outcome = self.apply_txn(&record.header, &record.txn, &mut triggers);
        if record.header.zxid > self.last_zxid {
            self.last_zxid = record.header.zxid;
        }
        ApplyResult {
            header: record.header,
            outcome,
            triggers,
        }
    }

    fn apply_txn(&mut self, h: &TxnHeader, txn: &Txn, out: &mut Vec<WatchTrigger>) -> Outcome {
        let fire = |out: &mut Vec<WatchTrigger>, path: &str, event| {
            out.push(WatchTrigger {
                path: path.to_string(),
                event,
            })
        };
        match txn {
            Txn::Create(c) => match self.create_node(c, h.zxid, h.time_ms) {
                Ok(stat) => {
                    fire(out, &c.path, EventType::NodeCreated);
                    if let Some((parent, _)) = path::split(&c.path) {
                        fire(out, parent, EventType::NodeChildrenChanged);
                    }
                    Outcome::Created {
                        path: c.path.clone(),
                        stat,
                    }
                }
                Err(e) => Outcome::Error(e),
            },
            Txn::Delete { path } | Txn::DeleteContainer { path } => self.delete(path, h.zxid, out),
            Txn::SetData {
                path,
                data,
                version,
            } => match self.set_data(path, data.clone(), *version, h.zxid, h.time_ms) {
                Ok(stat) => {
                    fire(out, path, EventType::NodeDataChanged);
                    Outcome::DataSet { stat }
                }
                Err(e) => Outcome::Error(e),
            },
            Txn::SetAcl {
                path,
                acl,
                aversion,
            } => match self.set_acl(path, acl.clone(), *aversion) {
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
                for p in paths.iter().chain(owned.iter()) {
                    let owner = self.nodes.get(p).and_then(|n| n.kind.session());
                    if owner == Some(*session_id) {
                        self.delete(p, h.zxid, out);
                    }
                }
                self.close_session(*session_id);
                Outcome::SessionClosed
            }
            Txn::Error(code) => Outcome::Error(*code),
        }
    }

    fn delete(&mut self, path: &str, zxid: i64, out: &mut Vec<WatchTrigger>) -> Outcome {
        match self.delete_node(path, zxid) {
            Ok(()) => {
                out.push(WatchTrigger {
                    path: path.to_string(),
                    event: EventType::NodeDeleted,
                });
                if let Some((parent, _)) = path::split(path) {
                    out.push(WatchTrigger {
                        path: parent.to_string(),
                        event: EventType::NodeChildrenChanged,
                    });
                }
                Outcome::Deleted
            }
            Err(e) => Outcome::Error(e),
        }
    }

    /// ZooKeeper's multi apply: if any sub-txn is an error, nothing is applied and every op
    /// reports an error (Ok before the first failure, RuntimeInconsistency after it);
    /// otherwise each op applies in order.
    fn apply_multi(
        &mut self,
        h: &TxnHeader,
        txns: &[Txn],
        out: &mut Vec<WatchTrigger>,
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
