//! What the leader should delete on its own: empty containers and expired TTL nodes
//! (ZooKeeper's `ContainerManager.getCandidates`). The leader turns each path into a txn with
//! [`crate::prep::prep_delete_container`]; nothing here changes the tree.

use crate::node::NodeKind;
use crate::tree::DataTree;

impl DataTree {
    /// Containers that had children and have none left (cversion > 0, so a container just
    /// created is not removed before its first child arrives), sorted.
    pub fn container_candidates(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|p| {
                self.nodes
                    .get(p.as_str())
                    .is_some_and(|n| n.children().is_empty() && n.stat.cversion > 0)
            })
            .cloned()
            .collect()
    }

    /// TTL nodes without children whose last modification (mtime) is more than their TTL
    /// before `now_ms`, sorted.
    pub fn expired_ttl_nodes(&self, now_ms: i64) -> Vec<String> {
        self.ttls
            .iter()
            .filter(|p| {
                self.nodes.get(p.as_str()).is_some_and(|n| match n.kind() {
                    NodeKind::Ttl(ttl) => {
                        n.children().is_empty() && ttl != 0 && now_ms - n.stat.mtime > ttl
                    }
                    _ => false,
                })
            })
            .cloned()
            .collect()
    }
}
