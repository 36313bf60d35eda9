//! The data records shared by requests and responses: `Id`, `ACL` and `Stat`.

use crate::jute::record;
use crate::perms;

record! {
    /// An identity in an auth scheme: `world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`, ...
    pub struct Id {
        /// The scheme: world, auth, digest, ip, x509, sasl.
        pub scheme: String,
        /// The identity within the scheme.
        pub id: String,
    }
}

impl Id {
    /// Builds an id.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`, the identity everyone has.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }

    /// `auth:`, which a create or setACL replaces with the session's authenticated ids.
    pub fn auth_ids() -> Self {
        Id::new("auth", "")
    }
}

record! {
    /// One ACL entry: permission bits (see [`crate::perms`]) granted to an identity.
    pub struct Acl {
        /// Bitwise OR of [`crate::perms`] values.
        pub perms: i32,
        /// Who gets them.
        pub id: Id,
    }
}

// Hashable so that a server can keep one shared copy of each distinct ACL. Hash agrees with
// the derived PartialEq: it covers every field.
impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.scheme.hash(state);
        self.id.hash(state);
    }
}

impl std::hash::Hash for Acl {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.perms.hash(state);
        self.id.hash(state);
    }
}

impl Acl {
    /// `OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::anyone(),
        }]
    }

    /// `CREATOR_ALL_ACL`: everything for the creator's authenticated ids.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::auth_ids(),
        }]
    }

    /// `READ_ACL_UNSAFE`: read for everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::anyone(),
        }]
    }
}

record! {
    /// A znode's metadata as clients see it. The field order is the wire order.
    #[derive(Default, Copy)]
    pub struct Stat {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last data change.
        pub mzxid: i64,
        /// Create time, ms since the epoch.
        pub ctime: i64,
        /// Last modification time, ms since the epoch.
        pub mtime: i64,
        /// Number of data changes.
        pub version: i32,
        /// Number of child changes.
        pub cversion: i32,
        /// Number of ACL changes.
        pub aversion: i32,
        /// Owning session id if ephemeral, else 0.
        pub ephemeral_owner: i64,
        /// Length of the data.
        pub data_length: i32,
        /// Number of children.
        pub num_children: i32,
        /// zxid of the last child change.
        pub pzxid: i64,
    }
}

impl Stat {
    /// The encoded size: six longs and five ints.
    pub const ENCODED_LEN: usize = 6 * 8 + 5 * 4;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::{Decode, Encode};

    #[test]
    fn stat_is_68_bytes_in_field_order() {
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let bytes = stat.to_bytes();
        assert_eq!(bytes.len(), Stat::ENCODED_LEN);
        assert_eq!(<Stat as Decode>::MIN_LEN, Stat::ENCODED_LEN);
        assert_eq!(&bytes[..8], &1i64.to_be_bytes());
        assert_eq!(&bytes[32..36], &5i32.to_be_bytes());
        assert_eq!(&bytes[44..52], &8i64.to_be_bytes());
        assert_eq!(&bytes[60..68], &11i64.to_be_bytes());
        assert_eq!(Stat::decode(&mut &bytes[..]).unwrap(), stat);
    }
}
