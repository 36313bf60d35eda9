//! The child names of one node: a sorted set kept in chunks of packed names.
//!
//! A name costs its own bytes plus a four-byte offset, in chunks of about [`CHUNK_BYTES`]
//! that inserts keep between half and whole full (deletes, between a quarter and whole). The
//! persistent B-tree used before (`imbl`'s `OrdSet` of 24-byte inline strings) took about 58
//! bytes a name at a million children: its leaves are fixed arrays of 16 slots, split at the
//! middle, so they sit half full; and a parent with a single child paid for a whole leaf.
//!
//! Chunks are shared (`Arc`), so a copy of a set, which the node table makes when a parent
//! changes while a snapshot holds the tree frozen (see [`crate::node_map`]), clones one
//! pointer a chunk (a few thousand for a million children), and a change after it copies
//! only the chunk it touches.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// Name bytes a chunk holds before an insert splits it: small enough that an insert's
/// memmove stays in the cache, large enough that the chunk list of a million-child set is a
/// few thousand pointers.
pub const CHUNK_BYTES: usize = 4096;

/// Child names, sorted by their bytes (as ZooKeeper lists them and snapshots need them).
#[derive(Clone, Default)]
pub struct Children {
    /// Non-empty chunks in order: every name in one sorts before every name in the next.
    chunks: Vec<Arc<Chunk>>,
    /// Each chunk's first name, apart from it: the search for a name's chunk reads one
    /// entry a step here, where reading a chunk's own first name took three pointers (the
    /// chunk, its offsets, its bytes), cache misses in a big set: 16 % of a million creates'
    /// CPU under one parent.
    firsts: Vec<First>,
    len: usize,
}

/// A chunk's first name, with its [`lead`]: most steps of the search for a name's chunk
/// compare two integers and never follow the pointer to the name. (A quarter of a restart's
/// log apply went to child inserts under a parent of a million children; with the leads, 9 %
/// fewer instructions in this set's code and 3 % in the whole recovery, by cachegrind, for 8
/// bytes a chunk.)
#[derive(Clone)]
struct First {
    lead: u64,
    name: Arc<str>,
}

impl First {
    fn of(name: &str) -> First {
        First {
            lead: lead(name),
            name: name.into(),
        }
    }

    /// Whether this name sorts at or before `name`, whose lead is `lead`.
    fn not_above(&self, name: &str, lead: u64) -> bool {
        match self.lead.cmp(&lead) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => &*self.name <= name,
        }
    }
}

/// A name's first eight bytes as a big-endian integer, zeros past its end: two names whose
/// leads differ sort as their leads do; equal leads say nothing.
fn lead(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let n = name.len().min(8);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    u64::from_be_bytes(bytes)
}

/// Names in order, packed: `bytes` is their concatenation and `ends[i]` where name `i` ends.
#[derive(Clone, Default)]
struct Chunk {
    bytes: String,
    ends: Vec<u32>,
}

impl Chunk {
    fn of(name: &str) -> Chunk {
        let mut chunk = Chunk::default();
        chunk.insert_at(0, name);
        chunk
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.ends[i - 1] as usize
        }
    }

    fn name(&self, i: usize) -> &str {
        &self.bytes[self.start(i)..self.ends[i] as usize]
    }

    /// `Ok(i)` where `name` is, `Err(i)` where it would go.
    fn search(&self, name: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid).cmp(name) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn insert_at(&mut self, i: usize, name: &str) {
        let at = self.start(i);
        self.bytes.insert_str(at, name);
        let grown = offset(name.len());
        for end in &mut self.ends[i..] {
            *end += grown;
        }
        self.ends.insert(i, offset(at) + grown);
    }

    fn remove_at(&mut self, i: usize) {
        let (start, end) = (self.start(i), self.ends[i] as usize);
        self.bytes.replace_range(start..end, "");
        self.ends.remove(i);
        let shrunk = offset(end - start);
        for end in &mut self.ends[i..] {
            *end -= shrunk;
        }
        // After many deletes, give the room back: a chunk holds at least a third of what it
        // has room for.
        if self.bytes.capacity() > 3 * self.bytes.len() + 64 {
            self.bytes.shrink_to_fit();
            self.ends.shrink_to_fit();
        }
    }

    /// The names from `at` on, moved into a chunk of their own.
    fn split_off(&mut self, at: usize) -> Chunk {
        let cut = self.start(at);
        let bytes = self.bytes.split_off(cut);
        let ends = self.ends.split_off(at);
        let ends = ends.into_iter().map(|e| e - offset(cut)).collect();
        Chunk { bytes, ends }
    }

    /// Appends every name of `next`, which all sort after this chunk's.
    fn append(&mut self, next: &Chunk) {
        let base = offset(self.bytes.len());
        self.bytes.push_str(&next.bytes);
        self.ends.extend(next.ends.iter().map(|e| e + base));
    }
}

/// An offset inside one chunk. A chunk holds about [`CHUNK_BYTES`], more only with names of
/// that order, and a name is bounded by the largest request a server takes, far below 4 GiB.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("a chunk holds less than 4 GiB of names")
}

impl Children {
    /// No names.
    pub const fn new() -> Children {
        Children {
            chunks: Vec::new(),
            firsts: Vec::new(),
            len: 0,
        }
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No names?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Is `name` one of them?
    pub fn contains(&self, name: &str) -> bool {
        !self.chunks.is_empty() && self.chunks[self.chunk_for(name)].search(name).is_ok()
    }

    /// The names, sorted.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            names: self.chunks.iter().flat_map(ChunkNames::of as fn(_) -> _),
            left: self.len,
        }
    }

    /// Adds `name`; false if it was there.
    pub fn insert(&mut self, name: &str) -> bool {
        if self.chunks.is_empty() {
            self.put_chunk(0, Chunk::of(name));
            self.len = 1;
            return true;
        }
        let Some((ci, i)) = self.place_for(name) else {
            return false;
        };
        self.len += 1;
        let fits = |c: &Chunk| c.bytes.len() + name.len() <= CHUNK_BYTES;
        let at_end = i == self.chunks[ci].len();
        let next = self.chunks.get(ci + 1).map(|c| fits(c));
        if fits(&self.chunks[ci]) {
            Arc::make_mut(&mut self.chunks[ci]).insert_at(i, name);
            if i == 0 {
                self.firsts[ci] = First::of(name);
            }
        } else if at_end && next == Some(true) {
            // Sorts between this full chunk and the next: the next one's front. Without this,
            // names arriving in descending order after a chunk of one long name would each
            // make a chunk of their own (a hostile client's quadratic set).
            Arc::make_mut(&mut self.chunks[ci + 1]).insert_at(0, name);
            self.firsts[ci + 1] = First::of(name);
        } else if at_end && (next.is_none() || self.chunks[ci].len() < 2) {
            // Appending (sequential nodes, sorted restores): a new chunk leaves this one full.
            // So does a name after a chunk of one, which a split would leave empty.
            self.put_chunk(ci + 1, Chunk::of(name));
        } else {
            self.split_and_insert(ci, i, name);
        }
        true
    }

    /// Where `name` would go, as (chunk, index in it); `None` if it is there. A name after
    /// every other goes last without a search: a restore adds each node's children in order,
    /// and sequential nodes arrive so; the two binary searches were nearly three quarters of
    /// a restore's child inserts (callgrind).
    fn place_for(&self, name: &str) -> Option<(usize, usize)> {
        let last = self.chunks.len() - 1;
        let tail = &self.chunks[last];
        if tail.name(tail.len() - 1) < name {
            return Some((last, tail.len()));
        }
        let ci = self.chunk_for(name);
        let i = self.chunks[ci].search(name).err()?;
        Some((ci, i))
    }

    /// Splits chunk `ci` into halves by bytes and inserts `name`, which goes at `i` in it.
    /// From a chunk of one (`i` is 0 then), the new name alone on the left.
    fn split_and_insert(&mut self, ci: usize, i: usize, name: &str) {
        let chunk = Arc::make_mut(&mut self.chunks[ci]);
        let half = offset(chunk.bytes.len() / 2);
        let mid = chunk.ends.partition_point(|&end| end <= half);
        let mid = mid.clamp(usize::from(chunk.len() > 1), chunk.len() - 1);
        let mut right = chunk.split_off(mid);
        if i <= mid {
            chunk.insert_at(i, name);
        } else {
            right.insert_at(i - mid, name);
        }
        if i == 0 {
            self.firsts[ci] = First::of(name);
        }
        self.put_chunk(ci + 1, right);
    }

    /// Puts a new chunk at index `ci`.
    fn put_chunk(&mut self, ci: usize, chunk: Chunk) {
        self.firsts.insert(ci, First::of(chunk.name(0)));
        self.chunks.insert(ci, Arc::new(chunk));
    }

    /// Takes chunk `ci` out.
    fn take_chunk(&mut self, ci: usize) -> Arc<Chunk> {
        self.firsts.remove(ci);
        self.chunks.remove(ci)
    }

    /// Removes `name`; false if it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let ci = self.chunk_for(name);
        let Ok(i) = self.chunks[ci].search(name) else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[ci]);
        chunk.remove_at(i);
        self.len -= 1;
        if chunk.len() == 0 {
            self.take_chunk(ci);
            return true;
        }
        if i == 0 {
            self.firsts[ci] = First::of(chunk.name(0));
        }
        self.merge_small(ci);
        true
    }

    /// The chunk `name` is in or belongs in: the last whose first name is not above it (the
    /// first chunk for a name before all).
    fn chunk_for(&self, name: &str) -> usize {
        let lead = lead(name);
        self.firsts
            .partition_point(|first| first.not_above(name, lead))
            .saturating_sub(1)
    }

    /// Merges chunk `ci`, if a quarter full or less, with a neighbour it fits with, so that
    /// deletes cannot leave a big set as many nearly empty chunks.
    fn merge_small(&mut self, ci: usize) {
        if self.chunks[ci].bytes.len() > CHUNK_BYTES / 4 {
            return;
        }
        let fits = |a: &Chunk, b: &Chunk| a.bytes.len() + b.bytes.len() <= CHUNK_BYTES;
        let left = if ci + 1 < self.chunks.len() && fits(&self.chunks[ci], &self.chunks[ci + 1]) {
            ci
        } else if ci > 0 && fits(&self.chunks[ci - 1], &self.chunks[ci]) {
            ci - 1
        } else {
            return;
        };
        let right = self.take_chunk(left + 1);
        Arc::make_mut(&mut self.chunks[left]).append(&right);
    }
}

impl PartialEq for Children {
    /// The same names, however they are chunked.
    fn eq(&self, other: &Children) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Children {}

impl fmt::Debug for Children {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Children {
    type Item = &'a str;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The names of a [`Children`], sorted; from either end.
pub struct Iter<'a> {
    names: AllNames<'a>,
    left: usize,
}

/// Every chunk's names in turn, from either end (std's `FlatMap` keeps a front and a back).
type AllNames<'a> = std::iter::FlatMap<
    std::slice::Iter<'a, Arc<Chunk>>,
    ChunkNames<'a>,
    fn(&'a Arc<Chunk>) -> ChunkNames<'a>,
>;

/// One chunk's names.
struct ChunkNames<'a> {
    chunk: &'a Chunk,
    range: std::ops::Range<usize>,
}

impl<'a> ChunkNames<'a> {
    fn of(chunk: &'a Arc<Chunk>) -> ChunkNames<'a> {
        ChunkNames {
            chunk,
            range: 0..chunk.len(),
        }
    }
}

impl<'a> Iterator for ChunkNames<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        self.range.next().map(|i| self.chunk.name(i))
    }
}

impl DoubleEndedIterator for ChunkNames<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|i| self.chunk.name(i))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let name = self.names.next()?;
        self.left -= 1;
        Some(name)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let name = self.names.next_back()?;
        self.left -= 1;
        Some(name)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
#[path = "children_tests.rs"]
mod tests;
