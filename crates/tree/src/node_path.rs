//! A node's path as the node table keeps it: the parent's path, shared by every child of that
//! parent ([`Prefix`]), and the node's own name.
//!
//! A path of its own in every node cost its whole length in one allocation (about 56 bytes
//! for the 50-byte paths of a million creates under one parent); the name alone is about 16.
//! The node table hashes and compares a node by its path all the same: a path's hash is made
//! of its parent's hash (kept in the prefix, computed once) and its name, so a lookup of a
//! `&str` splits it at its last `/` and hashes the two parts the same way (see
//! [`path_hash`]), and comparing a node with a `&str` compares the two parts in place.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, OnceLock};

use crate::path::ROOT;
use crate::thin_bytes::ThinBytes;

/// The hasher of every path in this process: one for all tables, since a prefix keeps its
/// hash for every table it is in. Keyed per process (as a std map's SipHash is), so clients
/// cannot aim collisions.
fn hasher() -> &'static ahash::RandomState {
    static HASHER: OnceLock<ahash::RandomState> = OnceLock::new();
    HASHER.get_or_init(ahash::RandomState::new)
}

/// The hash of a path made of a prefix whose hash is `prefix_hash` and `name`. Written by
/// hand rather than as a tuple's hash, which also hashes the name's length (a name is never
/// followed by anything else here).
fn join_hash(prefix_hash: u64, name: &[u8]) -> u64 {
    let mut h = hasher().build_hasher();
    h.write_u64(prefix_hash);
    h.write(name);
    h.finish()
}

/// The hash of `path` as a node at that path hashes ([`NodePath::hash`]).
pub fn path_hash(path: &str) -> u64 {
    let (prefix, name) = parts(path);
    join_hash(hasher().hash_one(prefix), name.as_bytes())
}

/// The prefix and name a node at `path` holds: the root is ("", ""), a child of the root
/// ("/", name), any other node (parent, name). A string without a `/` names no node: it gets
/// ("", itself), only hashed (a lookup compares with [`NodePath::is`], which is exact).
fn parts(path: &str) -> (&str, &str) {
    // The memchr crate's search, vectorized: a write looks several paths up, and a byte loop
    // (or std's `rfind`) over each took about a sixth of a create's added cost.
    match memchr::memrchr(b'/', path.as_bytes()) {
        _ if path == ROOT => ("", ""),
        Some(0) => (ROOT, &path[1..]),
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => ("", path),
    }
}

/// The path of a parent, shared by all its children's [`NodePath`]s, with its hash.
#[derive(Clone)]
pub struct Prefix(Arc<PrefixInner>);

/// Aligned to a cache line of its own: a snapshot's decoder counts each child it reads into the
/// prefix's reference count while the thread building the tree reads the hash and path; beside
/// the count they would share its cache line, which would move between the cores at every
/// node.
#[repr(align(64))]
struct PrefixInner {
    hash: u64,
    path: Box<str>,
}

impl Prefix {
    /// The prefix of the children of the node at `parent` ("" for the root itself).
    pub fn new(parent: &str) -> Prefix {
        Prefix(Arc::new(PrefixInner {
            hash: hasher().hash_one(parent),
            path: parent.into(),
        }))
    }

    /// The parent's path.
    pub fn as_str(&self) -> &str {
        &self.0.path
    }
}

impl PartialEq for Prefix {
    fn eq(&self, other: &Prefix) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.as_str() == other.as_str()
    }
}

impl Eq for Prefix {}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A node's path: its parent's [`Prefix`] and its name. Compares as the path it names.
#[derive(Clone, PartialEq, Eq)]
pub struct NodePath {
    prefix: Prefix,
    name: ThinBytes,
}

impl NodePath {
    /// The path `path`, with a prefix of its own (a node put in the tree shares its parent's,
    /// see [`NodePath::share`]).
    pub fn new(path: &str) -> NodePath {
        let (prefix, name) = parts(path);
        NodePath::under(Prefix::new(prefix), name)
    }

    /// The child `name` of the parent whose children share `prefix`.
    pub fn under(prefix: Prefix, name: &str) -> NodePath {
        NodePath {
            prefix,
            name: ThinBytes::new(name.as_bytes()),
        }
    }

    /// The parent's path ("" for the root).
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The parent's path; `None` for the root.
    pub fn parent(&self) -> Option<&str> {
        Some(self.prefix.as_str()).filter(|p| !p.is_empty())
    }

    /// The last component ("" for the root).
    pub fn name(&self) -> &str {
        // SAFETY: made from a `str` by `under`, and never changed.
        unsafe { std::str::from_utf8_unchecked(&self.name) }
    }

    /// Uses `prefix`, the same path as this one's, instead of its own: the node is put under
    /// a parent whose children share it.
    pub fn share(&mut self, prefix: &Prefix) {
        debug_assert_eq!(&self.prefix, prefix);
        if !Arc::ptr_eq(&self.prefix.0, &prefix.0) {
            self.prefix = prefix.clone();
        }
    }

    /// The hash [`path_hash`] gives the whole path.
    pub fn hash(&self) -> u64 {
        join_hash(self.prefix.0.hash, &self.name)
    }

    /// The whole path's length in bytes.
    pub fn len(&self) -> usize {
        self.pieces().iter().map(|p| p.len()).sum()
    }

    /// Never: every path has a `/` (clippy asks for this beside `len`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether this is `path`, compared in place.
    pub fn is(&self, path: &str) -> bool {
        let [prefix, slash, name] = self.pieces();
        path.len() == prefix.len() + slash.len() + name.len()
            && path.starts_with(prefix)
            && path[prefix.len()..].starts_with(slash)
            && path.ends_with(name)
    }

    /// The path in up to three pieces (the prefix, a `/`, the name), for a writer that
    /// takes it piece by piece.
    pub fn pieces(&self) -> [&str; 3] {
        match self.prefix.as_str() {
            "" => [ROOT, "", ""],
            ROOT => [ROOT, "", self.name()],
            p => [p, "/", self.name()],
        }
    }

    /// Appends the whole path to `out`.
    pub fn push_to(&self, out: &mut String) {
        for piece in self.pieces() {
            out.push_str(piece);
        }
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::with_capacity(self.len());
        self.push_to(&mut path);
        f.write_str(&path)
    }
}

impl fmt::Debug for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl From<&str> for NodePath {
    fn from(path: &str) -> NodePath {
        NodePath::new(path)
    }
}

impl PartialEq<str> for NodePath {
    fn eq(&self, path: &str) -> bool {
        self.is(path)
    }
}

impl PartialEq<&str> for NodePath {
    fn eq(&self, path: &&str) -> bool {
        self.is(path)
    }
}

/// What a node table is searched by: a whole path, or a node's own.
pub trait AsPath {
    /// The hash of the path ([`path_hash`]).
    fn path_hash(&self) -> u64;
    /// Whether `node` is at this path.
    fn names(&self, node: &NodePath) -> bool;
}

impl AsPath for str {
    fn path_hash(&self) -> u64 {
        path_hash(self)
    }
    fn names(&self, node: &NodePath) -> bool {
        node.is(self)
    }
}

impl AsPath for String {
    fn path_hash(&self) -> u64 {
        path_hash(self)
    }
    fn names(&self, node: &NodePath) -> bool {
        node.is(self)
    }
}

impl AsPath for NodePath {
    fn path_hash(&self) -> u64 {
        self.hash()
    }
    fn names(&self, node: &NodePath) -> bool {
        node == self
    }
}

/// A child by the [`Prefix`] its parent's children share and its name: found in a node table
/// without its path put together, hashed from the prefix's kept hash, and compared by name
/// and prefix (the same one, shared, for every child). A snapshot's walk looks every node up
/// this way: building each path and hashing and comparing it whole was a fifth of a snapshot's
/// instructions.
pub struct ChildPath<'a> {
    /// The prefix the parent's children share.
    pub prefix: &'a Prefix,
    /// The child's name.
    pub name: &'a str,
}

impl AsPath for ChildPath<'_> {
    fn path_hash(&self) -> u64 {
        join_hash(self.prefix.0.hash, self.name.as_bytes())
    }
    fn names(&self, node: &NodePath) -> bool {
        node.name() == self.name && node.prefix() == self.prefix
    }
}

/// The last prefix made, handed out again for the next path with the same parent: a snapshot
/// lists a parent's children one after the other (the subtrees of earlier children between
/// them come with prefixes of their own), so a restore makes about one prefix a parent.
#[derive(Default)]
pub struct PrefixCache {
    last: Option<Prefix>,
}

impl PrefixCache {
    /// The path `path`, its prefix shared with the path before it where they have one.
    pub fn path(&mut self, path: &str) -> NodePath {
        let (prefix, name) = parts(path);
        let shared = match &self.last {
            Some(last) if last.as_str() == prefix => last.clone(),
            _ => {
                let made = Prefix::new(prefix);
                self.last = Some(made.clone());
                made
            }
        };
        NodePath::under(shared, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: [&str; 6] = ["/", "/a", "/ab", "/a/b", "/a/bc/d", "/zookeeper/config"];

    /// A child looked up by its parent's prefix and its name hashes as its whole path does
    /// and names the node at that path only, shared prefix or not.
    #[test]
    fn a_child_path_is_the_whole_path_it_stands_for() {
        for path in PATHS.into_iter().filter(|p| *p != ROOT) {
            let node = NodePath::new(path);
            let (parent, name) = parts(path);
            let prefix = Prefix::new(parent);
            let child = ChildPath {
                prefix: &prefix,
                name,
            };
            assert_eq!(child.path_hash(), path_hash(path), "{path}");
            for other in PATHS {
                let at = NodePath::new(other);
                assert_eq!(child.names(&at), path == other, "{path} against {other}");
            }
            let shared = ChildPath {
                prefix: node.prefix(),
                name,
            };
            assert!(shared.names(&node), "{path} through its own prefix");
        }
    }

    #[test]
    fn a_path_made_of_its_parts_is_the_path_it_was_made_from() {
        for path in PATHS {
            let p = NodePath::new(path);
            assert_eq!(p.to_string(), path);
            assert_eq!(p.len(), path.len(), "{path}");
            assert_eq!(p.hash(), path_hash(path), "{path}");
            assert_eq!(p.pieces().concat(), path);
            for other in PATHS {
                assert_eq!(p.is(other), path == other, "{path} against {other}");
            }
        }
    }

    #[test]
    fn strings_that_name_no_node_match_none() {
        for odd in ["", "a", "//", "/a/", "a/b", "/a//b"] {
            for path in PATHS {
                assert!(!NodePath::new(path).is(odd), "{path} is not {odd:?}");
            }
        }
    }

    #[test]
    fn the_prefix_is_shared_and_compares_by_its_path() {
        let mut cache = PrefixCache::default();
        let (a, b) = (cache.path("/p/a"), cache.path("/p/b"));
        assert!(Arc::ptr_eq(&a.prefix.0, &b.prefix.0));
        let mut own = NodePath::new("/p/a");
        assert_eq!(own, a);
        own.share(b.prefix());
        assert!(Arc::ptr_eq(&own.prefix.0, &b.prefix.0));
        assert_eq!(cache.path("/q/a").prefix().as_str(), "/q");
        assert_ne!(cache.path("/q/a"), a);
    }

    #[test]
    fn is_two_pointers() {
        assert_eq!(std::mem::size_of::<NodePath>(), 16);
    }
}
