//! Watches: local to the server holding the connection (DESIGN.md), fired in zxid order as
//! transactions are applied.
//!
//! Semantics follow ZooKeeper 3.8's WatchManager: one-shot data watches (getData, and exists
//! on a node or on a missing one) fire on NodeCreated, NodeDataChanged and NodeDeleted; one-shot
//! child watches (getChildren) fire on NodeChildrenChanged and NodeDeleted; persistent watches
//! fire on every event of their node and stay; persistent-recursive watches fire on NodeCreated,
//! NodeDataChanged and NodeDeleted of their node and every descendant (never on
//! NodeChildrenChanged) and stay. One event reaches one watcher once, however many of its
//! watches match.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proto::EventType;

pub use crate::clients::ConnId;

/// The kinds of watch a connection can hold on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    Data,
    Child,
    Persistent,
    PersistentRecursive,
}

impl WatchKind {
    fn index(self) -> usize {
        match self {
            WatchKind::Data => 0,
            WatchKind::Child => 1,
            WatchKind::Persistent => 2,
            WatchKind::PersistentRecursive => 3,
        }
    }
}

/// The watchers of one path, by kind.
#[derive(Default, Debug)]
struct PathWatchers {
    by_kind: [BTreeSet<ConnId>; 4],
}

impl PathWatchers {
    fn is_empty(&self) -> bool {
        self.by_kind.iter().all(BTreeSet::is_empty)
    }
}

/// Every watch the server holds. The counts the four-letter words and metrics report are kept
/// as watches come and go, so reporting them never walks the watches.
#[derive(Default, Debug)]
pub struct Watches {
    /// Looked up for every change applied, by a path a client chose: aHash, seeded at random
    /// per process as std's SipHash is, and several times cheaper on a path (see
    /// `tree::FastMap` for the trade).
    by_path: HashMap<String, PathWatchers, ahash::RandomState>,
    by_conn: HashMap<ConnId, BTreeSet<(WatchKind, String)>, ahash::RandomState>,
    count: usize,
}

impl Watches {
    pub fn add(&mut self, conn: ConnId, kind: WatchKind, path: &str) {
        let added =
            self.by_path.entry(path.to_string()).or_default().by_kind[kind.index()].insert(conn);
        if added {
            self.count += 1;
            self.by_conn
                .entry(conn)
                .or_default()
                .insert((kind, path.to_string()));
        }
    }

    /// Removes one watch from the per-path index (the per-connection one is the caller's).
    fn unindex(&mut self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let removed = watchers.by_kind[kind.index()].remove(&conn);
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if removed {
            self.count -= 1;
        }
        removed
    }

    fn remove_one(&mut self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        let removed = self.unindex(conn, kind, path);
        if let Some(mine) = self.by_conn.get_mut(&conn) {
            mine.remove(&(kind, path.to_string()));
            if mine.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
        removed
    }

    /// Whether `conn` holds a watch of `kind` on `path`.
    pub fn has(&self, conn: ConnId, kind: WatchKind, path: &str) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|w| w.by_kind[kind.index()].contains(&conn))
    }

    /// Removes `conn`'s watches of the given kinds on `path`; returns whether any existed.
    pub fn remove(&mut self, conn: ConnId, kinds: &[WatchKind], path: &str) -> bool {
        let mut any = false;
        for &kind in kinds {
            any |= self.remove_one(conn, kind, path);
        }
        any
    }

    /// Drops every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: ConnId) {
        if let Some(mine) = self.by_conn.remove(&conn) {
            for (kind, path) in mine {
                self.unindex(conn, kind, &path);
            }
        }
    }

    /// Fires `event` on `path`: returns the watchers to notify (each once), and removes the
    /// one-shot watches that fired.
    pub fn trigger(&mut self, path: &str, event: EventType) -> BTreeSet<ConnId> {
        let mut fired = BTreeSet::new();
        // Every applied change asks, watched or not: with no watch anywhere, skip the lookups
        // of the path and of each of its ancestors.
        if self.by_path.is_empty() {
            return fired;
        }
        let one_shot: &[WatchKind] = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => &[WatchKind::Data],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Child],
            _ => &[],
        };
        if let Some(watchers) = self.by_path.get_mut(path) {
            for &kind in one_shot {
                let conns = std::mem::take(&mut watchers.by_kind[kind.index()]);
                self.count -= conns.len();
                for conn in conns {
                    if let Some(mine) = self.by_conn.get_mut(&conn) {
                        mine.remove(&(kind, path.to_string()));
                        if mine.is_empty() {
                            self.by_conn.remove(&conn);
                        }
                    }
                    fired.insert(conn);
                }
            }
            let persistent = &watchers.by_kind[WatchKind::Persistent.index()];
            fired.extend(persistent.iter().copied());
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        if event != EventType::NodeChildrenChanged {
            for ancestor in ancestors_and_self(path) {
                if let Some(watchers) = self.by_path.get(ancestor) {
                    let recursive = &watchers.by_kind[WatchKind::PersistentRecursive.index()];
                    fired.extend(recursive.iter().copied());
                }
            }
        }
        fired
    }

    /// Number of watches of every kind.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Number of distinct watched paths.
    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }

    pub fn connection_count(&self) -> usize {
        self.by_conn.len()
    }

    /// Paths watched, per connection (for `wchc`; walks every watch).
    pub fn by_connection(&self) -> BTreeMap<ConnId, BTreeSet<String>> {
        self.by_conn
            .iter()
            .map(|(&c, set)| (c, set.iter().map(|(_, p)| p.clone()).collect()))
            .collect()
    }

    /// Watchers, per path (for `wchp`; walks every watch).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        self.by_path
            .iter()
            .map(|(path, w)| (path.clone(), w.by_kind.iter().flatten().copied().collect()))
            .collect()
    }
}

/// "/a/b/c" → "/a/b/c", "/a/b", "/a", "/".
fn ancestors_and_self(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current == "/" {
            None
        } else {
            match current.rfind('/') {
                Some(0) => Some("/"),
                Some(i) => Some(&current[..i]),
                None => None,
            }
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_fire_once() {
        let mut w = Watches::default();
        w.add(1, WatchKind::Data, "/a");
        w.add(2, WatchKind::Child, "/a");
        assert_eq!(
            w.trigger("/a", EventType::NodeDataChanged),
            BTreeSet::from([1])
        );
        assert!(w.trigger("/a", EventType::NodeDataChanged).is_empty());
        assert_eq!(w.trigger("/a", EventType::NodeDeleted), BTreeSet::from([2]));
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn persistent_and_recursive_watches_stay() {
        let mut w = Watches::default();
        w.add(1, WatchKind::Persistent, "/a");
        w.add(2, WatchKind::PersistentRecursive, "/a");
        assert_eq!(
            w.trigger("/a", EventType::NodeChildrenChanged),
            BTreeSet::from([1])
        );
        assert_eq!(
            w.trigger("/a/b/c", EventType::NodeCreated),
            BTreeSet::from([2])
        );
        assert_eq!(
            w.trigger("/a", EventType::NodeDataChanged),
            BTreeSet::from([1, 2])
        );
        assert_eq!(w.count(), 2);
        w.remove_connection(2);
        assert!(w.trigger("/a/x", EventType::NodeDeleted).is_empty());
    }

    #[test]
    fn a_watcher_with_two_matching_watches_is_told_once() {
        let mut w = Watches::default();
        w.add(1, WatchKind::Data, "/a");
        w.add(1, WatchKind::Child, "/a");
        w.add(1, WatchKind::PersistentRecursive, "/");
        assert_eq!(w.trigger("/a", EventType::NodeDeleted), BTreeSet::from([1]));
        assert_eq!(w.count(), 1);
    }

    #[test]
    fn ancestors() {
        let all: Vec<&str> = ancestors_and_self("/a/b").collect();
        assert_eq!(all, ["/a/b", "/a", "/"]);
        assert_eq!(ancestors_and_self("/").collect::<Vec<_>>(), ["/"]);
    }

    /// The counts the four-letter words report are kept as watches come and go (reporting
    /// them must not walk 200,000 watches).
    #[test]
    fn counts_are_kept_as_watches_come_and_go() {
        let mut w = Watches::default();
        for conn in 0..50 {
            for path in ["/a", "/b", "/c"] {
                w.add(conn, WatchKind::Data, path);
                w.add(conn, WatchKind::Child, path);
            }
        }
        w.add(7, WatchKind::Data, "/a");
        assert_eq!(
            (w.count(), w.path_count(), w.connection_count()),
            (300, 3, 50)
        );
        w.trigger("/a", EventType::NodeDataChanged);
        assert_eq!((w.count(), w.path_count()), (250, 3));
        w.trigger("/b", EventType::NodeDeleted);
        assert_eq!((w.count(), w.path_count()), (150, 2));
        w.remove_connection(3);
        assert_eq!((w.count(), w.connection_count()), (147, 49));
        w.remove(4, &[WatchKind::Child], "/a");
        assert_eq!(w.count(), 146);
    }
}
