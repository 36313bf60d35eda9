//! Immutable owned bytes behind one thin pointer: the length is kept in the allocation, in
//! one byte when it is under 255.
//!
//! A `Box<[u8]>` is a pointer and a length, 16 bytes wherever it is held; this is 8. A
//! node's data and its name are each one of these (see [`crate::node::Node`] and
//! [`crate::node_path::NodePath`]): the bytes they save in the node pay for the node holding
//! its own path, so that the node table's slot is one pointer.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::NonNull;

/// The longest length kept in the one-byte header; longer ones have the marker byte
/// [`LONG`] and then their length in four bytes, little-endian.
const SHORT_MAX: usize = 254;
const LONG: u8 = 0xff;

/// Bytes, immutable, owned; hashes and compares as the `[u8]` it holds.
pub struct ThinBytes(NonNull<u8>);

// SAFETY: a `ThinBytes` owns its allocation alone and never changes it, like a `Box<[u8]>`.
unsafe impl Send for ThinBytes {}
// SAFETY: as above; shared access only reads.
unsafe impl Sync for ThinBytes {}

/// The header every empty value points at instead of an allocation of its own: empty data is
/// common (kazoo's and Curator's default), and a one-byte allocation takes 8 bytes.
static EMPTY: u8 = 0;

/// The allocation of a value whose header and bytes take `size` bytes.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 1).expect("a value's size fits a layout")
}

/// The header for `len` bytes, and how many of its bytes are used.
fn header(len: usize) -> ([u8; 5], usize) {
    let mut header = [LONG, 0, 0, 0, 0];
    if len <= SHORT_MAX {
        header[0] = len as u8;
        (header, 1)
    } else {
        let long = u32::try_from(len).expect("a value is shorter than 4 GiB");
        header[1..].copy_from_slice(&long.to_le_bytes());
        (header, 5)
    }
}

impl ThinBytes {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> ThinBytes {
        let Ok(thin) = ThinBytes::filled(bytes.len(), |b| {
            b.copy_from_slice(bytes);
            Ok::<(), std::convert::Infallible>(())
        });
        thin
    }

    /// `len` bytes written by `fill` into the allocation itself (a decoder reads straight
    /// into it). Nothing is kept if `fill` fails.
    pub fn filled<E>(
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<ThinBytes, E> {
        if len == 0 {
            fill(&mut [])?;
            // Only ever read (its header says 0 bytes), never freed (see `Drop`).
            return Ok(ThinBytes(NonNull::from(&EMPTY)));
        }
        let (header, header_len) = header(len);
        // (`header` refused lengths past `u32::MAX`; the sum is checked for 32-bit targets.)
        let size = header_len
            .checked_add(len)
            .expect("a value's size fits a usize");
        let layout = layout(size);
        // SAFETY: the layout's size is at least one (the header).
        let Some(start) = NonNull::new(unsafe { alloc(layout) }) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the allocation holds `header_len + len` bytes; the header is copied from a
        // local array and the rest zeroed before a slice is made of it.
        let body = unsafe {
            let p = start.as_ptr();
            std::ptr::copy_nonoverlapping(header.as_ptr(), p, header_len);
            std::ptr::write_bytes(p.add(header_len), 0, len);
            std::slice::from_raw_parts_mut(p.add(header_len), len)
        };
        // From here on a drop frees it with the layout the header gives back.
        let thin = ThinBytes(start);
        fill(body)?;
        Ok(thin)
    }

    /// The header's length and the bytes'.
    fn sizes(&self) -> (usize, usize) {
        let p = self.0.as_ptr();
        // SAFETY: every value starts with a header written by `filled` (or is `EMPTY`'s): one
        // byte, and four more after a [`LONG`] byte.
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

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let (header, len) = self.sizes();
        // SAFETY: `filled` initialized `len` bytes right after the header, and only its
        // `fill` ever had them mutably.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(header), len) }
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let (header, len) = self.sizes();
        if len == 0 {
            return; // the shared `EMPTY`
        }
        // SAFETY: allocated by `filled` with exactly this layout, and dropped once.
        unsafe { dealloc(self.0.as_ptr(), layout(header + len)) }
    }
}

impl Deref for ThinBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        ThinBytes::new(self.as_bytes())
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &ThinBytes) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ThinBytes {}

impl Hash for ThinBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl From<&[u8]> for ThinBytes {
    fn from(bytes: &[u8]) -> ThinBytes {
        ThinBytes::new(bytes)
    }
}

impl fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_bytes(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn holds_every_length_around_the_header_limits() {
        for len in [0, 1, 2, 50, 253, 254, 255, 256, 1000, 70_000] {
            let bytes = sample(len);
            let thin = ThinBytes::new(&bytes);
            assert_eq!(thin.as_bytes(), bytes, "{len}");
            assert_eq!(thin.clone().as_bytes(), bytes);
            let (header, stored) = thin.sizes();
            assert_eq!(
                (header, stored),
                (if len <= SHORT_MAX { 1 } else { 5 }, len)
            );
        }
    }

    #[test]
    fn a_failed_fill_keeps_nothing_and_a_fill_sees_zeroes() {
        let failed = ThinBytes::filled(300, |b| {
            b[..3].copy_from_slice(b"abc");
            Err("short read")
        });
        assert_eq!(failed.err(), Some("short read"));
        let thin = ThinBytes::filled(4, |b| {
            assert_eq!(b, [0; 4]);
            b[1] = 7;
            Ok::<(), ()>(())
        });
        assert_eq!(thin.unwrap().as_bytes(), [0, 7, 0, 0]);
    }

    #[test]
    fn empty_values_share_one_header() {
        let (a, b) = (ThinBytes::new(b""), ThinBytes::new(&[]));
        assert_eq!(a.0, b.0);
        assert_eq!(a.clone().as_bytes(), b"");
        assert_eq!(a, b);
        assert_ne!(a, ThinBytes::new(b"x"));
    }

    #[test]
    fn is_one_pointer_and_an_option_of_it_too() {
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
    }
}
