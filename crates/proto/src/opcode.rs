//! Operation codes: the `type` field of a request header and of a multi op header.

use crate::error::DecodeError;
use crate::macros::int_enum;

int_enum! {
    /// ZooKeeper's `ZooDefs.OpCode` (unchanged from 3.8 to 3.9).
    pub enum OpCode [DecodeError::UnknownOpCode] {
        /// The type of a watch notification; never sent by a client.
        Notification = 0 => "notification",
        /// Create a znode; the reply carries its path.
        Create = 1 => "create",
        /// Delete a znode.
        Delete = 2 => "delete",
        /// Stat a znode, optionally watching it.
        Exists = 3 => "exists",
        /// Read a znode's data and stat.
        GetData = 4 => "getData",
        /// Write a znode's data.
        SetData = 5 => "setData",
        /// Read a znode's ACL.
        GetAcl = 6 => "getACL",
        /// Write a znode's ACL.
        SetAcl = 7 => "setACL",
        /// List children.
        GetChildren = 8 => "getChildren",
        /// Make the next reads see everything committed before this point.
        Sync = 9 => "sync",
        /// Session keep-alive (xid -2).
        Ping = 11 => "ping",
        /// List children with the parent's stat.
        GetChildren2 = 12 => "getChildren2",
        /// Version check (inside a multi, or alone).
        Check = 13 => "check",
        /// Atomic batch of writes.
        Multi = 14 => "multi",
        /// Create returning the new node's stat too.
        Create2 = 15 => "create2",
        /// Dynamic reconfiguration (not supported by Quorum).
        Reconfig = 16 => "reconfig",
        /// Does this connection hold a watch on the path?
        CheckWatches = 17 => "checkWatches",
        /// Drop this connection's watches on a path.
        RemoveWatches = 18 => "removeWatches",
        /// Create a container node.
        CreateContainer = 19 => "createContainer",
        /// Server-internal removal of an empty container.
        DeleteContainer = 20 => "deleteContainer",
        /// Create a node with a time-to-live.
        CreateTtl = 21 => "createTTL",
        /// Batch of reads (3.6).
        MultiRead = 22 => "multiRead",
        /// Add authentication to the session (xid -4).
        Auth = 100 => "auth",
        /// Re-register watches after a reconnect (xid -8).
        SetWatches = 101 => "setWatches",
        /// SASL token exchange (not supported by Quorum).
        Sasl = 102 => "sasl",
        /// List the session's ephemeral nodes.
        GetEphemerals = 103 => "getEphemerals",
        /// Count all descendants of a node.
        GetAllChildrenNumber = 104 => "getAllChildrenNumber",
        /// setWatches with persistent and recursive watches (3.6).
        SetWatches2 = 105 => "setWatches2",
        /// Add a persistent or persistent-recursive watch (3.6).
        AddWatch = 106 => "addWatch",
        /// Which identities does this session hold (3.7).
        WhoAmI = 107 => "whoAmI",
        /// Server-internal session creation.
        CreateSession = -10 => "createSession",
        /// End the session.
        CloseSession = -11 => "closeSession",
        /// The type of a failed op in a multi result.
        Error = -1 => "error",
    }
}

impl OpCode {
    /// Whether the op changes the tree or the sessions table (and so must go through the
    /// leader and get a zxid), as ZooKeeper classifies it.
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

impl std::fmt::Display for OpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_unknowns_are_errors() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::try_from(op.as_i32()), Ok(*op));
        }
        assert_eq!(OpCode::try_from(10), Err(DecodeError::UnknownOpCode(10)));
        assert_eq!(OpCode::try_from(-12), Err(DecodeError::UnknownOpCode(-12)));
        assert_eq!(OpCode::CreateTtl.to_string(), "createTTL");
        assert_eq!(i32::from(OpCode::CloseSession), -11);
    }
}
