//! Nodes by path, with a freeze that costs O(1): the snapshot of a million-znode tree is
//! serialized by another thread while the core task keeps applying (see docs/speed.md).
//!
//! The map is a plain hash map (`base`) behind an `Arc`. Freezing hands out a second reference
//! to it; from then on the base is read-only, and every change goes to `overlay`, which holds
//! a copy of each node changed since (the copy shares the ACL, copies the data, and clones
//! one pointer per chunk of child names, see [`crate::node::Children`]) or a tombstone for
//! each node removed. Lookups look in the overlay
//! first. Once the frozen reference is dropped, the next change folds the overlay back into the
//! base, and the map is a single hash map again. A frozen base is therefore exactly the tree at
//! the zxid of the freeze, so a snapshot needs no fuzzy replay on restore.
//!
//! Against a persistent hash trie (measured at a million znodes: about 115 bytes more per node
//! and lookups about twice as slow) this costs nothing while no snapshot is being written; while
//! one is, a changed node costs one copy and a lookup two probes.

use std::sync::Arc;

use crate::growing_map::{GrowingMap, Keyed, Lookup};
use crate::node::Node;
use crate::node_path::AsPath;
use crate::overlay::{Change, Overlay};

/// The hash map itself, which doubles without a pause ([`GrowingMap`]). Boxed nodes that
/// hold their own paths: the table's slot is one 8-byte pointer instead of a 150-byte node
/// and its key, which at a few hundred thousand znodes cuts what its power-of-two growth
/// wastes and makes each rehash move a fraction of the bytes (a `String` key's unused
/// capacity field alone cost 16 MB of table at a million znodes, a thin key beside the node
/// 16 MB more). Hashed with aHash (keyed per process, as std's SipHash is, so clients cannot
/// aim collisions), several times faster on paths: every request and every node of a
/// snapshot hashes one.
pub type Nodes = GrowingMap<Box<Node>>;

impl Keyed for Box<Node> {
    fn key_hash(&self, _: &ahash::RandomState) -> u64 {
        self.path().hash()
    }
    fn same_key(&self, other: &Self) -> bool {
        self.path() == other.path()
    }
}

/// Every path hashes with the process's one path hasher (see [`crate::node_path`]), not the
/// table's own.
impl<Q: AsPath + ?Sized> Lookup<Q> for Box<Node> {
    fn query_hash(query: &Q, _: &ahash::RandomState) -> u64 {
        query.path_hash()
    }
    fn matches(&self, query: &Q) -> bool {
        query.names(self.path())
    }
}

/// Overlay entries folded back into the base per change (see [`NodeMap::fold_some`]). Few,
/// because a follower applies a COMMIT of hundreds of transactions in one go: with 512, a
/// follower folded a whole snapshot's overlay (about 200,000 nodes written during a
/// million-create load, each fold an insert into the million-node table) on one peer frame,
/// its core busy 116–402 ms. With 16, an overlay of 200,000 is folded back over 12,500
/// changes, well before the next snapshot is due (at least snapCount changes later), and
/// a COMMIT of 500 folds 8,000.
const FOLD_SLICE: usize = 16;

/// Nodes by path; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct NodeMap {
    base: Arc<Nodes>,
    /// Changes since the base was frozen: a node's new version, or `None` where it was removed.
    /// Empty whenever the base is not shared.
    overlay: Overlay,
    /// Nodes in the merged view (the base's length while the overlay is empty).
    len: usize,
}

impl Clone for NodeMap {
    /// A deep copy of the merged view, so that a clone never holds this map frozen.
    fn clone(&self) -> Self {
        let mut base = Nodes::default();
        base.reserve(self.len);
        for node in self.iter() {
            base.insert(Box::new(node.clone()));
        }
        NodeMap {
            base: Arc::new(base),
            overlay: Overlay::default(),
            len: self.len,
        }
    }
}

impl NodeMap {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get<Q: AsPath + ?Sized>(&self, path: &Q) -> Option<&Node> {
        if !self.overlay.is_empty() {
            if let Some(change) = self.overlay.get(path) {
                return change.node();
            }
        }
        self.base.get(path).map(|n| &**n)
    }

    pub fn contains_key<Q: AsPath + ?Sized>(&self, path: &Q) -> bool {
        self.get(path).is_some()
    }

    /// The node to change in place; while frozen, a copy made for the overlay.
    pub fn get_mut<Q: AsPath + ?Sized>(&mut self, path: &Q) -> Option<&mut Node> {
        self.fold_some();
        if self.in_base(path) {
            return self.base_mut().get_mut(path).map(|n| &mut **n);
        }
        if !self.overlay.contains_key(path) {
            let copy = self.base.get(path)?.clone();
            self.overlay.put(Change::Put(copy));
        }
        self.overlay.node_mut(path)
    }

    /// Adds or replaces a node (at its path).
    pub fn insert(&mut self, node: Box<Node>) {
        self.fold_some();
        let path = node.path();
        let existed = if self.in_base(path) {
            self.base_mut().insert(node).is_some()
        } else {
            let existed = match self.overlay.get(path) {
                Some(change) => change.node().is_some(),
                None => self.base.contains_key(path),
            };
            self.overlay.put(Change::Put(node));
            existed
        };
        self.len += usize::from(!existed);
    }

    /// Adds a node that is not there yet (restore: one hash). False, and nothing changed, if
    /// the path is taken.
    pub fn insert_new(&mut self, node: Box<Node>) -> bool {
        if !self.overlay.is_empty() || self.is_frozen() {
            if self.contains_key(node.path()) {
                return false;
            }
            self.insert(node);
            return true;
        }
        let added = self.base_mut().insert_new(node).is_ok();
        self.len += usize::from(added);
        added
    }

    /// Nodes that can go in before the table grows; 0 while frozen (they go to the overlay).
    pub fn room(&self) -> usize {
        if self.is_frozen() {
            0
        } else {
            self.base.room()
        }
    }

    /// Whether the table is doubling (moving entries to a bigger one), for tests.
    #[cfg(test)]
    pub(crate) fn is_doubling(&self) -> bool {
        self.base.is_split()
    }

    /// Room for `additional` more nodes without growing the table (restore, which knows how
    /// many are coming). A frozen map only grows its overlay, so nothing is reserved then.
    pub fn reserve(&mut self, additional: usize) {
        if !self.is_frozen() {
            self.base_mut().reserve(additional);
        }
    }

    /// Removes a node and returns it (while frozen, a copy of the base's).
    pub fn remove(&mut self, path: &str) -> Option<Box<Node>> {
        self.fold_some();
        let node = if self.in_base(path) {
            self.base_mut().remove(path)?
        } else if !self.base.contains_key(path) {
            // Created since the freeze: nothing to hide in the base, so no tombstone (a
            // churn of short-lived paths must not grow the overlay).
            match self.overlay.remove(path)? {
                Change::Put(node) => node,
                // A tombstone hides only a base node; were one here, the node is gone.
                Change::Removed(_) => return None,
            }
        } else {
            let gone = self.base.get(path).expect("in the base").path().clone();
            let tombstone = Change::Removed(gone);
            match self.overlay.put(tombstone) {
                Some(Change::Put(node)) => node,
                None => self.base.get(path).expect("in the base").clone(),
                Some(Change::Removed(_)) => {
                    // Removed already: nothing taken.
                    return None;
                }
            }
        };
        self.len -= 1;
        Some(node)
    }

    /// Removes every node.
    pub fn clear(&mut self) {
        *self = NodeMap::default();
    }

    /// Every node of the merged view, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        let changed = self.overlay.iter().filter_map(Change::node);
        let kept = self
            .base
            .iter()
            .filter(|n| !self.overlay.contains_key(n.path()))
            .map(|n| &**n);
        changed.chain(kept)
    }

    /// The nodes as they are now, read-only and shareable with another thread; `None` while
    /// an earlier frozen view is still held and the map has changed since.
    pub fn freeze(&mut self) -> Option<Arc<Nodes>> {
        self.fold_some();
        self.overlay.is_empty().then(|| self.base.clone())
    }

    /// Folds the whole overlay back now. The caller holds no frozen view and knows none is
    /// alive; one may still be being dropped on another thread, which takes a moment.
    pub fn fold_all(&mut self) {
        while !self.overlay.is_empty() {
            if self.is_frozen() {
                std::thread::yield_now();
            }
            self.fold_some();
        }
    }

    /// Whether a frozen view is still held.
    pub fn is_frozen(&self) -> bool {
        Arc::strong_count(&self.base) > 1
    }

    /// Whether a change of `path` goes straight to the base: the base is not frozen and the
    /// overlay (still being folded back) holds nothing newer for it.
    fn in_base<Q: AsPath + ?Sized>(&self, path: &Q) -> bool {
        !self.is_frozen() && (self.overlay.is_empty() || !self.overlay.contains_key(path))
    }

    /// The base, which only this map holds (the caller checked that it is not frozen: only
    /// this map hands out references, so the count cannot rise in between).
    fn base_mut(&mut self) -> &mut Nodes {
        Arc::get_mut(&mut self.base).expect("an unshared base")
    }

    /// Once no frozen view holds the base, moves up to [`FOLD_SLICE`] overlay entries into it.
    /// Called before every change, so a snapshot's overlay (100,000 nodes after five seconds
    /// of writes at 20,000 a second) is folded back over thousands of changes instead of
    /// holding the core task for one long stretch; no change adds an entry once the base is
    /// no longer frozen, so the overlay shrinks.
    fn fold_some(&mut self) {
        if self.overlay.is_empty() || self.is_frozen() {
            return;
        }
        let base = Arc::get_mut(&mut self.base).expect("an unshared base");
        // Without the table's own moves: each insert would move a doubling's slice, and a
        // fold that starts as the table doubles (near 917,504 nodes after a snapshot) moved
        // the whole old table in one follower COMMIT (492 ms on one peer frame, seen under a
        // million-create load). The change that called this moves its one slice.
        for change in self.overlay.take_some(FOLD_SLICE) {
            match change {
                Change::Put(node) => {
                    base.insert_without_moving(node);
                }
                Change::Removed(path) => {
                    base.remove_without_moving(&path);
                }
            }
        }
        if self.overlay.is_empty() {
            // (`take_some` gave the overlay's table back.)
            debug_assert_eq!(base.len(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl_cache::SharedAcl;
    use crate::node::NodeKind;
    use zxid::Zxid;

    fn node(path: &str, version: i32) -> Box<Node> {
        let mut n = Node::new(
            path.into(),
            None,
            SharedAcl::default(),
            NodeKind::Persistent,
            Zxid::ZERO,
            0,
        );
        n.stat.version = version;
        Box::new(n)
    }

    fn version(map: &NodeMap, path: &str) -> Option<i32> {
        map.get(path).map(|n| n.stat.version)
    }

    #[test]
    fn a_frozen_view_keeps_the_state_of_the_freeze_while_the_map_changes() {
        let mut map = NodeMap::default();
        for (p, v) in [("/a", 1), ("/b", 1), ("/c", 1)] {
            map.insert(node(p, v));
        }
        let frozen = map.freeze().expect("nothing frozen yet");
        map.get_mut("/a").unwrap().stat.version = 2;
        map.remove("/b").unwrap();
        map.insert(node("/d", 1));
        map.insert(node("/b", 5));
        map.remove("/c").unwrap();
        assert!(map.remove("/c").is_none());
        // The frozen view is the map at the freeze.
        let seen: Vec<_> = ["/a", "/b", "/c", "/d"]
            .map(|p| frozen.get(p).map(|n| n.stat.version))
            .into();
        assert_eq!(seen, [Some(1), Some(1), Some(1), None]);
        // The live one has every change.
        assert_eq!(version(&map, "/a"), Some(2));
        assert_eq!(version(&map, "/b"), Some(5));
        assert_eq!(version(&map, "/c"), None);
        assert_eq!(version(&map, "/d"), Some(1));
        assert_eq!(map.len(), 3);
        assert_eq!(map.iter().count(), 3);
        // A second freeze must wait for the first to go.
        assert!(map.freeze().is_none());
        drop(frozen);
        assert!(!map.is_frozen());
        map.get_mut("/d").unwrap().stat.version = 3;
        assert!(map.overlay.is_empty(), "merged on the first change after");
        assert_eq!(map.base.len(), 3);
        assert_eq!(version(&map, "/a"), Some(2));
        assert_eq!(version(&map, "/d"), Some(3));
        assert!(map.freeze().is_some());
    }

    #[test]
    fn a_big_overlay_is_folded_back_a_slice_per_change_and_reads_stay_right() {
        let n = 5 * FOLD_SLICE;
        let path = |i: usize| format!("/n{i}");
        let mut map = NodeMap::default();
        for i in 0..n {
            map.insert(node(&path(i), 0));
        }
        let frozen = map.freeze().unwrap();
        for i in 0..n {
            match i % 3 {
                0 => map.get_mut(&path(i)).unwrap().stat.version = 1,
                1 => drop(map.remove(&path(i)).unwrap()),
                _ => map.insert(node(&path(n + i), 2)),
            }
        }
        drop(frozen);
        let expect = |map: &NodeMap| {
            for i in 0..n {
                let want = [Some(1), None, Some(0)][i % 3];
                assert_eq!(version(map, &path(i)), want, "{}", path(i));
                let added = (i % 3 == 2).then_some(2);
                assert_eq!(version(map, &path(n + i)), added);
            }
            assert_eq!(map.len(), map.iter().count());
        };
        expect(&map);
        let mut changes = 0;
        while !map.overlay.is_empty() {
            let before = map.overlay.len();
            // A change of a node the overlay holds.
            map.get_mut(&path(0)).unwrap().stat.version = 1;
            changes += 1;
            assert!(map.overlay.len() < before, "the overlay shrinks");
            assert!(before - map.overlay.len() <= FOLD_SLICE + 1);
            assert!(map.freeze().is_none() || map.overlay.is_empty());
            expect(&map);
        }
        // Each round folds twice: the change and the freeze that is refused.
        assert!(changes >= n / (2 * FOLD_SLICE));
        assert_eq!(map.base.len(), map.len());
        assert!(map.freeze().is_some());
    }

    /// Random changes, freezes and drops against a plain map; the overlay grows well past a
    /// fold slice, and every frozen view is checked whole against the model at its freeze.
    #[test]
    fn random_changes_freezes_and_folds_agree_with_a_plain_map() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut map = NodeMap::default();
        let mut model: std::collections::HashMap<String, i32> = Default::default();
        let mut frozen: Option<(Arc<Nodes>, std::collections::HashMap<String, i32>)> = None;
        let (mut freezes, mut max_overlay) = (0, 0);
        for step in 0..60_000 {
            let path = format!("/p{}", next(3_000));
            match next(100) {
                0..=29 => {
                    let v = next(1_000) as i32;
                    map.insert(node(&path, v));
                    model.insert(path.clone(), v);
                }
                30..=54 => assert_eq!(map.remove(&path).is_some(), model.remove(&path).is_some()),
                55..=89 => {
                    if let Some(n) = map.get_mut(&path) {
                        n.stat.version += 1;
                    }
                    if let Some(v) = model.get_mut(&path) {
                        *v += 1;
                    }
                }
                90..=94 => {
                    if frozen.is_none() {
                        if let Some(view) = map.freeze() {
                            freezes += 1;
                            frozen = Some((view, model.clone()));
                        }
                    }
                }
                // A frozen view lives about 2,000 steps, as a snapshot many applies long.
                _ if next(100) != 0 => {}
                _ => {
                    if let Some((view, then)) = frozen.take() {
                        assert_eq!(view.len(), then.len());
                        for (p, v) in &then {
                            assert_eq!(
                                view.get(p.as_str()).map(|n| n.stat.version),
                                Some(*v),
                                "{p}"
                            );
                        }
                    }
                }
            }
            max_overlay = max_overlay.max(map.overlay.len());
            assert_eq!(
                version(&map, &path),
                model.get(&path).copied(),
                "step {step}"
            );
            assert_eq!(map.len(), model.len(), "step {step}");
            if step % 5_000 == 0 {
                assert_eq!(map.iter().count(), model.len());
                for n in map.iter() {
                    let p = n.path().to_string();
                    assert_eq!(model.get(&p), Some(&n.stat.version), "{p}");
                }
            }
        }
        assert!(freezes > 10, "{freezes}");
        assert!(max_overlay > FOLD_SLICE, "{max_overlay}");
    }

    #[test]
    fn a_clone_is_deep_and_does_not_freeze() {
        let mut map = NodeMap::default();
        map.insert(node("/a", 1));
        let copy = map.clone();
        assert!(!map.is_frozen());
        map.get_mut("/a").unwrap().stat.version = 2;
        assert_eq!(version(&copy, "/a"), Some(1));
    }

    /// The fold of a snapshot's overlay moves no more of a doubling per change than any
    /// change does: a doubling that starts as the fold begins still takes hundreds of changes,
    /// where each folded insert once moved a slice of its own (16 × 64 entries a change) and
    /// a follower finished the doubling within one COMMIT.
    #[test]
    fn folding_an_overlay_does_not_hurry_a_doubling() {
        let mut map = NodeMap::default();
        let mut n = 0;
        while !map.is_doubling() {
            map.insert(node(&format!("/n{n}"), 1));
            n += 1;
        }
        let frozen = map.freeze().expect("no overlay to fold");
        for i in 0..2_000 {
            map.insert(node(&format!("/m{i}"), 1));
        }
        drop(frozen);
        for i in 0..100 {
            map.insert(node(&format!("/k{i}"), 1));
        }
        assert!(
            map.is_doubling(),
            "{n} nodes: a doubling of 100 changes' worth of moves at most"
        );
        for i in 0..2_000 {
            map.insert(node(&format!("/k{i}"), 1));
        }
        assert!(!map.is_doubling(), "done after enough changes");
        assert_eq!(map.len(), n + 2_000 + 2_000);
    }
}
