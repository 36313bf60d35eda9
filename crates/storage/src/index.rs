//! Sparse in-memory offset index of one segment.
//!
//! Keeps one (zxid, offset) pair roughly every [`STRIDE`] bytes, so finding a zxid costs a
//! binary search plus a scan of at most `STRIDE` bytes, and the index of a 1 GiB log stays
//! around a megabyte.

use crate::Zxid;

/// Approximate distance in bytes between index entries.
pub const STRIDE: u64 = 16 * 1024;

/// (zxid, file offset) pairs in increasing order; the first record is always indexed.
#[derive(Debug, Default, Clone)]
pub struct SparseIndex {
    entries: Vec<(Zxid, u64)>,
}

impl SparseIndex {
    /// Notes a record; indexes it if it is the first or `STRIDE` past the last entry.
    pub fn note(&mut self, zxid: Zxid, offset: u64) {
        match self.entries.last() {
            Some(&(last_zxid, last_off)) => {
                debug_assert!(zxid > last_zxid && offset > last_off);
                if offset - last_off >= STRIDE {
                    self.entries.push((zxid, offset));
                }
            }
            None => self.entries.push((zxid, offset)),
        }
    }

    /// The offset from which to scan to find the first record with a zxid `> after`:
    /// the offset of the last indexed record with zxid `<= after`, or the first record.
    pub fn seek_after(&self, after: Zxid) -> Option<u64> {
        let i = self.entries.partition_point(|&(z, _)| z <= after);
        self.entries.get(i.saturating_sub(1)).map(|&(_, off)| off)
    }

    /// Forgets entries of records with zxid `> zxid` (after a truncation).
    pub fn truncate_after(&mut self, zxid: Zxid) {
        let i = self.entries.partition_point(|&(z, _)| z <= zxid);
        self.entries.truncate(i);
    }
}
