//! Watch records: re-registration on reconnect, persistent watches, watch checks and removal,
//! and the notification the server sends when a watch fires.

use crate::jute::record;
use crate::records::header::ReplyHeader;
use crate::watch::{EventType, KeeperState};
use crate::xid;

record! {
    /// setWatches (xid -8): the one-shot watches a reconnecting client held. The server fires
    /// at once any whose node changed after `relative_zxid`.
    pub struct SetWatches {
        /// The last zxid the client saw.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }
}

record! {
    /// setWatches2 (3.6): setWatches plus persistent and persistent-recursive watches.
    pub struct SetWatches2 {
        /// The last zxid the client saw.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// addWatch.
    pub struct AddWatchRequest {
        /// The node.
        pub path: String,
        /// An [`crate::AddWatchMode`] value, raw.
        pub mode: i32,
    }
}

record! {
    /// checkWatches.
    pub struct CheckWatchesRequest {
        /// The node.
        pub path: String,
        /// A [`crate::WatcherType`] value, raw.
        pub watcher_type: i32,
    }
}

record! {
    /// removeWatches.
    pub struct RemoveWatchesRequest {
        /// The node.
        pub path: String,
        /// A [`crate::WatcherType`] value, raw.
        pub watcher_type: i32,
    }
}

record! {
    /// A watch notification, sent after a [`ReplyHeader`] with xid -1.
    pub struct WatcherEvent {
        /// What happened.
        pub event_type: EventType,
        /// The session state (SyncConnected for node events).
        pub state: KeeperState,
        /// The node, as the client named it.
        pub path: String,
    }
}

impl WatcherEvent {
    /// A node event on a connected session.
    pub fn node(event_type: EventType, path: impl Into<String>) -> Self {
        WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.into(),
        }
    }

    /// The reply header a notification travels under. ZooKeeper 3.8 sends zxid -1 here.
    pub fn header(zxid: i64) -> ReplyHeader {
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        }
    }
}
