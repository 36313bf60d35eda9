//! One znode: data, ACL, the Stat fields it stores, children, and what kind of node it is.

use zxid::Zxid;

use proto::Stat;

use crate::acl_cache::SharedAcl;
use crate::node_path::{NodePath, Prefix};
use crate::thin_bytes::ThinBytes;

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

pub use crate::children::Children;

/// What a node with no children lists.
static NO_CHILDREN: Children = Children::new();

/// The Stat fields a node stores. The rest of ZooKeeper's Stat is derived when asked for:
/// ephemeralOwner from the kind, dataLength from the data, numChildren from the children.
/// Storing them twice cost 16 bytes a node, which with the children boxed is what takes a
/// `Node` from mimalloc's 192-byte size class down to its 128-byte one.
///
/// Packed to 4-byte alignment: 44 bytes instead of 48, so that the node's kind tag fits in
/// what was padding and a [`Node`] is 96 bytes, mimalloc's 96-byte class (see
/// [`Node::kind`]). pzxid is kept with the children ([`Family`]): a node that never had any
/// has the create's zxid there, and the 8 bytes went to the path's two parts. Fields are read
/// and written by value; the compiler refuses references to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, packed(4))]
pub struct NodeStat {
    /// The zxid of the create.
    pub czxid: i64,
    /// The zxid of the last setData (or the create).
    pub mzxid: i64,
    /// When the node was created (ms).
    pub ctime: i64,
    /// When the data last changed (ms).
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Creates of children, as ZooKeeper stores it (see [`Node::client_stat`]).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
}

/// A znode as the tree stores it, its path included: the node table's slot is then only the
/// pointer to the node (8 bytes, where a key beside it took 16), which at a million znodes
/// in a table of 2^21 slots is 16 MB.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    /// The path, set once by [`Node::new`]: it is the node's key in the node table.
    path: NodePath,
    /// The data; `None` when a client stored null. Owned, in an allocation of exactly its
    /// length and a one-byte header ([`ThinBytes`]): a `Bytes` here took 24 bytes more of the
    /// node, and sharing the applied record's buffer turned it into a shared `Bytes` with a
    /// header allocation of its own; a `Box<[u8]>` took 8 more, the room the path takes now.
    /// Reads copy it into their answers.
    pub data: Option<ThinBytes>,
    /// The ACL (already expanded and validated by prep), shared with every node that has the
    /// same one (see [`crate::acl_cache`]).
    pub acl: SharedAcl,
    /// The stored Stat fields (see [`Node::stored_stat`] for the whole Stat).
    pub stat: NodeStat,
    /// Which [`NodeKind`] this is, and its number (session or TTL; 0 for the others): a
    /// `NodeKind` itself takes 16 bytes, the tag padded to its number's alignment.
    kind_tag: KindTag,
    kind_number: i64,
    /// Child names and pzxid; `None` while there are none and pzxid is the create's zxid
    /// (most nodes are leaves, and an empty set inline would take 56 bytes of each). Never
    /// `Some` of a family that says only that, so equal nodes compare equal.
    family: Option<Box<Family>>,
}

/// What a node holds once it has had children.
#[derive(Clone, Debug)]
struct Family {
    children: Children,
    /// The zxid of the last change to the children.
    pzxid: i64,
    /// The prefix the children's paths share: the node's own path, made when the first child
    /// needs it. Derived, so not compared.
    prefix: Option<Prefix>,
    /// The node's hash as the digest counted it after its last change (see
    /// [`Node::remembered_hash`]). Derived, so not compared.
    hash: Option<u64>,
}

impl PartialEq for Family {
    fn eq(&self, other: &Family) -> bool {
        self.children == other.children && self.pzxid == other.pzxid
    }
}

impl Eq for Family {}

impl std::fmt::Debug for Node {
    /// The kind as a [`NodeKind`], not its stored tag and number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("path", &self.path)
            .field("kind", &self.kind())
            .field("data", &self.data)
            .field("acl", &self.acl)
            .field("stat", &self.stat)
            .field("children", &self.children().len())
            .finish()
    }
}

/// [`NodeKind`]'s variants, one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KindTag {
    Persistent,
    Ephemeral,
    Container,
    Ttl,
}

impl Node {
    /// The path.
    pub fn path(&self) -> &NodePath {
        &self.path
    }

    /// Persistent, ephemeral, container or TTL.
    pub fn kind(&self) -> NodeKind {
        match self.kind_tag {
            KindTag::Persistent => NodeKind::Persistent,
            KindTag::Ephemeral => NodeKind::Ephemeral(self.kind_number),
            KindTag::Container => NodeKind::Container,
            KindTag::Ttl => NodeKind::Ttl(self.kind_number),
        }
    }

    /// The zxid of the last change to the children (the create's while there was none).
    pub fn pzxid(&self) -> i64 {
        self.family.as_ref().map_or(self.stat.czxid, |f| f.pzxid)
    }

    /// Sets pzxid.
    pub(crate) fn set_pzxid(&mut self, pzxid: i64) {
        self.family_mut().pzxid = pzxid;
        self.settle();
    }

    /// The whole Stat as ZooKeeper's `DataNode` stores it: cversion counts creates only.
    pub fn stored_stat(&self) -> Stat {
        let s = &self.stat;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: self.kind().ephemeral_owner(),
            data_length: data_len(self.data.as_deref()),
            num_children: self.num_children(),
            pzxid: self.pzxid(),
        }
    }

    /// The Stat as ZooKeeper hands it to clients (its `DataNode.copyStat`): the stored cversion
    /// counts creates only (that count names sequential children), while clients see every
    /// child change, creates and deletes: `2 × creates − children`. Containers and TTL nodes
    /// show ephemeralOwner 0.
    pub fn client_stat(&self) -> Stat {
        let mut stat = self.stored_stat();
        stat.cversion = stat
            .cversion
            .wrapping_mul(2)
            .wrapping_sub(stat.num_children);
        if self.kind_tag != KindTag::Ephemeral {
            stat.ephemeral_owner = 0;
        }
        stat
    }

    /// numChildren as the Stat carries it.
    pub fn num_children(&self) -> i32 {
        i32::try_from(self.children().len()).unwrap_or(i32::MAX)
    }

    /// Child names, sorted.
    pub fn children(&self) -> &Children {
        self.family.as_ref().map_or(&NO_CHILDREN, |f| &f.children)
    }

    /// Adds a child name.
    pub(crate) fn insert_child(&mut self, name: &str) {
        self.family_mut().children.insert(name);
    }

    /// Removes a child name; the family goes with the last one if it says nothing else.
    pub(crate) fn remove_child(&mut self, name: &str) {
        if let Some(family) = &mut self.family {
            family.children.remove(name);
            self.settle();
        }
    }

    /// Takes `child` in: its name among the children, and its path sharing the prefix of its
    /// siblings (this node's, or, if it keeps none yet, the child's own from now on).
    pub(crate) fn adopt(&mut self, child: &mut Node) {
        let family = self.family_mut();
        family.children.insert(child.path.name());
        match &family.prefix {
            Some(prefix) => child.path.share(prefix),
            None => family.prefix = Some(child.path.prefix().clone()),
        }
    }

    /// The prefix this node's children's paths share, if it keeps one: every node with
    /// children does (the first one adopted or created makes it).
    pub(crate) fn children_prefix(&self) -> Option<&Prefix> {
        self.family.as_ref().and_then(|f| f.prefix.as_ref())
    }

    /// The prefix this node's children's paths share (made the first time it is asked for).
    pub(crate) fn child_prefix(&mut self) -> Prefix {
        if let Some(prefix) = self.family.as_ref().and_then(|f| f.prefix.as_ref()) {
            return prefix.clone();
        }
        let prefix = Prefix::new(&self.path.to_string());
        self.family_mut().prefix = Some(prefix.clone());
        prefix
    }

    /// The node's hash as [`crate::tree::DataTree`] counted it in the digest after the node's
    /// last change, if the node kept it: a node with children does, since every create and
    /// delete under it changes it and needs the hash from before the change, which took a
    /// third of a create's hashing. A leaf keeps none: 8 bytes more would take it past
    /// mimalloc's 96-byte class.
    pub(crate) fn remembered_hash(&self) -> Option<u64> {
        self.family.as_ref().and_then(|f| f.hash)
    }

    /// Keeps `hash`, the node's hash as it is now, if the node has a family to keep it in.
    /// Whoever changes a node must call this after the change (`DataTree::update` does).
    pub(crate) fn remember_hash(&mut self, hash: u64) {
        if let Some(family) = &mut self.family {
            family.hash = Some(hash);
        }
    }

    /// The family, made for a change.
    fn family_mut(&mut self) -> &mut Family {
        self.family
            .get_or_insert_with(|| Box::new(Family::new(self.stat.czxid)))
    }

    /// Drops a family with no child whose pzxid is the create's: a node is stored one way.
    fn settle(&mut self) {
        if self
            .family
            .as_ref()
            .is_some_and(|f| f.children.is_empty() && f.pzxid == self.stat.czxid)
        {
            self.family = None;
        }
    }

    /// A fresh node, as ZooKeeper's `createStat` builds it: all zxids the create's zxid, both
    /// times the create's time, all versions 0.
    pub fn new(
        path: NodePath,
        data: Option<ThinBytes>,
        acl: SharedAcl,
        kind: NodeKind,
        zxid: Zxid,
        time: i64,
    ) -> Node {
        let stat = NodeStat {
            czxid: zxid.as_i64(),
            mzxid: zxid.as_i64(),
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
        };
        let (kind_tag, kind_number) = match kind {
            NodeKind::Persistent => (KindTag::Persistent, 0),
            NodeKind::Ephemeral(session) => (KindTag::Ephemeral, session),
            NodeKind::Container => (KindTag::Container, 0),
            NodeKind::Ttl(ms) => (KindTag::Ttl, ms),
        };
        Node {
            path,
            data,
            acl,
            stat,
            kind_tag,
            kind_number,
            family: None,
        }
    }
}

impl Family {
    fn new(pzxid: i64) -> Family {
        Family {
            children: Children::default(),
            pzxid,
            prefix: None,
            hash: None,
        }
    }
}

/// The `dataLength` of optional data.
pub fn data_len(data: Option<&[u8]>) -> i32 {
    data.map_or(0, |d| d.len() as i32)
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

    #[test]
    fn a_node_gives_back_the_kind_it_was_made_with() {
        let acl = crate::acl_cache::AclCache::default().intern(&proto::Acl::open_unsafe());
        let kinds = [
            NodeKind::Persistent,
            NodeKind::Ephemeral(0x0100_0000_0000_0001),
            NodeKind::Ephemeral(-7),
            NodeKind::Container,
            NodeKind::Ttl(MAX_TTL_MS),
        ];
        for kind in kinds {
            let n = Node::new("/k".into(), None, acl.clone(), kind, Zxid::new(1, 1), 5);
            assert_eq!(n.kind(), kind);
            assert_eq!(n.stored_stat().ephemeral_owner, kind.ephemeral_owner());
            assert!(
                format!("{n:?}").contains(&format!("kind: {kind:?}")),
                "{n:?}"
            );
        }
    }

    #[test]
    fn a_node_with_its_path_fits_mimallocs_96_byte_class_and_drops_an_emptied_child_set() {
        assert!(
            std::mem::size_of::<Node>() <= 96,
            "{}",
            std::mem::size_of::<Node>()
        );
        let acl = crate::acl_cache::AclCache::default().intern(&proto::Acl::open_unsafe());
        let mut n = Node::new(
            "/n".into(),
            None,
            acl,
            NodeKind::Persistent,
            Zxid::new(1, 1),
            5,
        );
        assert_eq!(n.path(), "/n");
        let leaf = n.clone();
        n.insert_child("b");
        n.insert_child("a");
        assert_eq!(n.children().iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(n.stored_stat().num_children, 2);
        n.remove_child("a");
        n.remove_child("b");
        assert_eq!(n, leaf, "no empty set left behind");
        assert!(n.children().is_empty());
    }

    #[test]
    fn pzxid_is_the_creates_until_the_children_change_and_is_kept_once_they_did() {
        let acl = crate::acl_cache::AclCache::default().intern(&proto::Acl::open_unsafe());
        let zxid = Zxid::new(1, 1);
        let mut n = Node::new("/n".into(), None, acl, NodeKind::Persistent, zxid, 5);
        let leaf = n.clone();
        assert_eq!(n.pzxid(), zxid.as_i64());
        assert_eq!(n.stored_stat().pzxid, zxid.as_i64());
        n.set_pzxid(9);
        n.remove_child("none");
        assert_eq!((n.pzxid(), n.stored_stat().pzxid), (9, 9));
        assert_ne!(n, leaf);
        n.set_pzxid(zxid.as_i64());
        assert_eq!(n, leaf, "a family that says nothing is dropped");
        n.insert_child("c");
        let mut parent = n.clone();
        assert_eq!(parent.child_prefix().as_str(), "/n");
        assert_eq!(parent, n, "the children's prefix is not compared");
    }
}
