//! Framing: every packet, both ways, is a 4-byte big-endian length followed by that many bytes.
//!
//! [`FrameDecoder`] works on whatever a socket read has delivered so far: it first checks
//! whether a whole frame is there (without consuming anything) and only then splits it off, so
//! a partial read costs nothing and is simply retried when more bytes arrive. The length is
//! checked against a maximum before any buffering decision is made: a peer that announces a
//! huge packet is refused at once instead of being waited for (ZooKeeper's `jute.maxbuffer`).

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes in the length prefix.
pub const LENGTH_PREFIX: usize = 4;

/// The default largest packet accepted: 1 MiB, ZooKeeper's `jute.maxbuffer` default.
pub const DEFAULT_MAX_PACKET: usize = 1024 * 1024;

/// Why a frame was refused. Either way the connection cannot be resynchronised and is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The announced length is over the configured maximum.
    #[error("packet length {len} exceeds the maximum of {max} bytes (jute.maxbuffer)")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The announced length is negative.
    #[error("negative packet length {0}")]
    NegativeLength(i32),
}

/// Splits length-prefixed frames off a byte buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_packet: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_PACKET)
    }
}

impl FrameDecoder {
    /// A decoder that refuses packets longer than `max_packet` bytes (prefix not counted).
    pub const fn new(max_packet: usize) -> Self {
        FrameDecoder { max_packet }
    }

    /// The configured maximum packet length.
    pub const fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Checks whether `buf` starts with a whole frame. `Ok(Some(n))` means the first `n` bytes
    /// (prefix included) are one frame; `Ok(None)` means more input is needed. Consumes nothing.
    pub fn check(&self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX>() else {
            return Ok(None);
        };
        let raw = i32::from_be_bytes(*prefix);
        let len = usize::try_from(raw).map_err(|_| FrameError::NegativeLength(raw))?;
        if len > self.max_packet {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_packet,
            });
        }
        let total = LENGTH_PREFIX + len;
        Ok((buf.len() >= total).then_some(total))
    }

    /// Splits the next whole frame off the front of `buf` and returns its payload (without
    /// the prefix), or `Ok(None)` if `buf` does not hold a whole frame yet.
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.check(buf)? {
            None => Ok(None),
            Some(total) => {
                let mut frame = buf.split_to(total);
                frame.advance(LENGTH_PREFIX);
                Ok(Some(frame.freeze()))
            }
        }
    }
}

/// Appends one frame to `dst`: reserves the prefix, lets `body` write the payload, then fills
/// in the length.
///
/// # Panics
/// If the payload is longer than `i32::MAX` bytes.
pub fn write_frame(dst: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = dst.len();
    dst.put_i32(0);
    body(dst);
    let len = dst.len() - start - LENGTH_PREFIX;
    let len = i32::try_from(len).expect("frame payload fits in an i32 length");
    dst[start..start + LENGTH_PREFIX].copy_from_slice(&len.to_be_bytes());
}

/// Appends one frame holding the encoding of `record`.
pub fn encode_frame<R: crate::jute::Encode + ?Sized>(dst: &mut BytesMut, record: &R) {
    write_frame(dst, |b| record.encode(b));
}

/// The four-letter words ZooKeeper accepts on the client port in place of a length prefix.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// If the first four bytes a client sent are a four-letter word (`ruok`, `srvr`, ...), which
/// one. ZooKeeper reads these in place of the first length prefix, so the server must look
/// before treating the bytes as a length (as a length they are far over any maximum).
pub fn four_letter_word(prefix: &[u8]) -> Option<&'static str> {
    let word = prefix.get(..LENGTH_PREFIX)?;
    FOUR_LETTER_WORDS
        .iter()
        .copied()
        .find(|w| w.as_bytes() == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_input_is_incomplete_not_an_error() {
        let d = FrameDecoder::default();
        assert_eq!(d.check(&[]), Ok(None));
        assert_eq!(d.check(&[0, 0]), Ok(None));
        assert_eq!(d.check(&[0, 0, 0, 3, 1, 2]), Ok(None));
        assert_eq!(d.check(&[0, 0, 0, 3, 1, 2, 3, 9]), Ok(Some(7)));
    }

    #[test]
    fn frames_split_off_one_at_a_time() {
        let d = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0][..]);
        assert_eq!(
            d.decode(&mut buf).unwrap().unwrap(),
            Bytes::from_static(&[7])
        );
        assert_eq!(d.decode(&mut buf).unwrap().unwrap(), Bytes::new());
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 2);
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused_before_buffering() {
        let d = FrameDecoder::new(16);
        assert_eq!(
            d.check(&[0, 0, 0, 17]),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
        assert_eq!(d.check(&[0, 0, 0, 16]), Ok(None));
        assert_eq!(
            d.check(&[0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::NegativeLength(-1))
        );
        let d = FrameDecoder::default();
        assert!(matches!(
            d.check(&[0, 0x10, 0, 1]),
            Err(FrameError::TooLarge { len: 1_048_577, .. })
        ));
    }

    #[test]
    fn write_frame_prefixes_the_length() {
        let mut out = BytesMut::new();
        write_frame(&mut out, |b| b.put_slice(b"abc"));
        assert_eq!(&out[..], &[0, 0, 0, 3, b'a', b'b', b'c']);
    }

    #[test]
    fn four_letter_words_are_recognised() {
        assert_eq!(four_letter_word(b"ruok"), Some("ruok"));
        assert_eq!(four_letter_word(b"mntr\n"), Some("mntr"));
        assert_eq!(four_letter_word(b"rub"), None);
        assert_eq!(four_letter_word(&[0, 0, 0, 45]), None);
        assert!(FrameDecoder::default().check(b"ruok").is_err());
    }
}
