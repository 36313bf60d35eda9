//! Watches as a checker sees them: the changes every server applied (recorded by the server
//! core itself), and the watches each connection holds, each with the zxid after which changes
//! are due to it. A due change must be notified before any reply whose zxid covers it, and a
//! one-shot watch is notified once.

use std::collections::BTreeMap;

use proto::EventType;

use super::workload::WatchSpec;

/// Every change the ensemble applied, by path: (zxid, event), in zxid order.
#[derive(Debug, Default)]
pub struct ChangeLog {
    by_path: BTreeMap<String, Vec<(i64, EventType)>>,
    /// The highest zxid recorded: a change at or below it was recorded by another server.
    recorded: i64,
}

impl ChangeLog {
    /// Changes one server applied, in order.
    pub fn record(&mut self, changes: Vec<server_core::state::Change>) {
        let mut top = self.recorded;
        for change in changes {
            // Clients see zxids as ZooKeeper's signed longs: the checker speaks their language.
            let zxid = change.zxid.as_i64();
            if zxid <= self.recorded {
                continue;
            }
            top = top.max(zxid);
            self.by_path
                .entry(change.path)
                .or_default()
                .push((zxid, change.event));
        }
        self.recorded = top;
    }

    /// Whether a change due to `watch` happened in (`after`, `upto`].
    pub fn due(
        &self,
        watch: &WatchSpec,
        after: i64,
        upto: i64,
    ) -> Option<(i64, EventType, String)> {
        match watch {
            WatchSpec::Data(p) | WatchSpec::Exist(p) => self.first(p, after, upto, |e| {
                matches!(
                    e,
                    EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted
                )
            }),
            WatchSpec::Child(p) => self.first(p, after, upto, |e| {
                matches!(e, EventType::NodeChildrenChanged | EventType::NodeDeleted)
            }),
            WatchSpec::Persistent(p) => self.first(p, after, upto, |_| true),
            WatchSpec::Recursive(root) => {
                let prefix = format!("{}/", root.trim_end_matches('/'));
                self.by_path
                    .keys()
                    .filter(|p| *p == root || p.starts_with(&prefix))
                    .filter_map(|p| {
                        self.first(p, after, upto, |e| e != EventType::NodeChildrenChanged)
                    })
                    .min()
            }
        }
    }

    fn first(
        &self,
        path: &str,
        after: i64,
        upto: i64,
        matches: impl Fn(EventType) -> bool,
    ) -> Option<(i64, EventType, String)> {
        let changes = self.by_path.get(path)?;
        let start = changes.partition_point(|(z, _)| *z <= after);
        changes[start..]
            .iter()
            .take_while(|(z, _)| *z <= upto)
            .find(|(_, e)| matches(*e))
            .map(|(z, e)| (*z, *e, path.to_string()))
    }
}

/// Whether a notification of `event` on `path` is one `watch` asked for.
fn matches_event(watch: &WatchSpec, event: EventType, path: &str) -> bool {
    match watch {
        WatchSpec::Data(p) | WatchSpec::Exist(p) => {
            p == path
                && matches!(
                    event,
                    EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted
                )
        }
        WatchSpec::Child(p) => {
            p == path
                && matches!(
                    event,
                    EventType::NodeChildrenChanged | EventType::NodeDeleted
                )
        }
        WatchSpec::Persistent(p) => p == path,
        WatchSpec::Recursive(root) => {
            event != EventType::NodeChildrenChanged
                && (path == root || path.starts_with(&format!("{root}/")))
        }
    }
}

/// The point of a watch whose changes are not due yet (see [`HeldWatches::settle`]).
pub const NOT_YET: i64 = i64::MAX;

/// The watches one connection holds: each with the zxid after which changes are due to it.
#[derive(Debug, Default, Clone)]
pub struct HeldWatches {
    held: BTreeMap<WatchSpec, i64>,
    /// Watches carried to a new connection by a setWatches not answered yet: they may be
    /// notified (the server fires what changed before answering), but no reply is checked
    /// against them until the setWatches reply (requests before it did not see them).
    pending: BTreeMap<WatchSpec, i64>,
    /// The notifications received at the latest zxid: setWatches tells a node's deletion once
    /// per watch list it is in (data and child), as ZooKeeper does; a client takes the second
    /// as a repeat.
    recent: (i64, Vec<(EventType, String)>),
}

impl HeldWatches {
    /// The server registered `watch` when the connection's state was at `since`. A watch held
    /// already keeps its older point (the server keeps one watch).
    pub fn add(&mut self, watch: WatchSpec, since: i64) {
        self.held.entry(watch).or_insert(since);
    }

    /// A watch carried by a setWatches on its way (see `pending`).
    pub fn add_pending(&mut self, watch: WatchSpec, since: i64) {
        self.pending.entry(watch).or_insert(since);
    }

    /// A notification of `event` on `path` at `zxid` arrived: one-shot watches it matches are
    /// used up, persistent ones are due again only after it. Errs when no watch matches (a
    /// notification nobody asked for, or a one-shot watch fired twice).
    pub fn notified(&mut self, event: EventType, path: &str, zxid: i64) -> Result<(), String> {
        let mut matched = false;
        let mut used = Vec::new();
        let mut used_pending = Vec::new();
        for (watch, _) in self.pending.iter() {
            if matches_event(watch, event, path) {
                matched = true;
                if !matches!(watch, WatchSpec::Persistent(_) | WatchSpec::Recursive(_)) {
                    used_pending.push(watch.clone());
                }
            }
        }
        for watch in used_pending {
            self.pending.remove(&watch);
        }
        for (watch, since) in self.held.iter_mut() {
            let hit = match watch {
                WatchSpec::Data(p) | WatchSpec::Exist(p) => {
                    p == path
                        && matches!(
                            event,
                            EventType::NodeCreated
                                | EventType::NodeDataChanged
                                | EventType::NodeDeleted
                        )
                }
                WatchSpec::Child(p) => {
                    p == path
                        && matches!(
                            event,
                            EventType::NodeChildrenChanged | EventType::NodeDeleted
                        )
                }
                WatchSpec::Persistent(p) => p == path,
                WatchSpec::Recursive(root) => {
                    event != EventType::NodeChildrenChanged
                        && (path == root || path.starts_with(&format!("{}/", root)))
                }
            };
            if !hit {
                continue;
            }
            matched = true;
            match watch {
                WatchSpec::Persistent(_) | WatchSpec::Recursive(_) => *since = (*since).max(zxid),
                _ => used.push(watch.clone()),
            }
        }
        for watch in used {
            self.held.remove(&watch);
        }
        if self.recent.0 != zxid {
            self.recent = (zxid, Vec::new());
        }
        let key = (event, path.to_string());
        let repeat = self.recent.1.contains(&key);
        self.recent.1.push(key);
        if matched || repeat {
            Ok(())
        } else {
            Err(format!("a notification {event:?} {path} at {zxid:#x} no watch asked for (or a one-shot watch fired twice)"))
        }
    }

    /// Before a reply at `zxid` is accepted: every change due to a held watch up to `zxid` must
    /// have been notified already.
    pub fn check_reply(&self, zxid: i64, changes: &ChangeLog) -> Result<(), String> {
        for (watch, since) in &self.held {
            if let Some((at, event, path)) = changes.due(watch, *since, zxid) {
                return Err(format!(
                    "a reply at {zxid:#x} came before the notification of {event:?} {path} at {at:#x}, due to {watch:?} (set at {since:#x})"
                ));
            }
        }
        Ok(())
    }

    /// Watches set again after a reconnect for which changes before the setWatches reply are
    /// not due (exist, persistent: ZooKeeper re-adds them without looking back) wait with
    /// [`NOT_YET`] until that reply; from its zxid on they are due.
    pub fn settle(&mut self, zxid: i64, set: bool) {
        let pending = std::mem::take(&mut self.pending);
        if !set {
            return;
        }
        for (watch, since) in pending {
            let since = if since == NOT_YET { zxid } else { since };
            self.held.entry(watch).or_insert(since);
        }
    }

    /// Takes every watch (to set again on the next connection).
    pub fn take(&mut self) -> BTreeMap<WatchSpec, i64> {
        let mut all = std::mem::take(&mut self.held);
        for (watch, since) in std::mem::take(&mut self.pending) {
            all.entry(watch).or_insert(since);
        }
        all
    }
}
