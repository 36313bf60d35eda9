//! Writing and strictly reading big-endian fields, shared by the batch codec and the wire.
//!
//! Every read is bounds-checked and fails cleanly past the end; no read allocates more than the
//! bytes it was given (a length is checked against what is left before anything is copied).

use crate::wire::WireError;

pub(crate) fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A `u32` length and the bytes. Callers keep lengths below 4 GiB (frame and payload caps).
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// A bounds-checked cursor over a frame body or a stored payload.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let left = self.remaining();
        if n > left {
            return Err(WireError::Short {
                at: self.pos,
                needed: n - left,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn flag(&mut self) -> Result<bool, WireError> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(WireError::BadFlag { at, value }),
        }
    }

    /// A presence flag followed by a fixed-size value that must be all zeros when absent: one
    /// encoding per value, so a peer that sets bytes we would ignore is noticed.
    pub(crate) fn opt<T>(
        &mut self,
        width: usize,
        read: impl FnOnce(&mut Self) -> Result<T, WireError>,
    ) -> Result<Option<T>, WireError> {
        let at = self.pos;
        if self.flag()? {
            return read(self).map(Some);
        }
        if self.take(width)?.iter().any(|&b| b != 0) {
            return Err(WireError::NonCanonical { at });
        }
        Ok(None)
    }

    /// A `u32` length and that many bytes, borrowed.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// A `u32` count of items each at least `min_item` bytes long, checked against what is
    /// left, so a hostile count cannot make the caller reserve more than the body holds.
    pub(crate) fn count(&mut self, min_item: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let count = self.u32()? as usize;
        if count.saturating_mul(min_item) > self.remaining() {
            return Err(WireError::BadCount { at, count });
        }
        Ok(count)
    }

    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(WireError::Trailing(left)),
        }
    }
}
