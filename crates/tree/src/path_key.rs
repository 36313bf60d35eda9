//! A path as the node table keeps it: one thin pointer to a length and the path's bytes.
//!
//! A `Box<str>` key is a 16-byte pointer and length; this is 8 bytes, the length moved into
//! the allocation, where a path under 255 bytes needs one byte for it. The table's slot (key
//! and boxed node) goes from 24 to 16 bytes: at a million znodes, in a table of 2^21 slots,
//! 16 MB.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

/// The longest length kept in the one-byte header; longer paths have the marker byte
/// [`LONG`] and then their length in four bytes, little-endian.
const SHORT_MAX: usize = 254;
const LONG: u8 = 0xff;

/// A path, immutable, owned. Hashes, compares and borrows as the `str` it holds, so a table
/// keyed by it is searched with a `&str`.
pub struct PathKey(NonNull<u8>);

// SAFETY: a `PathKey` owns its allocation alone and never changes it, like a `Box<str>`.
unsafe impl Send for PathKey {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for PathKey {}

/// The allocation of a key whose header and path take `size` bytes.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 1).expect("a path's size fits a layout")
}

impl PathKey {
    /// A copy of `path`.
    pub fn new(path: &str) -> PathKey {
        let len = path.len();
        let mut header = [LONG, 0, 0, 0, 0];
        let header = if len <= SHORT_MAX {
            header[0] = len as u8;
            &header[..1]
        } else {
            let long = u32::try_from(len).expect("a path is shorter than 4 GiB");
            header[1..].copy_from_slice(&long.to_le_bytes());
            &header[..]
        };
        let layout = layout(header.len() + len);
        // SAFETY: the layout's size is at least one (the header).
        let Some(start) = NonNull::new(unsafe { alloc(layout) }) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the allocation holds `header.len() + len` bytes, and neither source
        // overlaps it.
        unsafe {
            let p = start.as_ptr();
            std::ptr::copy_nonoverlapping(header.as_ptr(), p, header.len());
            std::ptr::copy_nonoverlapping(path.as_ptr(), p.add(header.len()), len);
        }
        PathKey(start)
    }

    /// The header's length and the path's.
    fn sizes(&self) -> (usize, usize) {
        let p = self.0.as_ptr();
        // SAFETY: every key starts with a header written by `new`: one byte, and four more
        // after a [`LONG`] byte.
        unsafe {
            match *p {
                LONG => {
                    let mut len = [0u8; 4];
                    std::ptr::copy_nonoverlapping(p.add(1), len.as_mut_ptr(), 4);
                    (5, u32::from_le_bytes(len) as usize)
                }
                short => (1, short as usize),
            }
        }
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        let (header, len) = self.sizes();
        // SAFETY: `new` copied `len` bytes of a `str` right after the header, and they are
        // never changed.
        unsafe {
            let bytes = std::slice::from_raw_parts(self.0.as_ptr().add(header), len);
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl Drop for PathKey {
    fn drop(&mut self) {
        let (header, len) = self.sizes();
        // SAFETY: allocated by `new` with exactly this layout, and dropped once.
        unsafe { dealloc(self.0.as_ptr(), layout(header + len)) }
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

impl PartialEq for PathKey {
    fn eq(&self, other: &PathKey) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PathKey {}

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

impl Clone for PathKey {
    fn clone(&self) -> PathKey {
        PathKey::new(self.as_str())
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
            let (header, stored) = key.sizes();
            assert_eq!(
                (header, stored),
                (if len <= SHORT_MAX { 1 } else { 5 }, len)
            );
        }
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
        assert_eq!(std::mem::size_of::<(PathKey, Box<u8>)>(), 16);
    }
}
