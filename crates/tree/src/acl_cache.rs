//! One shared copy of each distinct ACL.
//!
//! Almost every znode of a real tree carries one of a handful of ACLs (`world:anyone` with all
//! permissions above all), yet an ACL is a list of records holding two strings each: stored
//! per node it costs about 130 bytes of heap, more than a typical znode's data. ZooKeeper keeps
//! an ACL cache for the same reason. Nodes here hold a reference-counted slice from this cache;
//! entries no node uses any more are dropped when the cache has doubled since its last sweep.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::ops::Deref;
use std::sync::Arc;

use proto::Acl;

/// An ACL shared by every node that has it: one thin pointer (8 bytes in each node, where a
/// shared slice's would be 16, enough to push a node into the next allocator size class).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SharedAcl(Arc<Vec<Acl>>);

impl Deref for SharedAcl {
    type Target = [Acl];
    fn deref(&self) -> &[Acl] {
        &self.0
    }
}

/// Hashes as the slice does (a `Vec` hashes as its slice), so the cache finds an ACL by value.
impl Borrow<[Acl]> for SharedAcl {
    fn borrow(&self) -> &[Acl] {
        &self.0
    }
}

impl SharedAcl {
    /// Whether both are the one shared copy.
    pub fn ptr_eq(a: &SharedAcl, b: &SharedAcl) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl From<Vec<Acl>> for SharedAcl {
    fn from(acl: Vec<Acl>) -> SharedAcl {
        SharedAcl(Arc::new(acl))
    }
}

/// The distinct ACLs of one tree.
#[derive(Debug, Default, Clone)]
pub struct AclCache {
    acls: HashSet<SharedAcl, ahash::RandomState>,
    /// Size above which the next insertion sweeps unused entries first.
    sweep_at: usize,
}

/// Entries below which the cache never bothers to sweep.
const MIN_SWEEP: usize = 64;

impl AclCache {
    /// The shared copy of `acl`, made on first sight.
    pub fn intern(&mut self, acl: &[Acl]) -> SharedAcl {
        if let Some(shared) = self.acls.get(acl) {
            return shared.clone();
        }
        if self.acls.len() >= self.sweep_at.max(MIN_SWEEP) {
            // Only the cache holds an entry whose count is one.
            self.acls.retain(|a| Arc::strong_count(&a.0) > 1);
            self.sweep_at = self.acls.len() * 2;
        }
        let shared = SharedAcl::from(acl.to_vec());
        self.acls.insert(shared.clone());
        shared
    }

    /// Distinct ACLs held (including any no node uses since the last sweep).
    pub fn len(&self) -> usize {
        self.acls.len()
    }

    /// Whether no ACL is held.
    pub fn is_empty(&self) -> bool {
        self.acls.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_acl(user: usize) -> Vec<Acl> {
        vec![Acl {
            perms: proto::perms::ALL,
            id: proto::Id {
                scheme: "digest".into(),
                id: format!("user{user}:hash"),
            },
        }]
    }

    #[test]
    fn equal_acls_share_one_copy() {
        let mut cache = AclCache::default();
        let a = cache.intern(&Acl::open_unsafe());
        let b = cache.intern(&Acl::open_unsafe());
        assert!(SharedAcl::ptr_eq(&a, &b));
        let c = cache.intern(&Acl::read_unsafe());
        assert!(!SharedAcl::ptr_eq(&a, &c));
        assert_eq!(&a[..], &Acl::open_unsafe()[..]);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn unused_entries_are_swept_as_the_cache_grows() {
        let mut cache = AclCache::default();
        let kept: Vec<SharedAcl> = (0..10).map(|u| cache.intern(&digest_acl(u))).collect();
        for u in 10..10_000 {
            cache.intern(&digest_acl(u)); // dropped at once: no node holds it
        }
        assert!(cache.len() < 200, "{} entries", cache.len());
        for (u, acl) in kept.iter().enumerate() {
            assert!(SharedAcl::ptr_eq(acl, &cache.intern(&digest_acl(u))));
        }
    }
}
