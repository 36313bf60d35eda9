//! Deliberately broken server variants, for the simulator's teeth: each breaks one rule the
//! server's core keeps, and a sweep of `quorum sim --level server` must catch every one. They
//! exist only in builds with the `bugs` cargo feature; the shipped binary has none.

/// A broken behaviour of the server's core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerBug {
    /// A read is answered at once, ahead of the write queued before it on its connection.
    ReadBeforeWrite,
    /// A write is answered before the watch notifications its transaction triggered.
    NotificationAfterReply,
    /// A server answers a sync as soon as the leader answered it, without waiting to apply
    /// what the leader named: a sync-then-read can miss a write acknowledged before it.
    SyncBeforeApply,
    /// The leader lets a session keep writing from a server it moved away from.
    MovedSessionWrites,
    /// Replies carry the zxid of when they were made, even below one the connection saw.
    UnclampedReplyZxid,
    /// A read-only server answers a write as done (without proposing it anywhere).
    ReadOnlyWrites,
    /// The replica lets the Zab core forget (and count as durable) the history a periodic
    /// snapshot covers when it freezes the snapshot, before the snapshot is on disk.
    CompactBeforeSaved,
}

impl ServerBug {
    pub const ALL: [ServerBug; 7] = [
        ServerBug::ReadBeforeWrite,
        ServerBug::NotificationAfterReply,
        ServerBug::SyncBeforeApply,
        ServerBug::MovedSessionWrites,
        ServerBug::UnclampedReplyZxid,
        ServerBug::ReadOnlyWrites,
        ServerBug::CompactBeforeSaved,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerBug::ReadBeforeWrite => "read-before-write",
            ServerBug::NotificationAfterReply => "notification-after-reply",
            ServerBug::SyncBeforeApply => "sync-before-apply",
            ServerBug::MovedSessionWrites => "moved-session-writes",
            ServerBug::UnclampedReplyZxid => "unclamped-reply-zxid",
            ServerBug::ReadOnlyWrites => "read-only-writes",
            ServerBug::CompactBeforeSaved => "compact-before-saved",
        }
    }

    pub fn from_name(name: &str) -> Option<ServerBug> {
        ServerBug::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The broken variant a server runs, if any; with the feature off there is never one and
/// every check compiles to `false`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bugs {
    #[cfg(feature = "bugs")]
    pub bug: Option<ServerBug>,
}

impl Bugs {
    #[inline]
    pub fn has(&self, bug: ServerBug) -> bool {
        #[cfg(feature = "bugs")]
        {
            self.bug == Some(bug)
        }
        #[cfg(not(feature = "bugs"))]
        {
            let _ = bug;
            false
        }
    }
}
