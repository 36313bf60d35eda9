//! Transactions: what prep produces on the leader and every replica applies. A txn is fully
//! determined: paths are final (sequence suffixes included), versions are the values to set,
//! ACLs are expanded, and time, zxid and session come in the [`TxnHeader`]. Applying the same
//! txns in the same order gives the same tree on every replica.

use bytes::Bytes;
use proto::{Acl, ErrorCode};
use zxid::Zxid;

use crate::node::NodeKind;

/// ZooKeeper's `TxnHeader` without the type (the [`Txn`] variant is the type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxnHeader {
    /// The zxid the txn commits at.
    pub zxid: Zxid,
    /// Leader wall-clock time at prep, ms since the epoch: becomes ctime/mtime.
    pub time_ms: i64,
    /// The session that sent the request (0 for the leader's own txns).
    pub session_id: i64,
    /// The request's xid, so the server can match the result to the waiting request.
    pub cxid: i32,
}

/// A create, with everything apply needs decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTxn {
    /// The final path (with any sequence suffix).
    pub path: String,
    /// The data.
    pub data: Option<Bytes>,
    /// The expanded ACL.
    pub acl: Vec<Acl>,
    /// Persistent, ephemeral (with its owner), container or TTL.
    pub kind: NodeKind,
    /// The parent's cversion after this create.
    pub parent_cversion: i32,
    /// The request was create2 / createContainer / createTTL, whose answer carries the Stat;
    /// plain create answers with the path only (it matters inside a multi's results).
    pub with_stat: bool,
}

/// A deterministic transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// create, create2, createContainer, createTTL.
    Create(CreateTxn),
    /// delete.
    Delete {
        /// The node.
        path: String,
    },
    /// The leader's removal of an empty container or an expired TTL node.
    DeleteContainer {
        /// The node.
        path: String,
    },
    /// setData.
    SetData {
        /// The node.
        path: String,
        /// New data.
        data: Option<Bytes>,
        /// The version the node gets.
        version: i32,
    },
    /// setACL.
    SetAcl {
        /// The node.
        path: String,
        /// The expanded ACL.
        acl: Vec<Acl>,
        /// The aversion the node gets.
        aversion: i32,
    },
    /// check (standalone or in a multi): changes nothing.
    Check {
        /// The node.
        path: String,
        /// The version after a hypothetical write, as ZooKeeper records it.
        version: i32,
    },
    /// multi: all sub-txns or, if any is an [`Txn::Error`], none.
    Multi(Vec<Txn>),
    /// A session opens.
    CreateSession {
        /// Its id.
        session_id: i64,
        /// Negotiated timeout, ms.
        timeout_ms: i32,
    },
    /// A session ends (client close or expiry): its ephemerals go.
    CloseSession {
        /// Its id.
        session_id: i64,
        /// The ephemeral paths prep saw, pending creates included; apply also deletes any
        /// others the session still owns.
        paths: Vec<String>,
    },
    /// A write that failed in prep: it still takes a zxid, as in ZooKeeper, and answers the
    /// client with this code.
    Error(ErrorCode),
    /// reconfig: the ensemble's new configuration, as the text `/zookeeper/config` will hold
    /// (ZooKeeper's `SetDataTxn` on that node with version -1). The server decides the text;
    /// the tree only stores it, and the Zab core learns the membership from it.
    Reconfig {
        /// The new text (`server.N=…` lines and `version=<hex zxid of this txn>`).
        data: Bytes,
    },
}

impl Txn {
    /// About how many bytes the txn encodes to: its strings and data exactly, fixed fields
    /// generously, so that the encoder allocates once.
    pub fn encoded_len_hint(&self) -> usize {
        const FIXED: usize = 32;
        let acl_len = |acl: &[Acl]| -> usize {
            acl.iter()
                .map(|a| a.id.scheme.len() + a.id.id.len() + 12)
                .sum()
        };
        let data_len = |d: &Option<Bytes>| d.as_ref().map_or(0, |d| d.len());
        FIXED
            + match self {
                Txn::Create(c) => c.path.len() + data_len(&c.data) + acl_len(&c.acl),
                Txn::Delete { path } | Txn::DeleteContainer { path } | Txn::Check { path, .. } => {
                    path.len()
                }
                Txn::SetData { path, data, .. } => path.len() + data_len(data),
                Txn::SetAcl { path, acl, .. } => path.len() + acl_len(acl),
                Txn::Multi(txns) => txns.iter().map(Txn::encoded_len_hint).sum(),
                Txn::CloseSession { paths, .. } => paths.iter().map(|p| p.len() + 4).sum(),
                Txn::Reconfig { data } => data.len(),
                Txn::CreateSession { .. } | Txn::Error(_) => 0,
            }
    }

    /// The path the txn acts on, if a single one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Txn::Create(c) => Some(&c.path),
            Txn::Delete { path }
            | Txn::DeleteContainer { path }
            | Txn::SetData { path, .. }
            | Txn::SetAcl { path, .. }
            | Txn::Check { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A txn with its header: the unit that is logged, replicated and applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    /// zxid, time, session, cxid.
    pub header: TxnHeader,
    /// The transaction.
    pub txn: Txn,
}

impl TxnRecord {
    /// Pairs a header and a txn.
    pub fn new(header: TxnHeader, txn: Txn) -> Self {
        TxnRecord { header, txn }
    }
}
