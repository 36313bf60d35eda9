//! The record format of the transaction log and the validating scanner used by recovery.
//!
//! ```text
//! offset  size  field
//! 0       4     payload length, u32 little endian
//! 4       8     zxid, u64 little endian (epoch << 32 | counter), never 0
//! 12      4     CRC32C of the payload, u32 little endian
//! 16      4     CRC32C of bytes 0..16 (the header checksum), u32 little endian
//! 20      len   payload
//! 20+len  1     end marker 0xA5
//! ```
//!
//! Why two checksums and a marker: recovery must tell a crash (which leaves a *prefix* of the
//! written bytes followed by zeros) from damage (which leaves bytes that a crash cannot
//! produce). The header checksum makes the length trustworthy, so a flipped length bit cannot
//! make a complete record look like one that runs into the zero tail. The end marker has four
//! bits set, so no single bit flip can turn it into the zero that a cut leaves behind: a record
//! whose marker is present was written in full, and a checksum failure in it is corruption.

use crate::Zxid;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 20;
/// Bytes after the payload.
pub const TRAILER_LEN: usize = 1;
/// Bytes a record takes besides its payload.
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// The last byte of every record.
pub const END_MARKER: u8 = 0xA5;

/// Appends the encoding of one record to `out`.
pub fn encode(out: &mut Vec<u8>, zxid: Zxid, payload: &[u8]) {
    debug_assert!(!zxid.is_zero(), "zxid 0 is reserved for 'nothing'");
    debug_assert!(payload.len() <= u32::MAX as usize);
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    header[4..12].copy_from_slice(&zxid.to_le_bytes());
    header[12..16].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let header_crc = crc32c::crc32c(&header[0..16]);
    header[16..20].copy_from_slice(&header_crc.to_le_bytes());
    out.reserve(OVERHEAD + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.push(END_MARKER);
}

/// Encoded size of a record with a payload of `payload_len` bytes.
pub fn encoded_len(payload_len: usize) -> usize {
    OVERHEAD + payload_len
}

/// How a scan of a record area ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// Valid records up to `end`, then only zero bytes (or the end of the buffer).
    Clean {
        /// Offset just past the last valid record.
        end: usize,
    },
    /// Valid records up to `end`, then bytes that a crash during a write explains: an
    /// incomplete record followed by nothing but zeros. `dirty_end` is one past the last
    /// non-zero byte, so `end..dirty_end` is what must be cleared.
    Torn {
        /// Offset just past the last valid record.
        end: usize,
        /// One past the last non-zero byte of the area.
        dirty_end: usize,
    },
}

/// A validation failure that a crash cannot explain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// Offset (within the scanned area) of the bad record.
    pub offset: usize,
    /// What check failed.
    pub reason: String,
}

/// One past the last non-zero byte of `buf` (0 if all zero).
pub fn nonzero_end(buf: &[u8]) -> usize {
    let mut end = buf.len();
    // Word-at-a-time from the back: the zero tail of a preallocated segment can be large.
    while end >= 8 {
        let word = u64::from_ne_bytes(buf[end - 8..end].try_into().expect("8 bytes"));
        if word != 0 {
            break;
        }
        end -= 8;
    }
    while end > 0 && buf[end - 1] == 0 {
        end -= 1;
    }
    end
}

/// Validates every record in `buf` (a record area; bytes past its end count as zeros).
///
/// `prev_zxid` is the zxid before the first record (0 for none); zxids must increase strictly.
/// `visit` is called with (zxid, offset, payload) for each valid record in order.
pub fn scan(
    buf: &[u8],
    prev_zxid: Zxid,
    max_payload: u32,
    mut visit: impl FnMut(Zxid, usize, &[u8]),
) -> Result<ScanEnd, ScanError> {
    let dirty_end = nonzero_end(buf);
    let mut pos = 0usize;
    let mut last = prev_zxid;
    loop {
        if pos >= dirty_end {
            return Ok(ScanEnd::Clean { end: pos });
        }
        let bad = |reason: String| ScanError {
            offset: pos,
            reason,
        };
        let mut header = [0u8; HEADER_LEN];
        let avail = buf.len().saturating_sub(pos).min(HEADER_LEN);
        header[..avail].copy_from_slice(&buf[pos..pos + avail]);
        let stored_header_crc = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
        if crc32c::crc32c(&header[0..16]) != stored_header_crc {
            // A cut inside the header leaves nothing non-zero after the header; a damaged
            // header of a complete record still has the record's end marker after it.
            if dirty_end <= pos + HEADER_LEN {
                return Ok(ScanEnd::Torn {
                    end: pos,
                    dirty_end,
                });
            }
            return Err(bad("record header checksum mismatch".into()));
        }
        let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let zxid = Zxid::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        let payload_crc = u32::from_le_bytes(header[12..16].try_into().expect("4 bytes"));
        if len > max_payload {
            return Err(bad(format!(
                "record length {len} exceeds the maximum {max_payload}"
            )));
        }
        let end = pos + encoded_len(len as usize);
        let marker = buf.get(end - 1).copied().unwrap_or(0);
        if marker == 0 && dirty_end < end {
            // The record's last byte never reached the disk and nothing follows: a torn write.
            return Ok(ScanEnd::Torn {
                end: pos,
                dirty_end,
            });
        }
        if marker != END_MARKER {
            return Err(bad(format!(
                "record end marker is {marker:#04x}, expected {END_MARKER:#04x}"
            )));
        }
        let payload = &buf[pos + HEADER_LEN..end - TRAILER_LEN];
        if crc32c::crc32c(payload) != payload_crc {
            return Err(bad("record payload checksum mismatch".into()));
        }
        if zxid.is_zero() {
            return Err(bad("record has zxid 0".into()));
        }
        if zxid <= last {
            return Err(bad(format!("zxid {zxid:#x} does not follow {last:#x}")));
        }
        visit(zxid, pos, payload);
        last = zxid;
        pos = end;
    }
}

/// A decoded record: (zxid, payload, encoded length).
pub type Decoded<'a> = (Zxid, &'a [u8], usize);

/// Decodes and re-verifies the complete record at the start of `buf` (used when reading
/// back records that recovery already validated: the disk may have changed since).
///
/// Returns `Ok(None)` if `buf` holds fewer bytes than the record needs (the caller reads
/// more), else (zxid, payload, encoded length).
pub fn decode_checked(buf: &[u8]) -> Result<Option<Decoded<'_>>, String> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let stored_header_crc = u32::from_le_bytes(buf[16..20].try_into().expect("4 bytes"));
    if crc32c::crc32c(&buf[0..16]) != stored_header_crc {
        return Err("record header checksum mismatch".into());
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let zxid = Zxid::from_le_bytes(buf[4..12].try_into().expect("8 bytes"));
    let payload_crc = u32::from_le_bytes(buf[12..16].try_into().expect("4 bytes"));
    let total = encoded_len(len);
    if buf.len() < total {
        return Ok(None);
    }
    let payload = &buf[HEADER_LEN..HEADER_LEN + len];
    if buf[total - 1] != END_MARKER || crc32c::crc32c(payload) != payload_crc {
        return Err("record checksum or end marker mismatch".into());
    }
    Ok(Some((zxid, payload, total)))
}

/// The encoded length announced by the header at the start of `buf` (needs `HEADER_LEN`
/// bytes; not validated).
pub fn peek_len(buf: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?);
    Some(encoded_len(len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut ends = Vec::new();
        for i in 1..=n {
            let payload: Vec<u8> = (0..(i as usize * 7) % 23).map(|b| b as u8).collect();
            encode(&mut buf, Zxid::from_u64(i), &payload);
            ends.push(buf.len());
        }
        (buf, ends)
    }

    fn count(buf: &[u8]) -> Result<(usize, ScanEnd), ScanError> {
        let mut n = 0;
        let end = scan(buf, Zxid::ZERO, 1 << 20, |_, _, _| n += 1)?;
        Ok((n, end))
    }

    #[test]
    fn round_trip_and_zero_tail() {
        let (mut buf, ends) = log_of(20);
        buf.extend_from_slice(&[0u8; 100]);
        assert_eq!(
            count(&buf).unwrap(),
            (
                20,
                ScanEnd::Clean {
                    end: *ends.last().unwrap()
                }
            )
        );
    }

    #[test]
    fn every_cut_is_a_prefix() {
        let (buf, ends) = log_of(10);
        for cut in 0..=buf.len() {
            let mut damaged = buf.clone();
            damaged[cut..].fill(0);
            let (n, _) = count(&damaged).unwrap();
            assert_eq!(
                n,
                ends.iter().filter(|&&e| e <= cut).count(),
                "cut at {cut}"
            );
            let (n2, _) = count(&buf[..cut]).unwrap();
            assert_eq!(n2, n, "truncated at {cut}");
        }
    }

    #[test]
    fn every_bit_flip_is_whole_or_corrupt() {
        let (mut buf, _) = log_of(10);
        buf.extend_from_slice(&[0u8; 64]);
        for bit in 0..buf.len() * 8 {
            let mut damaged = buf.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            if let Ok((n, _)) = count(&damaged) {
                assert_eq!(n, 10, "bit {bit} silently lost records");
            }
        }
    }
}
