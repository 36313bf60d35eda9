//! Snapshot files: `snapshot.<zxid as 16 hex digits>`.
//!
//! ```text
//! header (32 bytes)
//! 0    4   magic "QSNP"
//! 4    4   format version, u32 LE (1)
//! 8    8   zxid, u64 LE (equals the name)
//! 16   12  reserved, zero
//! 28   4   CRC32C of bytes 0..28, u32 LE
//! data (n bytes, opaque state-machine bytes)
//! trailer (24 bytes)
//! 0    4   magic "QSNE"
//! 4    4   reserved, zero
//! 8    8   n, u64 LE
//! 16   4   CRC32C of the data, u32 LE
//! 20   4   CRC32C of trailer bytes 0..20, u32 LE
//! ```
//!
//! The trailer goes last so an incomplete file (which can only exist under a `.tmp` name
//! anyway) never validates.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::fsutil::{self, PacedFile};
use crate::traits::{Snapshot, SnapshotStore};
use crate::Zxid;

const PREFIX: &str = "snapshot.";
/// A snapshot file is pushed to the disk this many bytes at a time while it is written (see
/// [`PacedFile`]): a log fdatasync waits behind at most about this much of it. With a mebibyte,
/// three servers writing snapshots under load had 3–14 log fdatasyncs of 20–80 ms each in 30 s;
/// with a quarter of one, 0–5 of 20–28 ms (`scripts/bench-snapshot-stall`).
const PUSH_EVERY_BYTES: u64 = 256 << 10;
pub(crate) const HEADER_LEN: usize = 32;
pub(crate) const TRAILER_LEN: usize = 24;

/// Encodes the snapshot header.
pub(crate) fn header(zxid: Zxid) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[0..4].copy_from_slice(b"QSNP");
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    b[8..16].copy_from_slice(&zxid.to_le_bytes());
    let crc = crc32c::crc32c(&b[0..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Encodes the trailer for `len` data bytes with checksum `crc`.
pub(crate) fn trailer(len: u64, crc: u32) -> [u8; TRAILER_LEN] {
    let mut b = [0u8; TRAILER_LEN];
    b[0..4].copy_from_slice(b"QSNE");
    b[8..16].copy_from_slice(&len.to_le_bytes());
    b[16..20].copy_from_slice(&crc.to_le_bytes());
    let tcrc = crc32c::crc32c(&b[0..20]);
    b[20..24].copy_from_slice(&tcrc.to_le_bytes());
    b
}

/// Validates a whole snapshot file; returns its zxid. The data is
/// `file[HEADER_LEN..file.len() - TRAILER_LEN]`.
pub(crate) fn validate(file: &[u8]) -> Result<Zxid, (u64, String)> {
    if file.len() < HEADER_LEN + TRAILER_LEN {
        return Err((
            0,
            format!("{} bytes is too short for a snapshot", file.len()),
        ));
    }
    let h = &file[..HEADER_LEN];
    if crc32c::crc32c(&h[0..28]) != u32::from_le_bytes(h[28..32].try_into().expect("4"))
        || &h[0..4] != b"QSNP"
    {
        return Err((0, "snapshot header damaged".into()));
    }
    if h[4..8] != 1u32.to_le_bytes() {
        return Err((4, "unsupported snapshot format version".into()));
    }
    let zxid = Zxid::from_le_bytes(h[8..16].try_into().expect("8"));
    let toff = file.len() - TRAILER_LEN;
    let t = &file[toff..];
    if crc32c::crc32c(&t[0..20]) != u32::from_le_bytes(t[20..24].try_into().expect("4"))
        || &t[0..4] != b"QSNE"
    {
        return Err((
            toff as u64,
            "snapshot trailer missing or damaged (incomplete snapshot?)".into(),
        ));
    }
    let len = u64::from_le_bytes(t[8..16].try_into().expect("8"));
    if len != (toff - HEADER_LEN) as u64 {
        return Err((
            toff as u64,
            format!(
                "trailer says {len} data bytes, the file holds {}",
                toff - HEADER_LEN
            ),
        ));
    }
    let crc = u32::from_le_bytes(t[16..20].try_into().expect("4"));
    if crc32c::crc32c(&file[HEADER_LEN..toff]) != crc {
        return Err((HEADER_LEN as u64, "snapshot data checksum mismatch".into()));
    }
    Ok(zxid)
}

/// Bytes gathered before they are checksummed and passed on (see [`Checksummed`]).
const CHECKSUM_BLOCK_BYTES: usize = 64 << 10;

/// A writer that checksums and counts what passes through it. The tree's serializer writes a
/// field at a time, a few bytes each; crc32c over each of them cost a call and its setup every
/// time (two fifths of a snapshot's instructions), so the bytes gather here and are
/// checksummed and passed on a block at a time.
pub(crate) struct Checksummed<W: Write> {
    inner: W,
    block: Vec<u8>,
    crc: u32,
    len: u64,
}

impl<W: Write> Checksummed<W> {
    pub(crate) fn new(inner: W) -> Checksummed<W> {
        Checksummed {
            inner,
            block: Vec::with_capacity(CHECKSUM_BLOCK_BYTES),
            crc: 0,
            len: 0,
        }
    }

    fn pass_on(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.len += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn pass_block_on(&mut self) -> std::io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let block = std::mem::take(&mut self.block);
        let passed = self.pass_on(&block);
        self.block = block;
        self.block.clear();
        passed
    }

    /// Passes on what is gathered; returns the inner writer, the checksum and the length of
    /// everything written.
    pub(crate) fn finish(mut self) -> std::io::Result<(W, u32, u64)> {
        self.pass_block_on()?;
        Ok((self.inner, self.crc, self.len))
    }
}

impl<W: Write> Write for Checksummed<W> {
    /// A write of half a block or more (what a buffered writer in front hands on: a 64 KiB
    /// buffer is flushed when the next field does not fit, so a little short of full) goes
    /// straight through after what is gathered; a smaller one is gathered.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() >= CHECKSUM_BLOCK_BYTES / 2 {
            self.pass_block_on()?;
            self.pass_on(buf)?;
            return Ok(buf.len());
        }
        if self.block.len() + buf.len() > CHECKSUM_BLOCK_BYTES {
            self.pass_block_on()?;
        }
        self.block.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.pass_block_on()?;
        self.inner.flush()
    }
}

/// Snapshots stored as files in a directory (ZooKeeper's dataDir).
#[derive(Debug)]
pub struct FileSnapshotStore {
    dir: PathBuf,
}

impl FileSnapshotStore {
    /// Opens the store in `dir`, creating it if needed and removing leftovers of interrupted
    /// saves.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileSnapshotStore> {
        let dir = dir.as_ref().to_path_buf();
        fsutil::ensure_dir(&dir)?;
        fsutil::remove_temp_files(&dir, PREFIX)?;
        Ok(FileSnapshotStore { dir })
    }

    fn path(&self, zxid: Zxid) -> PathBuf {
        self.dir.join(format!("{PREFIX}{zxid:016x}"))
    }
}

/// A snapshot file's bytes: mapped from the page cache where the kernel can read the whole
/// file in at once (`MADV_POPULATE_READ`, Linux 5.14 and later), else read into a buffer.
///
/// A mapping because a snapshot the server wrote or read recently is in the page cache
/// already: nothing is copied and no fresh memory is zeroed for it (a million-znode snapshot
/// is about 190 MB; zeroing the buffer for it was a fifth of the kernel's share of a restart).
/// The populate reports a read error as an error, where touching a mapped page that cannot be
/// read kills the process (SIGBUS); any failure to map or to populate falls back to reading.
/// The mapping is dropped once the state machine has decoded the snapshot.
fn snapshot_bytes(path: &Path) -> Result<bytes::Bytes> {
    let io = |e| StorageError::io(format!("read {}", path.display()), e);
    let file = File::open(path).map_err(io)?;
    match map_populated(&file) {
        Ok(map) => Ok(bytes::Bytes::from_owner(map)),
        Err(error) => {
            tracing::debug!(file = %path.display(), %error, "snapshot not mapped; reading it");
            fs::read(path).map(bytes::Bytes::from).map_err(io)
        }
    }
}

fn map_populated(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: a mapping is sound while nobody changes the file under it. A snapshot file is
    // written under a temporary name and renamed once complete and fsynced; no file under a
    // snapshot's name is ever written again by this server (`purge` unlinks, which leaves a
    // mapping intact). A file truncated by hand while mapped, or a page the kernel evicted
    // and then cannot read back, would kill the process with SIGBUS rather than yield wrong
    // bytes; the header, data and trailer are checksummed after the populate either way.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    if !map.is_empty() {
        map.advise(memmap2::Advice::PopulateRead)?;
    }
    Ok(map)
}

fn parse_name(name: &str) -> Option<Zxid> {
    let hex = name.strip_prefix(PREFIX)?;
    (hex.len() == 16 && hex.bytes().all(|c| c.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(hex, 16).ok().map(Zxid::from_u64))?
}

impl SnapshotStore for FileSnapshotStore {
    fn save(
        &mut self,
        zxid: Zxid,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let target = self.path(zxid);
        let tmp = self.dir.join(format!("{PREFIX}{zxid:016x}.tmp"));
        let fatal = |what: &str, e| StorageError::fatal(format!("{what} {}", tmp.display()), e);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| fatal("create", e))?;
        let mut out = BufWriter::with_capacity(1 << 20, PacedFile::new(file, PUSH_EVERY_BYTES));
        out.write_all(&header(zxid))
            .map_err(|e| fatal("write", e))?;
        let mut body = Checksummed::new(out);
        if let Err(e) = write(&mut body) {
            // The caller's serializer failed: nothing was promised, drop the partial file.
            drop(body);
            let _ = fs::remove_file(&tmp);
            return Err(StorageError::io(
                format!("write snapshot {}", tmp.display()),
                e,
            ));
        }
        let (mut out, crc, len) = body.finish().map_err(|e| fatal("write", e))?;
        out.write_all(&trailer(len, crc))
            .map_err(|e| fatal("write", e))?;
        let file: File = out
            .into_inner()
            .map_err(|e| fatal("write", e.into_error()))?
            .into_inner();
        file.sync_all().map_err(|e| fatal("fsync", e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| fatal("rename", e))?;
        fsutil::sync_dir(&self.dir)?;
        tracing::info!(file = %target.display(), bytes = len, "snapshot saved");
        Ok(())
    }

    fn load_newest(&mut self) -> Result<Option<Snapshot>> {
        let names = self.list()?;
        let mut newest_error = None;
        for &zxid in names.iter().rev() {
            let path = self.path(zxid);
            let bytes = snapshot_bytes(&path)?;
            let checked = validate(&bytes).and_then(|z| {
                if z == zxid {
                    Ok(z)
                } else {
                    Err((
                        8,
                        format!("header zxid {z:#x} does not match the file name"),
                    ))
                }
            });
            match checked {
                Ok(zxid) => {
                    if newest_error.is_some() {
                        tracing::warn!(file = %path.display(), "falling back to an older snapshot; the log must be replayed from its zxid");
                    }
                    let end = bytes.len() - TRAILER_LEN;
                    let data = bytes.slice(HEADER_LEN..end);
                    return Ok(Some(Snapshot { zxid, data }));
                }
                Err((offset, why)) => {
                    tracing::warn!(file = %path.display(), offset, reason = %why, "snapshot is damaged, trying an older one");
                    newest_error.get_or_insert(StorageError::corrupt(&path, offset, why));
                }
            }
        }
        match newest_error {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    fn list(&self) -> Result<Vec<Zxid>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)
            .map_err(|e| StorageError::io(format!("list {}", self.dir.display()), e))?
        {
            let entry =
                entry.map_err(|e| StorageError::io(format!("list {}", self.dir.display()), e))?;
            if let Some(z) = parse_name(&entry.file_name().to_string_lossy()) {
                out.push(z);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    fn purge(&mut self, keep: usize) -> Result<Option<Zxid>> {
        if keep == 0 {
            return Err(StorageError::InvalidArgument(
                "must keep at least one snapshot".into(),
            ));
        }
        let names = self.list()?;
        let cut = names.len().saturating_sub(keep);
        for &zxid in &names[..cut] {
            let path = self.path(zxid);
            tracing::info!(file = %path.display(), "purging snapshot");
            fs::remove_file(&path)
                .map_err(|e| StorageError::fatal(format!("remove {}", path.display()), e))?;
        }
        if cut > 0 {
            fsutil::sync_dir(&self.dir)?;
        }
        Ok(names.get(cut).copied())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::{Checksummed, CHECKSUM_BLOCK_BYTES};

    proptest! {
        /// However the serializer cuts its writes (a byte, a field, more than a block), what
        /// comes out, its checksum and its length are those of the bytes in one piece.
        #[test]
        fn blocks_checksum_what_one_piece_would(
            sizes in proptest::collection::vec(
                prop_oneof![0usize..16, 0usize..4096, CHECKSUM_BLOCK_BYTES - 8..CHECKSUM_BLOCK_BYTES * 2],
                0..40,
            ),
        ) {
            let mut whole = Vec::new();
            let mut body = Checksummed::new(Vec::new());
            for (i, size) in sizes.into_iter().enumerate() {
                let piece: Vec<u8> = (0..size).map(|j| (i * 31 + j) as u8).collect();
                body.write_all(&piece).unwrap();
                whole.extend_from_slice(&piece);
            }
            let (out, crc, len) = body.finish().unwrap();
            prop_assert_eq!(crc, crc32c::crc32c(&whole));
            prop_assert_eq!(len, whole.len() as u64);
            prop_assert!(out == whole, "the bytes passed on differ");
        }
    }
}
