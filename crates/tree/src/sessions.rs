//! The sessions table: replicated state (createSession / closeSession txns), so every
//! replica knows which sessions exist, their negotiated timeouts and their ephemeral nodes.
//! Expiry itself (deciding *when* a session is dead) is the leader's, outside the tree.

use std::collections::{BTreeMap, BTreeSet};

/// Session id → timeout, and session id → the paths of its ephemeral nodes. Sorted maps keep
/// iteration (snapshots, closeSession) deterministic across replicas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sessions {
    timeouts: BTreeMap<i64, i32>,
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
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
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    pub(crate) fn open(&mut self, id: i64, timeout_ms: i32) -> Option<i32> {
        self.timeouts.insert(id, timeout_ms)
    }

    pub(crate) fn close(&mut self, id: i64) -> Option<i32> {
        self.timeouts.remove(&id)
    }

    pub(crate) fn add_ephemeral(&mut self, id: i64, path: &str) {
        self.ephemerals
            .entry(id)
            .or_default()
            .insert(path.to_string());
    }

    pub(crate) fn remove_ephemeral(&mut self, id: i64, path: &str) {
        if let Some(set) = self.ephemerals.get_mut(&id) {
            set.remove(path);
            if set.is_empty() {
                self.ephemerals.remove(&id);
            }
        }
    }

    pub(crate) fn ephemeral_set(&self, id: i64) -> Vec<String> {
        self.ephemerals(id).map(str::to_string).collect()
    }
}
