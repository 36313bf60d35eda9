//! The data tree: nodes by path, the sessions table, container and TTL indexes, and the
//! running digest. Reads are public; mutations are crate-private and reached only through
//! [`DataTree::apply`](crate::apply), so every replica changes its tree the same way.

use std::collections::BTreeSet;
use std::sync::Weak;
use zxid::Zxid;

use proto::{Acl, ErrorCode, Stat};

use crate::acl_cache::{AclCache, SharedAcl};
use crate::digest::{node_hash, session_hash};
use crate::node::{data_len, Children, Node, NodeKind, NodeStat};
use crate::node_map::NodeMap;
use crate::node_path::NodePath;
use crate::path::{self, CONFIG, QUOTA, ROOT, ZOOKEEPER};
use crate::sessions::Sessions;
use crate::snapshot::FrozenTree;
use crate::thin_bytes::ThinBytes;
use crate::txn::CreateTxn;

/// What a read of one node sees: its data, its Stat as clients see it, its ACL.
pub type NodeRead<'a> = (Option<&'a [u8]>, Stat, &'a [Acl]);

/// The replicated state machine's state.
#[derive(Debug, Clone)]
pub struct DataTree {
    /// Nodes by path, frozen in O(1) for a snapshot (see [`crate::node_map`]).
    pub(crate) nodes: NodeMap,
    /// One copy of each distinct ACL, shared by the nodes that have it.
    pub(crate) acls: AclCache,
    pub(crate) sessions: Sessions,
    pub(crate) containers: BTreeSet<String>,
    pub(crate) ttls: BTreeSet<String>,
    pub(crate) digest: u64,
    pub(crate) data_size: u64,
    pub(crate) last_zxid: Zxid,
    /// The last frozen tree, while another thread still holds it (see [`DataTree::freeze`]).
    pub(crate) frozen: LastFrozen,
}

/// A weak handle on the last frozen tree. A clone of the tree starts without one: it shares
/// no nodes with the frozen tree (see [`crate::node_map`]).
#[derive(Debug, Default)]
pub(crate) struct LastFrozen(pub(crate) Weak<FrozenTree>);

/// What a create made: the new node's Stat, and the ACLs of the node and of its parent (those
/// of the NodeCreated and NodeChildrenChanged watches).
pub(crate) struct Created {
    pub(crate) stat: Stat,
    pub(crate) acl: SharedAcl,
    pub(crate) parent_acl: SharedAcl,
}

/// What a delete took away: the ACLs of the node and of its parent (those of the NodeDeleted
/// and NodeChildrenChanged watches).
pub(crate) struct Removed {
    pub(crate) acl: SharedAcl,
    pub(crate) parent_acl: SharedAcl,
}

impl Clone for LastFrozen {
    fn clone(&self) -> Self {
        LastFrozen::default()
    }
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for DataTree {
    /// Two trees are equal when their nodes (data, ACL, Stat, kind, children), sessions and
    /// last applied zxid are; the digest, data size and indexes follow from those.
    fn eq(&self, other: &Self) -> bool {
        self.last_zxid == other.last_zxid
            && self.sessions == other.sessions
            && self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .all(|n| other.nodes.get(n.path()) == Some(n))
    }
}

impl DataTree {
    /// A fresh tree as ZooKeeper 3.8 starts: `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config`, all with empty (not null) data and zeroed Stats, open ACLs except
    /// `/zookeeper/config`, which is read-only for everyone and has aversion -1 (ZooKeeper sets
    /// its ACL with version -1 at startup).
    pub fn new() -> Self {
        let mut tree = DataTree {
            nodes: NodeMap::default(),
            acls: AclCache::default(),
            sessions: Sessions::default(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            digest: 0,
            data_size: 0,
            last_zxid: Zxid::ZERO,
            frozen: LastFrozen::default(),
        };
        let system = |tree: &mut DataTree, path: &str, acl: Vec<Acl>| {
            let acl = tree.acls.intern(&acl);
            let mut n = Node::new(
                path.into(),
                Some(ThinBytes::new(b"")),
                acl,
                NodeKind::Persistent,
                Zxid::ZERO,
                0,
            );
            n.stat = NodeStat::default();
            n
        };
        for path in [ROOT, ZOOKEEPER, QUOTA] {
            let node = system(&mut tree, path, Acl::open_unsafe());
            tree.insert_raw(node);
        }
        let mut config = system(&mut tree, CONFIG, Acl::read_unsafe());
        config.stat.aversion = -1;
        tree.insert_raw(config);
        tree
    }

    // ----- reads -------------------------------------------------------------------------

    /// Data, Stat (as clients see it, see [`Node::client_stat`]) and ACL of a node.
    pub fn get(&self, path: &str) -> Option<NodeRead<'_>> {
        self.nodes
            .get(path)
            .map(|n| (n.data.as_deref(), n.client_stat(), &n.acl[..]))
    }

    /// The whole node.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Does the node exist?
    pub fn exists(&self, path: &str) -> bool {
        self.nodes.contains_key(path)
    }

    /// The Stat of a node, as clients see it (see [`Node::client_stat`]).
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.nodes.get(path).map(|n| n.client_stat())
    }

    /// Child names of a node, sorted.
    pub fn children(&self, path: &str) -> Option<&Children> {
        self.nodes.get(path).map(|n| n.children())
    }

    /// The ephemeral paths a session owns, sorted.
    pub fn ephemerals(&self, session: i64) -> Vec<String> {
        self.sessions.ephemeral_set(session)
    }

    /// The sessions table.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// Number of descendants of `path` (not counting itself), as getAllChildrenNumber
    /// answers; `None` if the node does not exist. For `/` ZooKeeper answers its node count
    /// minus two (its root is stored twice), which is every node except the root.
    pub fn all_children_number(&self, path: &str) -> Option<usize> {
        if path == ROOT {
            return Some(self.nodes.len() - 1);
        }
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            let node = self.nodes.get(&p)?;
            for c in node.children() {
                count += 1;
                stack.push(path::join(&p, c));
            }
        }
        Some(count)
    }

    /// The node count as ZooKeeper reports it in `srvr`/`mntr` ("Node count"): ZooKeeper's map
    /// holds the root under both "" and "/", so a fresh server reports 5 for 4 nodes. Use
    /// [`DataTree::len`] for the real number.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// The number of distinct nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: the root always exists.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Sum of path lengths and data lengths over all nodes (ZooKeeper's
    /// `approximateDataSize`, reported by mntr).
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// The incrementally maintained digest of the whole tree and sessions table.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The digest recomputed from scratch (for checks; O(nodes)).
    pub fn compute_digest(&self) -> u64 {
        let nodes = self
            .nodes
            .iter()
            .fold(0u64, |acc, n| acc.wrapping_add(node_hash(n)));
        self.sessions
            .iter()
            .fold(nodes, |acc, (id, t)| acc.wrapping_add(session_hash(id, t)))
    }

    /// The zxid of the last txn applied (0 for a fresh tree).
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// All paths, in no particular order.
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        self.nodes.iter().map(|n| n.path().to_string())
    }

    // ----- mutations (apply only) --------------------------------------------------------

    /// Adds a node without touching its parent's Stat (construction).
    pub(crate) fn insert_raw(&mut self, mut node: Node) {
        if let Some(p) = node.path().parent().and_then(|p| self.nodes.get_mut(p)) {
            p.adopt(&mut node);
        }
        self.put_node(node);
    }

    /// Adds a node whose parent already lists it.
    fn put_node(&mut self, node: Node) {
        self.account_new(&node);
        self.nodes.insert(Box::new(node));
    }

    /// Adds a node read from a snapshot under its parent, which must be there already and must
    /// not have it yet; the parent is not rehashed (numChildren is not part of the hash). Two
    /// lookups a node, and the path read is the key kept. The node comes with its `hash`,
    /// which the snapshot's decoder computed (on its own thread for a big snapshot).
    pub(crate) fn restore_node(&mut self, mut node: Node, hash: u64) -> Result<(), String> {
        debug_assert_eq!(hash, node_hash(&node), "{}", node.path());
        self.account_hashed(&node, hash);
        if let Some(parent) = node.path().parent() {
            let Some(p) = self.nodes.get_mut(parent) else {
                return Err(format!("{:?} before its parent in snapshot", node.path()));
            };
            p.adopt(&mut node);
        }
        if !self.nodes.insert_new(Box::new(node)) {
            return Err("a path twice in snapshot".into());
        }
        Ok(())
    }

    /// Nodes the node table takes before it grows (a restart makes room for its log's).
    pub fn node_room(&self) -> usize {
        self.nodes.room()
    }

    /// Room for `additional` more nodes without growing the node table.
    pub(crate) fn reserve_nodes(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    /// The digest, data size and indexes of a node about to be added.
    fn account_new(&mut self, node: &Node) {
        self.account_hashed(node, node_hash(node));
    }

    /// [`DataTree::account_new`] for a node whose hash is known.
    fn account_hashed(&mut self, node: &Node, hash: u64) {
        let path = node.path();
        self.digest = self.digest.wrapping_add(hash);
        self.data_size += path.len() as u64 + data_len(node.data.as_deref()) as u64;
        match node.kind() {
            NodeKind::Container => {
                self.containers.insert(path.to_string());
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            NodeKind::Ephemeral(s) => self.sessions.add_ephemeral(s, &path.to_string()),
            NodeKind::Persistent => {}
        }
    }

    /// Changes a node in place, keeping the digest and the data size current. A leaf's hash
    /// is computed again before the change rather than kept in it (see
    /// [`Node::remembered_hash`]): tens of ns for a node of a few hundred bytes, and a pass
    /// over the data for a big one (tens of µs at 1 MiB). A parent remembers its own.
    fn update<T>(&mut self, path: &str, f: impl FnOnce(&mut Node) -> T) -> Option<T> {
        let node = self.nodes.get_mut(path)?;
        let old_len = data_len(node.data.as_deref()) as u64;
        let old = node.remembered_hash().unwrap_or_else(|| node_hash(node));
        debug_assert_eq!(old, node_hash(node), "{path} changed behind its hash");
        let out = f(node);
        // The node is the table's entry, found by the path it holds.
        debug_assert_eq!(node.path(), path, "a change replaced a whole node");
        let new = node_hash(node);
        node.remember_hash(new);
        self.digest = self.digest.wrapping_sub(old).wrapping_add(new);
        self.data_size = self.data_size - old_len + data_len(node.data.as_deref()) as u64;
        Some(out)
    }

    /// ZooKeeper's `createNode`: NoNode without a parent, NodeExists if taken. The parent's
    /// cversion becomes `parent_cversion` (and its pzxid the zxid) only if that is larger, as
    /// ZooKeeper does so a replayed create cannot move them backwards.
    ///
    /// Every replica runs this for every create, and a restarted follower for each create of
    /// its logged suffix: three lookups (the path, the parent, the insert), and the new node's
    /// Stat and both ACLs the watches are checked against come back without looking again.
    pub(crate) fn create_node(
        &mut self,
        c: &CreateTxn,
        zxid: Zxid,
        time: i64,
    ) -> Result<Created, ErrorCode> {
        let path = c.path.as_str();
        let (parent, name) = path::split(path).ok_or(ErrorCode::NoNode)?;
        // A node is only ever there under its parent, so a taken path means the parent is
        // there too, and ZooKeeper's order (NoNode first) is kept.
        if self.nodes.contains_key(path) {
            debug_assert!(self.nodes.contains_key(parent), "{path} without its parent");
            return Err(ErrorCode::NodeExists);
        }
        let (parent_acl, prefix) = self
            .update(parent, |p| {
                if c.parent_cversion > p.stat.cversion {
                    p.stat.cversion = c.parent_cversion;
                    p.set_pzxid(zxid.as_i64());
                }
                p.insert_child(name);
                (p.acl.clone(), p.child_prefix())
            })
            .ok_or(ErrorCode::NoNode)?;
        let acl = self.acls.intern(&c.acl);
        let node = Node::new(
            NodePath::under(prefix, name),
            c.data.as_deref().map(ThinBytes::new),
            acl.clone(),
            c.kind,
            zxid,
            time,
        );
        let stat = node.client_stat();
        self.put_node(node);
        Ok(Created {
            stat,
            acl,
            parent_acl,
        })
    }

    /// ZooKeeper's `deleteNode`: removes the node and bumps the parent's pzxid (never its
    /// cversion: only creates count as child changes there).
    /// Returns the ACLs of the node and of its parent, for the watches it fires.
    pub(crate) fn delete_node(&mut self, path: &str, zxid: Zxid) -> Result<Removed, ErrorCode> {
        let (parent, name) = path::split(path).ok_or(ErrorCode::NoNode)?;
        // The parent first: a txn that cannot apply must change nothing, whatever the tree.
        if !self.nodes.contains_key(parent) {
            return Err(ErrorCode::NoNode);
        }
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        let parent_acl = self
            .update(parent, |p| {
                if zxid.as_i64() > p.pzxid() {
                    p.set_pzxid(zxid.as_i64());
                }
                p.remove_child(name);
                p.acl.clone()
            })
            .expect("the parent was there just above");
        self.digest = self.digest.wrapping_sub(node_hash(&node));
        self.data_size -= path.len() as u64 + data_len(node.data.as_deref()) as u64;
        match node.kind() {
            NodeKind::Container => {
                self.containers.remove(path);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            NodeKind::Ephemeral(s) => self.sessions.remove_ephemeral(s, path),
            NodeKind::Persistent => {}
        }
        Ok(Removed {
            acl: node.acl.clone(),
            parent_acl,
        })
    }

    /// ZooKeeper's `setData`: new data, the version prep computed, mtime and mzxid.
    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<ThinBytes>,
        version: i32,
        zxid: Zxid,
        time: i64,
    ) -> Result<(Stat, SharedAcl), ErrorCode> {
        self.update(path, |n| {
            n.data = data;
            n.stat.version = version;
            n.stat.mtime = time;
            n.stat.mzxid = zxid.as_i64();
            (n.client_stat(), n.acl.clone())
        })
        .ok_or(ErrorCode::NoNode)
    }

    /// ZooKeeper's `setACL`: new ACL and the aversion prep computed; no zxid or time changes.
    pub(crate) fn set_acl(
        &mut self,
        path: &str,
        acl: &[Acl],
        aversion: i32,
    ) -> Result<Stat, ErrorCode> {
        let acl = self.acls.intern(acl);
        self.update(path, |n| {
            n.acl = acl;
            n.stat.aversion = aversion;
        })
        .ok_or(ErrorCode::NoNode)?;
        Ok(self.nodes.get(path).expect("just written").client_stat())
    }

    pub(crate) fn open_session(&mut self, id: i64, timeout_ms: i32) {
        if let Some(old) = self.sessions.open(id, timeout_ms) {
            self.digest = self.digest.wrapping_sub(session_hash(id, old));
        }
        self.digest = self.digest.wrapping_add(session_hash(id, timeout_ms));
    }

    pub(crate) fn close_session(&mut self, id: i64) {
        if let Some(old) = self.sessions.close(id) {
            self.digest = self.digest.wrapping_sub(session_hash(id, old));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_tree_has_zookeepers_system_nodes() {
        let t = DataTree::new();
        let names: Vec<_> = t.children("/").unwrap().iter().collect();
        assert_eq!(names, ["zookeeper"]);
        let names: Vec<_> = t.children("/zookeeper").unwrap().iter().collect();
        assert_eq!(names, ["config", "quota"]);
        let (data, stat, acl) = t.get("/zookeeper/config").unwrap();
        assert_eq!(data, Some(&b""[..]));
        assert_eq!(stat.aversion, -1);
        assert_eq!(acl, Acl::read_unsafe().as_slice());
        assert_eq!(t.get("/").unwrap().1.num_children, 1);
        assert_eq!(t.node_count(), 5);
        assert_eq!(t.all_children_number("/"), Some(3));
        assert_eq!(t.all_children_number("/zookeeper"), Some(2));
        assert_eq!(t.approximate_data_size(), 1 + 10 + 16 + 17);
        assert_eq!(t.digest(), t.compute_digest());
    }

    /// A parent keeps its hash through every change made under it and to it: children come
    /// and go (the last one taking the family and the hash with it), its data and ACL change,
    /// and the digest stays what a count from scratch gives.
    #[test]
    fn a_parent_remembers_its_hash_through_its_changes() {
        let mut t = DataTree::new();
        let mut zxid = 0;
        let mut next = || {
            zxid += 1;
            Zxid::from_i64(zxid)
        };
        let create = |path: &str| crate::txn::CreateTxn {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            kind: crate::node::NodeKind::Persistent,
            parent_cversion: 0,
            with_stat: false,
        };
        let check = |t: &DataTree, step: &str| {
            assert_eq!(t.digest(), t.compute_digest(), "after {step}");
            let p = t.node("/p").expect("/p is there");
            if let Some(hash) = p.remembered_hash() {
                assert_eq!(hash, node_hash(p), "after {step}");
            }
        };
        t.create_node(&create("/p"), next(), 1).unwrap();
        for i in 0..3 {
            t.create_node(&create(&format!("/p/c{i}")), next(), 2)
                .unwrap();
            check(&t, "a create");
        }
        assert!(t.node("/p").unwrap().remembered_hash().is_some());
        let data = Some(ThinBytes::new(b"v"));
        t.set_data("/p", data, 1, next(), 3).unwrap();
        check(&t, "a set");
        t.set_acl("/p", &Acl::read_unsafe(), 1).unwrap();
        check(&t, "a setACL");
        for i in 0..3 {
            t.delete_node(&format!("/p/c{i}"), next()).unwrap();
            check(&t, "a delete");
        }
        t.create_node(&create("/p/again"), next(), 4).unwrap();
        check(&t, "a create after the last delete");
    }
}
