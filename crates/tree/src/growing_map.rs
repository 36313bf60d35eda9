//! A hash map that doubles without a pause. A std hash map grows by moving every entry to a
//! table twice the size in one step: at 917,504 znodes that held every replica's core about
//! 200 ms at the same zxid (`quorum bench tree-memory`'s longest apply, on the 2-core machine
//! of docs/benchmarks.md), and twice that at the next doubling. Here a full table is set aside
//! and a new one twice its size takes the inserts, while each change moves [`MOVE_SLICE`] of
//! the old table's entries across; lookups try the new table, then the old. The old table is
//! empty after a sixty-fourth of its size in changes (14,000 at a million znodes), long
//! before the new one can fill; until then it holds its memory.

use std::hash::Hash;

use hashbrown::HashTable;

/// Entries moved from the old table to the new one per change while a doubling is under way.
/// Small, because a follower applies a leader's COMMIT of hundreds of transactions in one go:
/// with 1,024 a change, 512 creates in a row took as long as the whole move (176–182 ms in
/// `quorum bench tree-memory`), with 64 they take 86–90 ms, most of it the kernel zeroing the
/// new table's pages as the first moves touch them (a std map's doubling pays that too).
const MOVE_SLICE: usize = 64;

/// Buckets of the old table looked at per change at most (most hold an entry: a table is
/// set aside full).
const VISIT_SLICE: usize = 4 * MOVE_SLICE;

/// Tables smaller than this double in place, as a std hash map does: moving them is cheap.
const MIN_SPLIT_CAPACITY: usize = 1 << 14;

/// What the map holds: an entry that carries its own key (a node holds its path, so the
/// table's slot is one pointer), or a (key, value) pair. The map asks the entry for its hash
/// and to compare itself, so that a key kept in parts (a node's path is its parent's shared
/// prefix and its name, see [`crate::node_path`]) is found by a whole one.
pub trait Keyed {
    /// The hash of the entry's key: what [`Lookup::query_hash`] gives a query it matches. It
    /// must not change while the entry is in a map.
    fn key_hash(&self, hasher: &ahash::RandomState) -> u64;
    /// Whether the two entries have the same key.
    fn same_key(&self, other: &Self) -> bool;
}

/// An entry found by a `Q`.
pub trait Lookup<Q: ?Sized>: Keyed {
    /// The hash of `query`.
    fn query_hash(query: &Q, hasher: &ahash::RandomState) -> u64;
    /// Whether this entry is `query`'s.
    fn matches(&self, query: &Q) -> bool;
}

impl<K: Hash + Eq, V> Keyed for (K, V) {
    fn key_hash(&self, hasher: &ahash::RandomState) -> u64 {
        hasher.hash_one(&self.0)
    }
    fn same_key(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Hash + Eq, V> Lookup<K> for (K, V) {
    fn query_hash(query: &K, hasher: &ahash::RandomState) -> u64 {
        hasher.hash_one(query)
    }
    fn matches(&self, query: &K) -> bool {
        self.0 == *query
    }
}

/// See the module documentation. Keys are hashed with aHash (keyed per process, so clients
/// cannot aim collisions).
#[derive(Debug)]
pub struct GrowingMap<E> {
    table: HashTable<E>,
    /// The table before the last doubling, emptied into `table` in bucket order from `cursor`:
    /// each bucket is looked at once, so the move costs what one rehash does, spread out.
    old: HashTable<E>,
    cursor: usize,
    hasher: ahash::RandomState,
}

impl<E> Default for GrowingMap<E> {
    fn default() -> Self {
        GrowingMap {
            table: HashTable::new(),
            old: HashTable::new(),
            cursor: 0,
            hasher: ahash::RandomState::new(),
        }
    }
}

impl<E: Keyed> GrowingMap<E> {
    /// Entries in both tables.
    pub fn len(&self) -> usize {
        self.table.len() + self.old.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry for `key`, in whichever table holds it.
    pub fn get<Q: ?Sized>(&self, key: &Q) -> Option<&E>
    where
        E: Lookup<Q>,
    {
        let hash = E::query_hash(key, &self.hasher);
        let is = |e: &E| e.matches(key);
        self.table
            .find(hash, is)
            .or_else(|| self.old.find(hash, is))
    }

    /// Whether `key` is there.
    pub fn contains_key<Q: ?Sized>(&self, key: &Q) -> bool
    where
        E: Lookup<Q>,
    {
        self.get(key).is_some()
    }

    /// The entry for `key`, to change in place (a change: it moves a slice). The caller must
    /// leave its key as it is.
    pub fn get_mut<Q: ?Sized>(&mut self, key: &Q) -> Option<&mut E>
    where
        E: Lookup<Q>,
    {
        self.move_some();
        let hash = E::query_hash(key, &self.hasher);
        let is = |e: &E| e.matches(key);
        if let Some(e) = self.table.find_mut(hash, is) {
            return Some(e);
        }
        self.old.find_mut(hash, is)
    }

    /// Adds or replaces; returns the entry replaced.
    pub fn insert(&mut self, entry: E) -> Option<E> {
        self.move_some();
        self.insert_without_moving(entry)
    }

    /// As [`GrowingMap::insert`], without moving any of a doubling's entries: for a caller
    /// that makes many inserts in one change (the fold of a snapshot's overlay), which would
    /// otherwise finish a doubling in one go. The new table has room for the old table's
    /// entries again; should a fold bigger than that fill it first, it grows in one go (a
    /// pause, as a std map's doubling, nothing lost).
    pub fn insert_without_moving(&mut self, entry: E) -> Option<E> {
        let hash = entry.key_hash(&self.hasher);
        if let Some(e) = self.table.find_mut(hash, |e| e.same_key(&entry)) {
            return Some(std::mem::replace(e, entry));
        }
        let replaced = self.take_from_old(hash, |e| e.same_key(&entry));
        if replaced.is_none() {
            self.split_if_full();
        }
        self.put(hash, entry);
        replaced
    }

    /// Adds `entry` if its key is not there; gives it back, nothing changed, if it is. One
    /// hash.
    pub fn insert_new(&mut self, entry: E) -> Result<(), E> {
        self.move_some();
        let hash = entry.key_hash(&self.hasher);
        let is = |e: &E| e.same_key(&entry);
        if self.table.find(hash, is).is_some() || self.old.find(hash, is).is_some() {
            return Err(entry);
        }
        self.split_if_full();
        self.put(hash, entry);
        Ok(())
    }

    /// Removes `key`'s entry and returns it.
    pub fn remove<Q: ?Sized>(&mut self, key: &Q) -> Option<E>
    where
        E: Lookup<Q>,
    {
        self.move_some();
        self.remove_without_moving(key)
    }

    /// As [`GrowingMap::remove`], without moving any of a doubling's entries (see
    /// [`GrowingMap::insert_without_moving`]).
    pub fn remove_without_moving<Q: ?Sized>(&mut self, key: &Q) -> Option<E>
    where
        E: Lookup<Q>,
    {
        let hash = E::query_hash(key, &self.hasher);
        let is = |e: &E| e.matches(key);
        if let Ok(entry) = self.table.find_entry(hash, is) {
            return Some(entry.remove().0);
        }
        self.take_from_old(hash, is)
    }

    /// Entries that can go in before the table grows (those of a doubling under way count as
    /// in it).
    pub fn room(&self) -> usize {
        let held = self.table.len() + self.old.len();
        self.table.capacity().saturating_sub(held)
    }

    /// Room for `additional` more entries. Finishes a doubling under way first; meant for a
    /// map being filled in one go (restore, copy), where a pause is not a stall.
    pub fn reserve(&mut self, additional: usize) {
        while !self.old.is_empty() {
            self.move_some();
        }
        let hasher = &self.hasher;
        self.table.reserve(additional, |e| e.key_hash(hasher));
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.table.iter().chain(self.old.iter())
    }

    /// Moves up to [`MOVE_SLICE`] entries from the old table, looking at no more than
    /// [`VISIT_SLICE`] of its buckets; frees it once empty.
    ///
    /// The entries are taken out first and hashed in a loop of their own: a node's key is
    /// two pointers away (the node, then its name and its prefix), and hashing them one after
    /// the other lets the processor fetch several entries' memory at once, where hashing each
    /// as it is put waited for every one in turn.
    fn move_some(&mut self) {
        if self.old.is_empty() {
            return;
        }
        let end = self.old.num_buckets().min(self.cursor + VISIT_SLICE);
        let mut taken: [Option<E>; MOVE_SLICE] = std::array::from_fn(|_| None);
        let mut n = 0;
        while self.cursor < end && n < MOVE_SLICE {
            if let Ok(entry) = self.old.get_bucket_entry(self.cursor) {
                taken[n] = Some(entry.remove().0);
                n += 1;
            }
            self.cursor += 1;
        }
        let mut hashes = [0u64; MOVE_SLICE];
        for (hash, entry) in hashes.iter_mut().zip(taken.iter().flatten()) {
            *hash = entry.key_hash(&self.hasher);
        }
        for (hash, entry) in hashes.into_iter().zip(taken.into_iter().flatten()) {
            self.put(hash, entry);
        }
        self.free_old_if_empty();
    }

    /// Puts an entry known to be in neither table into the new one.
    fn put(&mut self, hash: u64, entry: E) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, entry, |e| e.key_hash(hasher));
    }

    /// Removes the entry `is` picks from the old table, if it is there.
    fn take_from_old(&mut self, hash: u64, is: impl FnMut(&E) -> bool) -> Option<E> {
        let taken = match self.old.find_entry(hash, is) {
            Ok(entry) => Some(entry.remove().0),
            Err(_) => None,
        };
        self.free_old_if_empty();
        taken
    }

    /// Before a new key goes in: a full table big enough to be worth it is set aside for a
    /// new one twice its size, unless a doubling is still under way.
    fn split_if_full(&mut self) {
        if self.old.is_empty()
            && self.table.len() == self.table.capacity()
            && self.table.capacity() >= MIN_SPLIT_CAPACITY
        {
            let bigger = HashTable::with_capacity(self.table.capacity() * 2);
            self.old = std::mem::replace(&mut self.table, bigger);
            self.cursor = 0;
        }
    }

    /// Gives back the old table's buckets once it holds nothing, however it was emptied (a
    /// move, or a removal or replacement of its last entries).
    fn free_old_if_empty(&mut self) {
        if self.old.is_empty() && self.old.capacity() > 0 {
            self.old = HashTable::new();
            self.cursor = 0;
        }
    }

    /// Whether a doubling is under way (tests).
    #[cfg(test)]
    pub(crate) fn is_split(&self) -> bool {
        !self.old.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    /// Removals that empty the old table before the moves do still free it.
    #[test]
    fn an_old_table_emptied_by_removals_is_freed() {
        let mut map: GrowingMap<(u64, u64)> = GrowingMap::default();
        let mut n = 0;
        while !map.is_split() {
            map.insert((n, n));
            n += 1;
        }
        for k in 0..n {
            assert_eq!(map.remove(&k), Some((k, k)));
        }
        assert!(map.is_empty());
        assert_eq!(map.old.capacity(), 0);
    }

    fn value(entry: Option<(u64, u64)>) -> Option<u64> {
        entry.map(|(_, v)| v)
    }

    /// A map grown past several doublings, with every kind of change made while the old
    /// table is still being emptied, agrees with a std map at every step; and the old table
    /// is emptied within the changes the module promises.
    #[test]
    fn agrees_with_a_plain_map_through_doublings() {
        let mut map: GrowingMap<(u64, u64)> = GrowingMap::default();
        let mut model: HashMap<u64, u64> = HashMap::new();
        let mut splits = 0;
        let mut changes_while_split = 0;
        for i in 0..(MIN_SPLIT_CAPACITY as u64 * 9) {
            let was_split = map.is_split();
            match i % 7 {
                // A removal, a replacement and an in-place change of older keys.
                3 => assert_eq!(value(map.remove(&(i / 2))), model.remove(&(i / 2))),
                5 => assert_eq!(value(map.insert((i / 3, i))), model.insert(i / 3, i)),
                6 => {
                    if let Some((_, v)) = map.get_mut(&(i / 5)) {
                        *v += 1;
                        *model.get_mut(&(i / 5)).expect("in the model too") += 1;
                    }
                }
                _ => assert_eq!(value(map.insert((i, i))), model.insert(i, i)),
            }
            if map.is_split() {
                changes_while_split += 1;
                splits += usize::from(!was_split);
            } else {
                changes_while_split = 0;
            }
            assert!(changes_while_split <= map.len() / MOVE_SLICE + 2);
            assert_eq!(map.len(), model.len());
            assert_eq!(map.get(&(i / 2)).map(|e| &e.1), model.get(&(i / 2)));
        }
        assert!(splits >= 2, "{splits} doublings made in steps");
        let mut all: Vec<_> = map.iter().copied().collect();
        all.sort_unstable();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
    }
}
