//! Segment files of the transaction log: naming and the fixed header.
//!
//! A segment is named `log.<first zxid as 16 hex digits>` and is preallocated to a fixed
//! length before it is renamed into place, so a crash can never change its length. Layout:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "QLOG"
//! 4       4     format version, u32 LE (1)
//! 8       8     first zxid, u64 LE (equals the name; the zxid of its first record)
//! 16      8     previous zxid, u64 LE (last zxid of the previous segment, 0 if none)
//! 24      8     file length, u64 LE (the preallocated length)
//! 32      28    reserved, zero
//! 60      4     CRC32C of bytes 0..60, u32 LE
//! 64            records (see `record`), then zeros to the end of the file
//! ```
//!
//! The previous-zxid link lets recovery notice a missing segment or records lost from the
//! end of a non-last segment, which would otherwise look like a clean zero tail.

use crate::Zxid;

/// Size of the segment header; records start here.
pub const SEGMENT_HEADER_LEN: usize = 64;
const MAGIC: &[u8; 4] = b"QLOG";
const VERSION: u32 = 1;
/// File name prefix of segments.
pub const PREFIX: &str = "log.";

/// The decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Zxid of the first record (also in the file name).
    pub first_zxid: Zxid,
    /// Last zxid of the previous segment when this one was created (0 if none).
    pub prev_zxid: Zxid,
    /// The preallocated file length.
    pub file_len: u64,
}

impl SegmentHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&self.first_zxid.to_le_bytes());
        b[16..24].copy_from_slice(&self.prev_zxid.to_le_bytes());
        b[24..32].copy_from_slice(&self.file_len.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and validates a header; the error says which check failed.
    pub fn decode(b: &[u8]) -> Result<SegmentHeader, String> {
        if b.len() < SEGMENT_HEADER_LEN {
            return Err(format!(
                "file is {} bytes, shorter than the segment header",
                b.len()
            ));
        }
        let crc = u32::from_le_bytes(b[60..64].try_into().expect("4 bytes"));
        if crc32c::crc32c(&b[0..60]) != crc {
            return Err("segment header checksum mismatch".into());
        }
        if &b[0..4] != MAGIC {
            return Err("not a log segment (bad magic)".into());
        }
        let version = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(format!("unsupported segment format version {version}"));
        }
        Ok(SegmentHeader {
            first_zxid: Zxid::from_le_bytes(b[8..16].try_into().expect("8 bytes")),
            prev_zxid: Zxid::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
            file_len: u64::from_le_bytes(b[24..32].try_into().expect("8 bytes")),
        })
    }
}

/// The file name of the segment whose first record has `zxid`.
pub fn file_name(zxid: Zxid) -> String {
    format!("{PREFIX}{zxid:016x}")
}

/// Parses a segment file name; `None` for anything else (temporary files included).
pub fn parse_name(name: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(PREFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(Zxid::from_u64)
}
