//! The changes made to a [`crate::node_map::NodeMap`] while a snapshot holds its base: each
//! changed node's new version, or `None` where a node was removed. Once the snapshot is
//! released, the changes are taken back out a few at a time ([`Overlay::take_some`]) from a
//! cursor over the table's buckets, so each bucket is looked at once over the whole fold. A
//! std map's `extract_if` starts from the first bucket at every call and walks past all those
//! already emptied: with 200,000 changes, the longest 512 creates of a follower's COMMIT took
//! 31–36 ms during the fold against 16–20 ms without a snapshot.

use hashbrown::HashTable;

use crate::node::Node;

/// A node's version changed while frozen: `Some` the node now, `None` removed.
type Change = Option<Box<Node>>;

/// Changes by path; see the module documentation. Hashed with aHash, keyed per process as the
/// base's table is.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    table: HashTable<(Box<str>, Change)>,
    hasher: ahash::RandomState,
    /// Buckets before it hold no entry: every one there was taken out, and a new path goes
    /// in only while nothing is being taken (a new path resets it, to be safe).
    cursor: usize,
}

impl Overlay {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn get_key_value(&self, path: &str) -> Option<(&str, &Change)> {
        let hash = self.hasher.hash_one(path);
        self.table
            .find(hash, |e| &*e.0 == path)
            .map(|(k, v)| (&**k, v))
    }

    pub fn get(&self, path: &str) -> Option<&Change> {
        self.get_key_value(path).map(|(_, v)| v)
    }

    pub fn contains_key(&self, path: &str) -> bool {
        self.get_key_value(path).is_some()
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Change> {
        let hash = self.hasher.hash_one(path);
        self.table.find_mut(hash, |e| &*e.0 == path).map(|(_, v)| v)
    }

    /// Records `change` for `path`, replacing an earlier one.
    pub fn insert(&mut self, path: &str, change: Change) {
        let hash = self.hasher.hash_one(path);
        if let Some(entry) = self.table.find_mut(hash, |e| &*e.0 == path) {
            entry.1 = change;
            return;
        }
        self.cursor = 0;
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, (path.into(), change), |e| hasher.hash_one(&*e.0));
    }

    /// Forgets `path`'s change; returns it.
    pub fn remove(&mut self, path: &str) -> Option<Change> {
        let hash = self.hasher.hash_one(path);
        match self.table.find_entry(hash, |e| &*e.0 == path) {
            Ok(entry) => Some(entry.remove().0 .1),
            Err(_) => None,
        }
    }

    /// Every (path, change), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Change)> {
        self.table.iter().map(|(k, v)| (&**k, v))
    }

    /// Takes up to `n` changes out, from the cursor on; gives the table's memory back once
    /// none is left.
    pub fn take_some(&mut self, n: usize) -> Vec<(Box<str>, Change)> {
        let mut taken = Vec::with_capacity(n.min(self.table.len()));
        let buckets = self.table.num_buckets();
        while taken.len() < n && self.cursor < buckets {
            if let Ok(entry) = self.table.get_bucket_entry(self.cursor) {
                taken.push(entry.remove().0);
            }
            self.cursor += 1;
        }
        if self.table.is_empty() {
            self.table = HashTable::new();
            self.cursor = 0;
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_found_replaced_removed_and_all_taken_back() {
        let mut overlay = Overlay::default();
        for i in 0..1_000 {
            overlay.insert(&format!("/n{i}"), None);
        }
        overlay.insert("/n7", None);
        assert_eq!(overlay.len(), 1_000);
        assert!(overlay.contains_key("/n999") && !overlay.contains_key("/m"));
        assert_eq!(overlay.remove("/n5"), Some(None));
        assert_eq!(overlay.remove("/n5"), None);
        let mut taken = Vec::new();
        while !overlay.is_empty() {
            let some = overlay.take_some(16);
            assert!(!some.is_empty() && some.len() <= 16);
            taken.extend(some.into_iter().map(|(k, _)| k));
        }
        taken.sort();
        taken.dedup();
        assert_eq!(taken.len(), 999);
        assert!(overlay.take_some(16).is_empty());
    }

    /// A path added while changes are being taken out is taken too, wherever its bucket.
    #[test]
    fn a_path_added_during_the_taking_is_not_skipped() {
        let mut overlay = Overlay::default();
        for i in 0..100 {
            overlay.insert(&format!("/n{i}"), None);
        }
        let mut taken = overlay.take_some(50).len();
        overlay.insert("/late", None);
        while !overlay.is_empty() {
            taken += overlay.take_some(16).len();
        }
        assert_eq!(taken, 101);
    }
}
