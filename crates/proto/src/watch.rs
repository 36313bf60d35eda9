//! Watch-related enumerations: event types, keeper states, watcher types, addWatch modes.

use crate::error::DecodeError;
use crate::macros::{int_enum, int_enum_jute};

int_enum! {
    /// What happened, in a watch notification (`Watcher.Event.EventType`).
    pub enum EventType [|v| DecodeError::InvalidValue { what: "event type", value: v }] {
        /// A change of session state, not of a node.
        None = -1 => "None",
        /// The node was created.
        NodeCreated = 1 => "NodeCreated",
        /// The node was deleted.
        NodeDeleted = 2 => "NodeDeleted",
        /// The node's data changed.
        NodeDataChanged = 3 => "NodeDataChanged",
        /// The node's children changed.
        NodeChildrenChanged = 4 => "NodeChildrenChanged",
        /// A data watch was removed (client side, by removeWatches).
        DataWatchRemoved = 5 => "DataWatchRemoved",
        /// A child watch was removed (client side, by removeWatches).
        ChildWatchRemoved = 6 => "ChildWatchRemoved",
        /// A persistent watch was removed (3.6+ clients).
        PersistentWatchRemoved = 7 => "PersistentWatchRemoved",
    }
}
int_enum_jute!(EventType);

int_enum! {
    /// The session's state, in a watch notification (`Watcher.Event.KeeperState`).
    pub enum KeeperState [|v| DecodeError::InvalidValue { what: "keeper state", value: v }] {
        /// Unused by servers.
        Unknown = -1 => "Unknown",
        /// Not connected.
        Disconnected = 0 => "Disconnected",
        /// Unused by servers.
        NoSyncConnected = 1 => "NoSyncConnected",
        /// Connected; the state of every node event.
        SyncConnected = 3 => "SyncConnected",
        /// Authentication failed.
        AuthFailed = 4 => "AuthFailed",
        /// Connected to a read-only server.
        ConnectedReadOnly = 5 => "ConnectedReadOnly",
        /// SASL authentication succeeded.
        SaslAuthenticated = 6 => "SaslAuthenticated",
        /// The session expired.
        Expired = -112 => "Expired",
        /// The client closed (client side only).
        Closed = 7 => "Closed",
    }
}
int_enum_jute!(KeeperState);

int_enum! {
    /// Which watches checkWatches / removeWatches refer to (`Watcher.WatcherType`).
    pub enum WatcherType [|v| DecodeError::InvalidValue { what: "watcher type", value: v }] {
        /// Child watches.
        Children = 1 => "Children",
        /// Data and exist watches.
        Data = 2 => "Data",
        /// Every kind.
        Any = 3 => "Any",
        /// Persistent watches (3.9 clients).
        Persistent = 4 => "Persistent",
        /// Persistent recursive watches (3.9 clients).
        PersistentRecursive = 5 => "PersistentRecursive",
    }
}

int_enum! {
    /// The `mode` of an addWatch request (`ZooDefs.AddWatchModes`).
    pub enum AddWatchMode [|v| DecodeError::InvalidValue { what: "addWatch mode", value: v }] {
        /// Fires for the node itself, and stays.
        Persistent = 0 => "PERSISTENT",
        /// Fires for the node and every descendant, and stays; sends no child events.
        PersistentRecursive = 1 => "PERSISTENT_RECURSIVE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(KeeperState::Expired.as_i32(), -112);
        assert_eq!(EventType::try_from(4), Ok(EventType::NodeChildrenChanged));
        assert_eq!(WatcherType::try_from(3), Ok(WatcherType::Any));
        assert!(AddWatchMode::try_from(2).is_err());
    }
}
