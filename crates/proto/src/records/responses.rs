//! Response bodies. An error reply is a header alone; these follow a header whose err is 0.

use bytes::Bytes;

use crate::jute::record;
use crate::records::data::{Acl, Stat};

record! {
    /// create: the actual path (with any sequence suffix).
    pub struct CreateResponse {
        /// The created node's path.
        pub path: String,
    }
}

record! {
    /// create2, createContainer, createTTL.
    pub struct Create2Response {
        /// The created node's path.
        pub path: String,
        /// The created node's stat.
        pub stat: Stat,
    }
}

record! {
    /// exists, setData and setACL all answer with a stat alone.
    #[derive(Copy)]
    pub struct StatResponse {
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// getData.
    pub struct GetDataResponse {
        /// The data; `None` if the node holds null.
        pub data: Option<Bytes>,
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// getACL.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The node's stat.
        pub stat: Stat,
    }
}

record! {
    /// getChildren.
    pub struct GetChildrenResponse {
        /// Child names (not paths).
        pub children: Vec<String>,
    }
}

record! {
    /// getChildren2.
    pub struct GetChildren2Response {
        /// Child names.
        pub children: Vec<String>,
        /// The parent's stat.
        pub stat: Stat,
    }
}

record! {
    /// sync.
    pub struct SyncResponse {
        /// The request's path.
        pub path: String,
    }
}

record! {
    /// getAllChildrenNumber.
    #[derive(Copy)]
    pub struct GetAllChildrenNumberResponse {
        /// Number of descendants.
        pub total_number: i32,
    }
}

record! {
    /// getEphemerals.
    pub struct GetEphemeralsResponse {
        /// Paths of the session's ephemeral nodes.
        pub ephemerals: Vec<String>,
    }
}

record! {
    /// An error code as a body: the result of a failed op in a multi, and (with 0) the body
    /// ZooKeeper sends in answer to addWatch.
    #[derive(Copy)]
    pub struct ErrorResponse {
        /// A [`crate::ErrorCode`] value.
        pub err: i32,
    }
}
