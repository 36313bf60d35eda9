//! A path as the node table keeps it: one thin pointer to a length and the path's bytes.
//!
//! A `Box<str>` is a 16-byte pointer and length; this is 8 bytes, the length moved into the
//! allocation ([`ThinBytes`]), where a path under 255 bytes needs one byte for it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use crate::thin_bytes::ThinBytes;

/// A path, immutable, owned. Hashes, compares and borrows as the `str` it holds, so a table
/// keyed by it is searched with a `&str`.
#[derive(Clone, PartialEq, Eq)]
pub struct PathKey(ThinBytes);

impl PathKey {
    /// A copy of `path`.
    pub fn new(path: &str) -> PathKey {
        PathKey(ThinBytes::new(path.as_bytes()))
    }

    /// The bytes as a path, if they are UTF-8 (a decoder reads a path straight into them).
    pub fn from_utf8(bytes: ThinBytes) -> Option<PathKey> {
        std::str::from_utf8(&bytes)
            .is_ok()
            .then_some(PathKey(bytes))
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        // SAFETY: made from a `str` by `new`, or checked by `from_utf8`, and never changed.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl Deref for PathKey {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for PathKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for PathKey {
    /// As the `str` hashes, which `Borrow<str>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for PathKey {
    fn partial_cmp(&self, other: &PathKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PathKey {
    fn cmp(&self, other: &PathKey) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl From<&str> for PathKey {
    fn from(path: &str) -> PathKey {
        PathKey::new(path)
    }
}

impl fmt::Display for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    #[test]
    fn holds_every_length_around_the_header_limits() {
        for len in [0, 1, 2, 50, 253, 254, 255, 256, 1000, 70_000] {
            let path: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let key = PathKey::new(&path);
            assert_eq!(key.as_str(), path, "{len}");
            assert_eq!(key.clone().as_str(), path);
        }
    }

    #[test]
    fn only_utf8_bytes_make_a_path() {
        assert!(PathKey::from_utf8(ThinBytes::new(b"/a/\xff")).is_none());
        let key = PathKey::from_utf8(ThinBytes::new("/a/é".as_bytes())).unwrap();
        assert_eq!(key.as_str(), "/a/é");
    }

    #[test]
    fn hashes_and_compares_as_its_str() {
        let s = RandomState::new();
        let key = PathKey::from("/a/é/c");
        assert_eq!(s.hash_one(&key), s.hash_one("/a/é/c"));
        let borrowed: &str = key.borrow();
        assert_eq!(borrowed, "/a/é/c");
        assert_eq!(key, PathKey::from("/a/é/c"));
        assert_ne!(key, PathKey::from("/a/é"));
        assert_eq!(format!("{key:?}"), "\"/a/é/c\"");
    }

    #[test]
    fn is_one_pointer() {
        assert_eq!(std::mem::size_of::<PathKey>(), 8);
        assert_eq!(std::mem::size_of::<Option<PathKey>>(), 8);
    }
}
