//! Jute, ZooKeeper's record serialization: the primitives and the two traits every record
//! implements.
//!
//! Everything is big-endian. `int` is an i32, `long` an i64, `boolean` one byte (any non-zero
//! byte reads as true, like Java's `DataInput.readBoolean`). `buffer` and `ustring` are an i32
//! length followed by that many bytes, with -1 meaning null; `vector` is an i32 element count
//! (-1 = null) followed by the elements. Records are their fields in order, with no framing of
//! their own.
//!
//! Decoding never trusts a length: a length is checked against the bytes that are left before
//! anything is read or allocated, and a vector's count is checked against the smallest encoding
//! of one element, so a 10-byte packet can never make the decoder reserve gigabytes.

use bytes::{Buf, BufMut, Bytes};

use crate::error::DecodeError;

/// A record that can be written in jute form.
pub trait Encode {
    /// Appends the jute encoding of `self` to `buf`.
    fn encode<B: BufMut>(&self, buf: &mut B);

    /// The encoding as a fresh buffer; convenient in tests and for one-off packets.
    fn to_bytes(&self) -> Bytes {
        let mut out = bytes::BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

/// A record that can be read from its jute form.
pub trait Decode: Sized {
    /// The fewest bytes one encoded value can take. Vectors use it to reject an element count
    /// that the rest of the packet could not possibly hold, before reserving any memory.
    const MIN_LEN: usize;

    /// Reads one record from the front of `buf`, leaving the rest.
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError>;
}

/// Fails unless at least `n` bytes are left.
pub fn need<B: Buf>(buf: &B, n: usize) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError::Truncated {
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

/// Reads a jute `int`.
pub fn read_i32<B: Buf>(buf: &mut B) -> Result<i32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_i32())
}

/// Reads a jute `long`.
pub fn read_i64<B: Buf>(buf: &mut B) -> Result<i64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_i64())
}

/// Reads a jute `boolean`.
pub fn read_bool<B: Buf>(buf: &mut B) -> Result<bool, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8() != 0)
}

/// Reads a length prefix: `None` for null (-1), otherwise a length already checked to be no
/// larger than `(remaining bytes) / min_elem` (`min_elem` is 1 for buffers and strings).
fn read_len<B: Buf>(buf: &mut B, min_elem: usize) -> Result<Option<usize>, DecodeError> {
    let len = read_i32(buf)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 {
        return Err(DecodeError::NegativeLength(len));
    }
    let len = len as usize;
    let fits = match len.checked_mul(min_elem.max(1)) {
        Some(bytes) => bytes <= buf.remaining(),
        None => false,
    };
    if !fits {
        return Err(DecodeError::LengthExceedsInput {
            len,
            remaining: buf.remaining(),
        });
    }
    Ok(Some(len))
}

/// Reads a jute `buffer`, keeping null (`None`) apart from empty. ZooKeeper stores a null
/// znode payload as null and returns it as null, so the difference is visible to clients.
pub fn read_buffer<B: Buf>(buf: &mut B) -> Result<Option<Bytes>, DecodeError> {
    match read_len(buf, 1)? {
        None => Ok(None),
        Some(n) => Ok(Some(buf.copy_to_bytes(n))),
    }
}

/// Reads a jute `buffer` where null and empty mean the same (passwords, auth tokens).
pub fn read_bytes<B: Buf>(buf: &mut B) -> Result<Bytes, DecodeError> {
    Ok(read_buffer(buf)?.unwrap_or_default())
}

/// Reads a jute `ustring`. Null reads as the empty string: clients such as kazoo send an empty
/// string as null, and no ZooKeeper field gives null a meaning of its own.
pub fn read_string<B: Buf>(buf: &mut B) -> Result<String, DecodeError> {
    match read_len(buf, 1)? {
        None => Ok(String::new()),
        Some(n) => {
            let raw = buf.copy_to_bytes(n);
            std::str::from_utf8(&raw)
                .map(str::to_owned)
                .map_err(|_| DecodeError::InvalidUtf8)
        }
    }
}

/// Reads a jute `vector`, each element with `elem`. `min_elem` is the smallest number of bytes
/// one element can take; it bounds the count before any element is read. Null reads as empty.
pub fn read_vec<B: Buf, T>(
    buf: &mut B,
    min_elem: usize,
    mut elem: impl FnMut(&mut B) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let Some(count) = read_len(buf, min_elem)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(elem(buf)?);
    }
    Ok(out)
}

/// Reads a vector of `ustring`s.
pub fn read_string_vec<B: Buf>(buf: &mut B) -> Result<Vec<String>, DecodeError> {
    read_vec(buf, 4, read_string)
}

/// Writes a jute `boolean`.
pub fn write_bool<B: BufMut>(buf: &mut B, v: bool) {
    buf.put_u8(u8::from(v));
}

/// Writes a length prefix for a collection of `len` items.
///
/// # Panics
/// If `len` does not fit in an i32; no packet this crate frames can get near that.
fn write_len<B: BufMut>(buf: &mut B, len: usize) {
    let len = i32::try_from(len).expect("jute lengths are at most i32::MAX");
    buf.put_i32(len);
}

/// Writes a jute `buffer` that may be null.
pub fn write_buffer<B: BufMut>(buf: &mut B, v: Option<&[u8]>) {
    match v {
        None => buf.put_i32(-1),
        Some(b) => write_bytes(buf, b),
    }
}

/// Writes a non-null jute `buffer`.
pub fn write_bytes<B: BufMut>(buf: &mut B, v: &[u8]) {
    write_len(buf, v.len());
    buf.put_slice(v);
}

/// Writes a non-null jute `ustring`.
pub fn write_string<B: BufMut>(buf: &mut B, v: &str) {
    write_bytes(buf, v.as_bytes());
}

/// Writes a non-null jute `vector`.
pub fn write_vec<B: BufMut, T>(buf: &mut B, items: &[T], mut elem: impl FnMut(&mut B, &T)) {
    write_len(buf, items.len());
    for item in items {
        elem(buf, item);
    }
}

/// Writes a vector of `ustring`s.
pub fn write_string_vec<B: BufMut>(buf: &mut B, items: &[String]) {
    write_vec(buf, items, |b, s| write_string(b, s));
}

// The primitives as `Encode`/`Decode`, so records can be declared field by field.

impl Encode for i32 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(*self);
    }
}

impl Decode for i32 {
    const MIN_LEN: usize = 4;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_i32(buf)
    }
}

impl Encode for i64 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i64(*self);
    }
}

impl Decode for i64 {
    const MIN_LEN: usize = 8;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_i64(buf)
    }
}

impl Encode for bool {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_bool(buf, *self);
    }
}

impl Decode for bool {
    const MIN_LEN: usize = 1;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_bool(buf)
    }
}

/// A `ustring`; null decodes as empty (see [`read_string`]).
impl Encode for String {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_string(buf, self);
    }
}

impl Decode for String {
    const MIN_LEN: usize = 4;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_string(buf)
    }
}

/// A `buffer` where null and empty are the same.
impl Encode for Bytes {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_bytes(buf, self);
    }
}

impl Decode for Bytes {
    const MIN_LEN: usize = 4;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_bytes(buf)
    }
}

/// A nullable `buffer` (znode data).
impl Encode for Option<Bytes> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_buffer(buf, self.as_deref());
    }
}

impl Decode for Option<Bytes> {
    const MIN_LEN: usize = 4;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_buffer(buf)
    }
}

/// A `vector`; null decodes as empty.
impl<T: Encode> Encode for Vec<T> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_vec(buf, self, |b, item| item.encode(b));
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_LEN: usize = 4;
    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        read_vec(buf, T::MIN_LEN, T::decode)
    }
}

/// Declares a jute record: a struct whose encoding is its fields in order.
macro_rules! record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::jute::Encode for $name {
            fn encode<BM: bytes::BufMut>(&self, _buf: &mut BM) {
                $( $crate::jute::Encode::encode(&self.$field, _buf); )*
            }
        }

        impl $crate::jute::Decode for $name {
            const MIN_LEN: usize = 0 $( + <$ty as $crate::jute::Decode>::MIN_LEN )*;

            fn decode<BB: bytes::Buf>(_buf: &mut BB) -> Result<Self, $crate::error::DecodeError> {
                Ok(Self {
                    $( $field: $crate::jute::Decode::decode(_buf)?, )*
                })
            }
        }
    };
}

pub(crate) use record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_buffers_stay_apart() {
        let mut out = Vec::new();
        write_buffer(&mut out, None);
        write_buffer(&mut out, Some(b""));
        assert_eq!(out, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        let mut input = &out[..];
        assert_eq!(read_buffer(&mut input).unwrap(), None);
        assert_eq!(read_buffer(&mut input).unwrap(), Some(Bytes::new()));
    }

    #[test]
    fn null_string_reads_as_empty() {
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert_eq!(read_string(&mut input).unwrap(), "");
    }

    #[test]
    fn lengths_are_checked_before_reading() {
        let mut input: &[u8] = &[0x7f, 0xff, 0xff, 0xff, b'a'];
        assert_eq!(
            read_buffer(&mut input),
            Err(DecodeError::LengthExceedsInput {
                len: i32::MAX as usize,
                remaining: 1
            })
        );
        let mut input: &[u8] = &[0xff, 0xff, 0xff, 0xfe];
        assert_eq!(
            read_string(&mut input),
            Err(DecodeError::NegativeLength(-2))
        );
    }

    #[test]
    fn vector_counts_are_bounded_by_the_smallest_element() {
        // 2 elements claimed, 7 bytes left: a string takes at least 4, so 2 cannot fit.
        let mut input: &[u8] = &[0, 0, 0, 2, 0, 0, 0, 1, b'a', 0, 0];
        assert!(matches!(
            read_string_vec(&mut input),
            Err(DecodeError::LengthExceedsInput { len: 2, .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut input: &[u8] = &[0, 0, 0, 1, 0xff];
        assert_eq!(read_string(&mut input), Err(DecodeError::InvalidUtf8));
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        let mut input: &[u8] = &[0, 1, 7];
        assert!(!read_bool(&mut input).unwrap());
        assert!(read_bool(&mut input).unwrap());
        assert!(read_bool(&mut input).unwrap());
        assert!(matches!(
            read_bool(&mut input),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
