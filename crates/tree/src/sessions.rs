//! The sessions table: replicated state (createSession / closeSession txns), so every
//! replica knows which sessions exist, their negotiated timeouts and their ephemeral nodes.
//! Expiry itself (deciding *when* a session is dead) is the leader's, outside the tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Session id → timeout, and session id → the paths of its ephemeral nodes. Sorted maps keep
/// iteration (snapshots, closeSession) deterministic across replicas.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    timeouts: BTreeMap<i64, i32>,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    /// What ZooKeeper's per-session `HashSet` of ephemerals iterates by, for the order
    /// closeSession deletes them in (see [`Sessions::ephemerals_in_zookeeper_order`]).
    hash_sets: BTreeMap<i64, HashSetHistory>,
    /// Ephemeral nodes over all sessions, kept as they come and go (metrics read it).
    ephemeral_count: usize,
}

/// A pending change that ZooKeeper's closeSession walk removes from, or adds to, the closing
/// session's ephemerals: a delete of any path, or a node of that session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingEphemeral<'a> {
    /// A pending delete of the path.
    Removed(&'a str),
    /// A pending node of the closing session at the path.
    Added(&'a str),
}

/// Two tables are equal when their sessions and ephemerals are; the insertion history behind
/// ZooKeeper's iteration order is not state a snapshot keeps.
impl PartialEq for Sessions {
    fn eq(&self, other: &Self) -> bool {
        self.timeouts == other.timeouts && self.ephemerals == other.ephemerals
    }
}

impl Eq for Sessions {}

/// A session's ephemerals as ZooKeeper's `DataTree.ephemerals` `HashSet` holds them: when
/// each was added (order within a hash bucket) and the most it ever held (a Java `HashMap`
/// grows but never shrinks, and its capacity decides the buckets). The set lives until the
/// session closes, even when empty.
#[derive(Debug, Clone, Default)]
struct HashSetHistory {
    added: BTreeMap<String, u64>,
    next: u64,
    peak: usize,
}

/// Java's `String.hashCode` spread as `HashMap.hash` does, over UTF-16 code units.
fn java_hash(s: &str) -> u32 {
    let h = s
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u))) as u32;
    h ^ (h >> 16)
}

/// The smallest power of two at least `n` (Java's `HashMap.tableSizeFor`, for n >= 1).
fn table_size_for(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// The threshold past which a Java `HashMap` of this capacity doubles.
fn threshold(capacity: usize) -> usize {
    (capacity as f32 * 0.75) as usize
}

impl Sessions {
    /// Is the session open?
    pub fn contains(&self, id: i64) -> bool {
        self.timeouts.contains_key(&id)
    }

    /// The negotiated timeout (ms) of an open session.
    pub fn timeout(&self, id: i64) -> Option<i32> {
        self.timeouts.get(&id).copied()
    }

    /// Every open session and its timeout, by id.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i32)> + '_ {
        self.timeouts.iter().map(|(k, v)| (*k, *v))
    }

    /// Number of open sessions.
    pub fn len(&self) -> usize {
        self.timeouts.len()
    }

    /// No open sessions.
    pub fn is_empty(&self) -> bool {
        self.timeouts.is_empty()
    }

    /// The ephemeral paths of a session, sorted.
    pub fn ephemerals(&self, id: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&id)
            .into_iter()
            .flat_map(|s| s.iter().map(String::as_str))
    }

    /// Total ephemeral nodes over all sessions (ZooKeeper's `getEphemeralsCount`, for mntr).
    pub fn ephemerals_count(&self) -> usize {
        self.ephemeral_count
    }

    pub(crate) fn open(&mut self, id: i64, timeout_ms: i32) -> Option<i32> {
        self.timeouts.insert(id, timeout_ms)
    }

    pub(crate) fn close(&mut self, id: i64) -> Option<i32> {
        self.hash_sets.remove(&id);
        self.timeouts.remove(&id)
    }

    pub(crate) fn add_ephemeral(&mut self, id: i64, path: &str) {
        let set = self.ephemerals.entry(id).or_default();
        if set.insert(path.to_string()) {
            self.ephemeral_count += 1;
            let history = self.hash_sets.entry(id).or_default();
            history.added.insert(path.to_string(), history.next);
            history.next += 1;
            history.peak = history.peak.max(set.len());
        }
    }

    pub(crate) fn remove_ephemeral(&mut self, id: i64, path: &str) {
        if let Some(set) = self.ephemerals.get_mut(&id) {
            if set.remove(path) {
                self.ephemeral_count -= 1;
            }
            if set.is_empty() {
                self.ephemerals.remove(&id);
            }
        }
        if let Some(history) = self.hash_sets.get_mut(&id) {
            history.added.remove(path);
        }
    }

    /// The session's ephemerals, changed by `pending` (every pending change that removes or
    /// adds one, in prep order), in the order ZooKeeper 3.8 lists them in a closeSession txn and
    /// so deletes them and fires their watches: its PrepRequestProcessor clones the session's
    /// `HashSet` (`getEphemerals`), walks the pending changes removing and adding, and iterates
    /// the result. A Java
    /// `HashSet` of strings iterates by bucket (`String.hashCode`, spread, modulo the capacity),
    /// then by insertion order within a bucket; the clone is sized for its contents
    /// (`HashMap.putMapEntries` on JDK 17), the original for the most it ever held.
    pub fn ephemerals_in_zookeeper_order(
        &self,
        id: i64,
        pending: &[PendingEphemeral<'_>],
    ) -> Vec<String> {
        let history = self.hash_sets.get(&id);
        let current: Vec<&str> = self.ephemerals(id).collect();
        // The original set: default capacity 16, doubled whenever it held more than 3/4.
        let mut source_cap = 16;
        while history.map_or(0, |h| h.peak) > threshold(source_cap) {
            source_cap *= 2;
        }
        let added_at = |p: &str| history.and_then(|h| h.added.get(p)).copied().unwrap_or(0);
        let mut order: Vec<(usize, u64, &str)> = current
            .iter()
            .map(|p| (java_hash(p) as usize & (source_cap - 1), added_at(p), *p))
            .collect();
        order.sort();
        // The clone: sized for its contents, filled in the original's iteration order.
        let mut cap = if current.is_empty() {
            16
        } else {
            table_size_for((current.len() as f32 / 0.75 + 1.0) as usize)
        };
        // Within a bucket the order is that of insertion: an add goes to the tail, a removal
        // unlinks without reordering, a resize keeps the order. So the set is its elements in
        // insertion order, and the capacity it grew to.
        // Removed elements leave a hole, found through `rank_of`: a walk over thousands of
        // ephemerals and pending changes stays linear.
        let mut inserted: Vec<Option<&str>> = order.into_iter().map(|(_, _, p)| Some(p)).collect();
        let mut rank_of: HashMap<&str, usize> = inserted
            .iter()
            .flatten()
            .enumerate()
            .map(|(r, p)| (*p, r))
            .collect();
        for change in pending {
            match *change {
                PendingEphemeral::Removed(p) => {
                    if let Some(rank) = rank_of.remove(p) {
                        inserted[rank] = None;
                    }
                }
                PendingEphemeral::Added(p) if !rank_of.contains_key(p) => {
                    rank_of.insert(p, inserted.len());
                    inserted.push(Some(p));
                    if rank_of.len() > threshold(cap) {
                        cap *= 2;
                    }
                }
                PendingEphemeral::Added(_) => {}
            }
        }
        let mut result: Vec<(usize, usize, &str)> = inserted
            .into_iter()
            .enumerate()
            .filter_map(|(rank, p)| p.map(|p| (java_hash(p) as usize & (cap - 1), rank, p)))
            .collect();
        result.sort();
        result.into_iter().map(|(_, _, p)| p.to_string()).collect()
    }

    pub(crate) fn ephemeral_set(&self, id: i64) -> Vec<String> {
        self.ephemerals(id).map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected orders printed by Java 17 doing what ZooKeeper does: a `HashSet` filled and
    /// emptied as the session's ephemerals come and go, `clone()`d, then the pending changes
    /// removed and added.
    #[test]
    fn close_session_lists_ephemerals_in_zookeepers_hash_set_order() {
        let mut s = Sessions::default();
        s.open(7, 30_000);
        let many: Vec<String> = (0..14).map(|i| format!("/e{i:010}")).collect();
        for p in &many {
            s.add_ephemeral(7, p);
        }
        // Fourteen made the set grow to 32 buckets; it keeps them after ten go.
        for p in &many[..10] {
            s.remove_ephemeral(7, p);
        }
        for p in ["/b/x", "/c0000000062", "/a"] {
            s.add_ephemeral(7, p);
        }
        let pending = [
            PendingEphemeral::Removed("/a"),
            PendingEphemeral::Added("/z/pending"),
        ];
        assert_eq!(
            s.ephemerals_in_zookeeper_order(7, &pending),
            [
                "/e0000000013",
                "/z/pending",
                "/b/x",
                "/e0000000010",
                "/e0000000012",
                "/e0000000011",
                "/c0000000062"
            ]
        );

        s.open(8, 30_000);
        for p in ["/e00000000390000000131", "/b/e0000000001", "/c0000000062"] {
            s.add_ephemeral(8, p);
        }
        assert_eq!(
            s.ephemerals_in_zookeeper_order(8, &[]),
            ["/e00000000390000000131", "/b/e0000000001", "/c0000000062"]
        );
        // Closing (after its ephemerals went) forgets the history.
        for p in ["/e00000000390000000131", "/b/e0000000001", "/c0000000062"] {
            s.remove_ephemeral(8, p);
        }
        s.close(8);
        assert!(!s.hash_sets.contains_key(&8));
        assert!(s.ephemerals_in_zookeeper_order(8, &[]).is_empty());
    }

    #[test]
    fn java_string_hash() {
        // "Aa" and "BB" collide in Java (2112); "/" is 47.
        assert_eq!(java_hash("Aa"), 2112);
        assert_eq!(java_hash("BB"), 2112);
        assert_eq!(java_hash("/"), 47);
        assert_eq!(java_hash("é"), 0xe9);
    }
}
