//! A hash map that doubles without a pause. A std hash map grows by moving every entry to a
//! table twice the size in one step: at 917,504 znodes that held every replica's core about
//! 200 ms at the same zxid (`quorum bench tree-memory`'s longest apply, on the 2-core machine
//! of docs/benchmarks.md), and twice that at the next doubling. Here a full table is set aside
//! and a new one twice its size takes the inserts, while each change moves [`MOVE_SLICE`] of
//! the old table's entries across; lookups try the new table, then the old. The old table is
//! empty after a sixty-fourth of its size in changes (14,000 at a million znodes), long
//! before the new one can fill; until then it holds its memory.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// Entries moved from the old table to the new one per change while a doubling is under way.
/// Small, because a follower applies a leader's COMMIT of hundreds of transactions in one go:
/// with 1,024 a change, 512 creates in a row took as long as the whole move (176–182 ms in
/// `quorum bench tree-memory`), with 64 they take 86–90 ms, most of it the kernel zeroing the
/// new table's pages as the first moves touch them (a std map's doubling pays that too).
const MOVE_SLICE: usize = 64;

/// Tables smaller than this double in place, as a std hash map does: moving them is cheap.
const MIN_SPLIT_CAPACITY: usize = 1 << 14;

type Table<K, V> = HashMap<K, V, ahash::RandomState>;

/// See the module documentation. Keys are hashed with aHash (keyed per process, so clients
/// cannot aim collisions).
#[derive(Debug)]
pub struct GrowingMap<K, V> {
    table: Table<K, V>,
    /// The table before the last doubling, emptied into `table` a slice per change.
    old: Table<K, V>,
}

impl<K, V> Default for GrowingMap<K, V> {
    fn default() -> Self {
        GrowingMap {
            table: Table::default(),
            old: Table::default(),
        }
    }
}

impl<K: Hash + Eq, V> GrowingMap<K, V> {
    /// Entries in both tables.
    pub fn len(&self) -> usize {
        self.table.len() + self.old.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry for `key`, in whichever table holds it.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table
            .get_key_value(key)
            .or_else(|| self.old.get_key_value(key))
    }

    /// The value for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    /// Whether `key` is there.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    /// The value for `key`, to change in place (a change: it moves a slice).
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.move_some();
        if self.table.contains_key(key) {
            self.table.get_mut(key)
        } else {
            self.old.get_mut(key)
        }
    }

    /// Adds or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.move_some();
        if !self.old.is_empty() {
            if let Some(replaced) = self.old.remove(&key) {
                self.table.insert(key, value);
                return Some(replaced);
            }
        } else if self.table.len() == self.table.capacity()
            && self.table.capacity() >= MIN_SPLIT_CAPACITY
            && !self.table.contains_key(&key)
        {
            let bigger = Table::with_capacity_and_hasher(
                self.table.capacity() * 2,
                self.table.hasher().clone(),
            );
            self.old = std::mem::replace(&mut self.table, bigger);
        }
        self.table.insert(key, value)
    }

    /// Adds `key` if it is not there; false, and nothing changed, if it is.
    pub fn insert_new(&mut self, key: K, value: V) -> bool {
        if self.contains_key(&key) {
            return false;
        }
        self.insert(key, value);
        true
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.move_some();
        self.table.remove(key).or_else(|| self.old.remove(key))
    }

    /// Room for `additional` more entries. Finishes a doubling under way first; meant for a
    /// map being filled in one go (restore, copy), where a pause is not a stall.
    pub fn reserve(&mut self, additional: usize) {
        while !self.old.is_empty() {
            self.move_some();
        }
        self.table.reserve(additional);
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.table.iter().chain(self.old.iter())
    }

    /// Moves up to [`MOVE_SLICE`] entries from the old table; frees it once empty.
    fn move_some(&mut self) {
        if self.old.is_empty() {
            return;
        }
        for (key, value) in self.old.extract_if(|_, _| true).take(MOVE_SLICE) {
            self.table.insert(key, value);
        }
        if self.old.is_empty() {
            self.old = Table::with_hasher(self.table.hasher().clone());
        }
    }

    /// Whether a doubling is under way (tests).
    #[cfg(test)]
    fn is_split(&self) -> bool {
        !self.old.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map grown past several doublings, with every kind of change made while the old
    /// table is still being emptied, agrees with a std map at every step; and the old table
    /// is emptied within the changes the module promises.
    #[test]
    fn agrees_with_a_plain_map_through_doublings() {
        let mut map: GrowingMap<u64, u64> = GrowingMap::default();
        let mut model: HashMap<u64, u64> = HashMap::new();
        let mut splits = 0;
        let mut changes_while_split = 0;
        for i in 0..(MIN_SPLIT_CAPACITY as u64 * 9) {
            let was_split = map.is_split();
            match i % 7 {
                // A removal, a replacement and an in-place change of older keys.
                3 => assert_eq!(map.remove(&(i / 2)), model.remove(&(i / 2))),
                5 => assert_eq!(map.insert(i / 3, i), model.insert(i / 3, i)),
                6 => {
                    if let Some(v) = map.get_mut(&(i / 5)) {
                        *v += 1;
                        *model.get_mut(&(i / 5)).expect("in the model too") += 1;
                    }
                }
                _ => assert_eq!(map.insert(i, i), model.insert(i, i)),
            }
            if map.is_split() {
                changes_while_split += 1;
                splits += usize::from(!was_split);
            } else {
                changes_while_split = 0;
            }
            assert!(changes_while_split <= map.len() / MOVE_SLICE + 1);
            assert_eq!(map.len(), model.len());
            assert_eq!(map.get(&(i / 2)), model.get(&(i / 2)));
        }
        assert!(splits >= 2, "{splits} doublings made in steps");
        let mut all: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_unstable();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
    }
}
