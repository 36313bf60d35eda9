//! Opening one segment: its header checked against its name, its length and the segment
//! before it, its records scanned and indexed, and a torn tail (an unsynced write cut by a
//! crash) cleared, which only the newest segment may have.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{LogOptions, Segment, HDR};
use crate::error::{Result, StorageError};
use crate::fsutil;
use crate::index::SparseIndex;
use crate::record::{self, ScanEnd};
use crate::segment::{SegmentHeader, SEGMENT_HEADER_LEN};
use crate::Zxid;

/// Reads and validates one segment file at open. `buf` is reused between segments.
pub(super) fn recover_segment(
    path: &Path,
    name_zxid: Zxid,
    prev: Option<&Segment>,
    is_newest: bool,
    opts: &LogOptions,
    buf: &mut Vec<u8>,
) -> Result<Segment> {
    let io = |e| StorageError::io(format!("read {}", path.display()), e);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    buf.clear();
    buf.resize(len as usize, 0);
    file.read_exact_at(buf, 0).map_err(io)?;
    let header = SegmentHeader::decode(buf).map_err(|r| StorageError::corrupt(path, 0, r))?;
    if header.first_zxid != name_zxid {
        return Err(StorageError::corrupt(
            path,
            8,
            format!(
                "header says first zxid {:#x}, the file name says {name_zxid:#x}",
                header.first_zxid
            ),
        ));
    }
    if header.file_len != len {
        return Err(StorageError::corrupt(
            path,
            len.min(header.file_len),
            format!(
                "file is {len} bytes but was preallocated to {} bytes; it was cut or extended after creation",
                header.file_len
            ),
        ));
    }
    if let Some(prev) = prev {
        if header.prev_zxid != prev.last {
            return Err(StorageError::corrupt(
                path,
                16,
                format!(
                    "segment follows zxid {:#x} but the previous segment {} ends at {:#x}: records or a segment are missing",
                    header.prev_zxid,
                    prev.path.display(),
                    prev.last
                ),
            ));
        }
    }
    let mut index = SparseIndex::default();
    let (mut first, mut last) = (None, header.prev_zxid);
    let body = &buf[SEGMENT_HEADER_LEN..];
    let scanned = record::scan(body, header.prev_zxid, opts.max_payload, |zxid, off, _| {
        index.note(zxid, HDR + off as u64);
        first.get_or_insert(zxid);
        last = zxid;
    })
    .map_err(|e| StorageError::corrupt(path, HDR + e.offset as u64, e.reason))?;
    let end = match scanned {
        ScanEnd::Clean { end } => HDR + end as u64,
        ScanEnd::Torn { end, dirty_end } => {
            let (end, dirty_end) = (HDR + end as u64, HDR + dirty_end as u64);
            if !is_newest {
                return Err(StorageError::corrupt(
                    path,
                    end,
                    "incomplete record in a segment that is not the newest (segments are synced before the next is created)",
                ));
            }
            tracing::warn!(
                file = %path.display(),
                offset = end,
                bytes = dirty_end - end,
                "truncating torn tail of the transaction log (an unsynced write interrupted by a crash)"
            );
            let fatal =
                |e| StorageError::fatal(format!("clear torn tail of {}", path.display()), e);
            fsutil::write_zeros(&file, end, dirty_end - end).map_err(fatal)?;
            file.sync_data().map_err(fatal)?;
            end
        }
    };
    if let Some(first) = first {
        if first != header.first_zxid {
            return Err(StorageError::corrupt(
                path,
                HDR,
                format!(
                    "first record has zxid {first:#x}, the segment header says {:#x}",
                    header.first_zxid
                ),
            ));
        }
    }
    Ok(Segment {
        path: path.to_path_buf(),
        file,
        header,
        first,
        last,
        end,
        index,
    })
}
