//! Create modes: the `flags` of a create request.

use crate::error::DecodeError;
use crate::macros::int_enum;

int_enum! {
    /// ZooKeeper's `CreateMode`, by its flag value.
    ///
    /// Requests carry the raw flag (`CreateRequest::flags`), because ZooKeeper answers an
    /// unknown flag with `BadArguments` rather than dropping the connection; convert with
    /// `CreateMode::try_from(flags)` where that decision is made.
    pub enum CreateMode [|v| DecodeError::InvalidValue { what: "create mode", value: v }] {
        /// Lives until deleted.
        Persistent = 0 => "PERSISTENT",
        /// Deleted when the creating session ends; may not have children.
        Ephemeral = 1 => "EPHEMERAL",
        /// Persistent, with a 10-digit sequence number appended to the name.
        PersistentSequential = 2 => "PERSISTENT_SEQUENTIAL",
        /// Ephemeral and sequential.
        EphemeralSequential = 3 => "EPHEMERAL_SEQUENTIAL",
        /// Removed by the server once its last child is gone (3.5.3).
        Container = 4 => "CONTAINER",
        /// Persistent, removed when unmodified and childless for its TTL (createTTL only).
        PersistentWithTtl = 5 => "PERSISTENT_WITH_TTL",
        /// Sequential with a TTL (createTTL only).
        PersistentSequentialWithTtl = 6 => "PERSISTENT_SEQUENTIAL_WITH_TTL",
    }
}

impl CreateMode {
    /// Owned by a session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Gets a sequence suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// A container node.
    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    /// Has a time-to-live.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_properties() {
        assert_eq!(CreateMode::try_from(3), Ok(CreateMode::EphemeralSequential));
        assert!(CreateMode::try_from(7).is_err());
        assert!(CreateMode::EphemeralSequential.is_ephemeral());
        assert!(CreateMode::EphemeralSequential.is_sequential());
        assert!(CreateMode::PersistentSequentialWithTtl.is_ttl());
        assert!(CreateMode::Container.is_container());
        assert!(!CreateMode::Persistent.is_sequential());
    }
}
