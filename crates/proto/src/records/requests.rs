//! Request bodies of the single-path operations, in the order of `zookeeper.jute`.

use bytes::Bytes;

use crate::create_mode::CreateMode;
use crate::error::DecodeError;
use crate::jute::record;
use crate::records::data::Acl;

record! {
    /// create, create2 and createContainer.
    pub struct CreateRequest {
        /// Path of the node (of its prefix, for sequential nodes).
        pub path: String,
        /// Initial data; `None` when the client sent null.
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// A [`CreateMode`] flag, raw: an invalid one is answered with BadArguments.
        pub flags: i32,
    }
}

impl CreateRequest {
    /// The create mode, if the flag is one ZooKeeper defines.
    pub fn mode(&self) -> Result<CreateMode, DecodeError> {
        CreateMode::try_from(self.flags)
    }
}

record! {
    /// createTTL: a create with a time-to-live in ms.
    pub struct CreateTtlRequest {
        /// Path of the node.
        pub path: String,
        /// Initial data.
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// A TTL [`CreateMode`] flag, raw.
        pub flags: i32,
        /// Time-to-live in ms.
        pub ttl: i64,
    }
}

impl CreateTtlRequest {
    /// The create mode, if the flag is one ZooKeeper defines.
    pub fn mode(&self) -> Result<CreateMode, DecodeError> {
        CreateMode::try_from(self.flags)
    }
}

record! {
    /// delete.
    pub struct DeleteRequest {
        /// The node.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// exists.
    pub struct ExistsRequest {
        /// The node.
        pub path: String,
        /// Leave an exist/data watch.
        pub watch: bool,
    }
}

record! {
    /// getData.
    pub struct GetDataRequest {
        /// The node.
        pub path: String,
        /// Leave a data watch.
        pub watch: bool,
    }
}

record! {
    /// setData.
    pub struct SetDataRequest {
        /// The node.
        pub path: String,
        /// New data; `None` when the client sent null.
        pub data: Option<Bytes>,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// getACL.
    pub struct GetAclRequest {
        /// The node.
        pub path: String,
    }
}

record! {
    /// setACL.
    pub struct SetAclRequest {
        /// The node.
        pub path: String,
        /// The new ACL.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion), -1 for any.
        pub version: i32,
    }
}

record! {
    /// getChildren and getChildren2 (same body; getChildren2 also returns the stat).
    pub struct GetChildrenRequest {
        /// The node.
        pub path: String,
        /// Leave a child watch.
        pub watch: bool,
    }
}

record! {
    /// sync.
    pub struct SyncRequest {
        /// The path, echoed back.
        pub path: String,
    }
}

record! {
    /// check: succeeds if the node's version matches (mostly used inside a multi).
    pub struct CheckVersionRequest {
        /// The node.
        pub path: String,
        /// Expected version, -1 for any.
        pub version: i32,
    }
}

record! {
    /// getAllChildrenNumber.
    pub struct GetAllChildrenNumberRequest {
        /// The node whose descendants are counted.
        pub path: String,
    }
}

record! {
    /// getEphemerals.
    pub struct GetEphemeralsRequest {
        /// Only ephemerals whose path starts with this; empty or "/" for all.
        pub prefix_path: String,
    }
}

record! {
    /// reconfig. Decoded so it can be answered (ReconfigDisabled); Quorum does not reconfigure.
    pub struct ReconfigRequest {
        /// Servers to add.
        pub joining_servers: String,
        /// Servers to remove.
        pub leaving_servers: String,
        /// A whole new member list.
        pub new_members: String,
        /// Expected config version, -1 for any.
        pub cur_config_id: i64,
    }
}
