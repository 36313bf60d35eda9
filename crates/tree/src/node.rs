//! One znode: data, ACL, full Stat, children, and what kind of node it is.

use zxid::Zxid;

use bytes::Bytes;
use proto::Stat;

use crate::acl_cache::SharedAcl;

/// `ephemeralOwner` of a container node (ZooKeeper's `CONTAINER_EPHEMERAL_OWNER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte set in the `ephemeralOwner` of an extended type (TTL).
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// The largest TTL ZooKeeper can encode in an `ephemeralOwner`: 40 bits of milliseconds.
pub const MAX_TTL_MS: i64 = 0x0000_00ff_ffff_ffff;

/// What kind of node this is. ZooKeeper infers the kind from bit patterns of
/// `ephemeralOwner`, which depends on a system property (`extendedTypesEnabled`); Quorum
/// stores the kind itself so that apply and restore never depend on configuration, and derives
/// the client-visible `ephemeralOwner` from it exactly as ZooKeeper encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Lives until deleted.
    Persistent,
    /// Owned by a session; deleted when the session closes; no children.
    Ephemeral(i64),
    /// Deleted by the leader once it had children and has none left.
    Container,
    /// Deleted by the leader when childless and unmodified for this many ms.
    Ttl(i64),
}

impl NodeKind {
    /// The `ephemeralOwner` clients see.
    pub fn ephemeral_owner(self) -> i64 {
        match self {
            NodeKind::Persistent => 0,
            NodeKind::Ephemeral(session) => session,
            NodeKind::Container => CONTAINER_OWNER,
            NodeKind::Ttl(ms) => EXTENDED_MASK | (ms & MAX_TTL_MS),
        }
    }

    /// The owning session of an ephemeral node.
    pub fn session(self) -> Option<i64> {
        match self {
            NodeKind::Ephemeral(s) => Some(s),
            _ => None,
        }
    }
}

/// Child names, sorted, so listings and snapshots are deterministic. A persistent ordered set:
/// a copy shares its nodes, so copying a parent with a million children while a snapshot is
/// being written (see [`crate::node_map`]) costs O(1), and the first change after it copies
/// one path of its tree.
pub type Children = imbl::OrdSet<String>;

/// A znode as the tree stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The data; `None` when a client stored null.
    pub data: Option<Bytes>,
    /// The ACL (already expanded and validated by prep), shared with every node that has the
    /// same one (see [`crate::acl_cache`]).
    pub acl: SharedAcl,
    /// The full Stat, with `data_length` and `num_children` kept current.
    pub stat: Stat,
    /// Persistent, ephemeral, container or TTL.
    pub kind: NodeKind,
    /// Child names, sorted, so listings and snapshots are deterministic.
    pub children: Children,
    /// This node's contribution to the tree digest, cached so removing it is O(1).
    pub(crate) hash: u64,
}

impl Node {
    /// The Stat as ZooKeeper hands it to clients (its `DataNode.copyStat`): the stored cversion
    /// counts creates only (that count names sequential children), while clients see every
    /// child change, creates and deletes: `2 × creates − children`. Containers and TTL nodes
    /// show ephemeralOwner 0.
    pub fn client_stat(&self) -> Stat {
        let mut stat = self.stat;
        let children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        stat.cversion = stat.cversion.wrapping_mul(2).wrapping_sub(children);
        stat.num_children = children;
        if !matches!(self.kind, NodeKind::Ephemeral(_)) {
            stat.ephemeral_owner = 0;
        }
        stat
    }

    /// A fresh node, as ZooKeeper's `createStat` builds it: all zxids the create's zxid, both
    /// times the create's time, all versions 0.
    pub fn new(data: Option<Bytes>, acl: SharedAcl, kind: NodeKind, zxid: Zxid, time: i64) -> Node {
        let stat = Stat {
            czxid: zxid.as_i64(),
            mzxid: zxid.as_i64(),
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: kind.ephemeral_owner(),
            data_length: data_len(&data),
            num_children: 0,
            pzxid: zxid.as_i64(),
        };
        Node {
            data,
            acl,
            stat,
            kind,
            children: Children::new(),
            hash: 0,
        }
    }
}

/// The `dataLength` of optional data.
pub fn data_len(data: &Option<Bytes>) -> i32 {
    data.as_ref().map_or(0, |d| d.len() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_owner_encodes_kind_as_zookeeper_does() {
        assert_eq!(NodeKind::Persistent.ephemeral_owner(), 0);
        assert_eq!(NodeKind::Ephemeral(0x1234).ephemeral_owner(), 0x1234);
        assert_eq!(NodeKind::Container.ephemeral_owner(), i64::MIN);
        assert_eq!(
            NodeKind::Ttl(1).ephemeral_owner(),
            0xff00_0000_0000_0001_u64 as i64
        );
    }
}
