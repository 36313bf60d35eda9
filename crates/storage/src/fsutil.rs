//! Small file-system helpers shared by the log, snapshots and epoch files.
//!
//! Every helper that stands on a durability path maps failures to [`StorageError::Fatal`]:
//! after a failed fsync we cannot know what reached the disk.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Result, StorageError};

/// fsyncs a directory so that creations, renames and unlinks in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| {
        StorageError::fatal(format!("open directory {} for fsync", dir.display()), e)
    })?;
    d.sync_all()
        .map_err(|e| StorageError::fatal(format!("fsync directory {}", dir.display()), e))
}

/// Replaces `dir/name` with `bytes` atomically: write a temporary file, fsync it, rename it
/// over the target, fsync the directory. A crash leaves either the old or the new content.
pub fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let target = dir.join(name);
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| StorageError::fatal(ctx("create"), e))?;
    f.write_all(bytes)
        .map_err(|e| StorageError::fatal(ctx("write"), e))?;
    f.sync_all()
        .map_err(|e| StorageError::fatal(ctx("fsync"), e))?;
    drop(f);
    fs::rename(&tmp, &target).map_err(|e| {
        StorageError::fatal(
            format!("rename {} to {}", tmp.display(), target.display()),
            e,
        )
    })?;
    sync_dir(dir)
}

/// Creates `dir` (and parents) if missing and makes its entry durable.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        fs::create_dir_all(dir)
            .map_err(|e| StorageError::io(format!("create directory {}", dir.display()), e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Removes leftover `*.tmp` files (an interrupted atomic write or segment creation) whose
/// name starts with `prefix`. They were never renamed into place, so they hold nothing that
/// was promised durable.
pub fn remove_temp_files(dir: &Path, prefix: &str) -> Result<()> {
    let mut removed = false;
    for entry in
        fs::read_dir(dir).map_err(|e| StorageError::io(format!("list {}", dir.display()), e))?
    {
        let entry = entry.map_err(|e| StorageError::io(format!("list {}", dir.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            tracing::info!(file = %entry.path().display(), "removing leftover temporary file");
            fs::remove_file(entry.path()).map_err(|e| {
                StorageError::fatal(format!("remove {}", entry.path().display()), e)
            })?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Writes `len` zero bytes at `offset` (positional write; the file cursor is not used).
pub fn write_zeros(file: &File, mut offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(len as usize)];
    let mut left = len;
    while left > 0 {
        let n = (left as usize).min(zeros.len());
        file.write_all_at(&zeros[..n], offset)?;
        offset += n as u64;
        left -= n as u64;
    }
    Ok(())
}

/// Reserves blocks for `len` bytes with `fallocate(2)`, falling back to `set_len` (a sparse
/// file) where the file system does not support it.
pub fn fallocate(file: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EOPNOTSUPP) {
            return Err(err);
        }
    }
    file.set_len(len)
}

/// `sync_file_range(2)` over `len` bytes of `file` from `offset`: with `wait`, writes them out
/// and waits until they are written; without, only starts their writeback. Neither flushes the
/// device cache, so neither is a durability point: the caller fsyncs at the end. Elsewhere than
/// Linux it does nothing.
fn write_out_range(file: &File, offset: u64, len: u64, wait: bool) -> std::io::Result<()> {
    // To sync_file_range a length of 0 means "to the end of the file", never "nothing".
    if len == 0 {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let flags = match wait {
            true => {
                libc::SYNC_FILE_RANGE_WAIT_BEFORE
                    | libc::SYNC_FILE_RANGE_WRITE
                    | libc::SYNC_FILE_RANGE_WAIT_AFTER
            }
            false => libc::SYNC_FILE_RANGE_WRITE,
        };
        // SAFETY: plain syscall on a file descriptor we own; no memory is passed.
        let rc = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                flags,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len, wait);
    Ok(())
}

/// A file written in the background of a busy log. Every `every_bytes` written start their
/// writeback, and the writer waits until the chunk before is written before it goes on: so a
/// snapshot of hundreds of MiB never leaves more than two chunks dirty in the page cache for
/// its final fsync to write in one burst while the transaction log's fdatasyncs wait behind it
/// on the same disk, and serializing the next chunk overlaps writing the last one.
pub struct PacedFile {
    file: File,
    every_bytes: u64,
    written: u64,
    /// Written up to here, or being written (the chunk from `waited` to `started`).
    started: u64,
    /// On the disk up to here.
    waited: u64,
    /// A writeback failure found after bytes were already accepted: reported on the next call.
    failed: Option<std::io::Error>,
}

impl PacedFile {
    pub fn new(file: File, every_bytes: u64) -> PacedFile {
        PacedFile {
            file,
            every_bytes: every_bytes.max(1),
            written: 0,
            started: 0,
            waited: 0,
            failed: None,
        }
    }

    /// The file, with the last chunks possibly still only in the page cache.
    pub fn into_inner(self) -> File {
        self.file
    }

    /// Starts the writeback of what was written since the last chunk, and waits for the chunk
    /// before it.
    fn push(&mut self) -> std::io::Result<()> {
        write_out_range(&self.file, self.started, self.written - self.started, false)?;
        write_out_range(&self.file, self.waited, self.started - self.waited, true)?;
        self.waited = self.started;
        self.started = self.written;
        Ok(())
    }
}

impl std::io::Write for PacedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        // One chunk at most per call, so a single large write (a whole snapshot received from
        // the leader) is paced too.
        let room = self.every_bytes - (self.written - self.started);
        let take = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.file.write(&buf[..take])?;
        self.written += n as u64;
        if self.written - self.started >= self.every_bytes {
            // The bytes are in the file: say so, and report a failed push on the next call.
            if let Err(error) = self.push() {
                self.failed = Some(error);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.failed.take() {
            Some(error) => Err(error),
            None => self.file.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_large_write_is_taken_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large");
        let mut paced = PacedFile::new(File::create(&path).unwrap(), 4096);
        let data: Vec<u8> = (0..100_000u32).map(|b| (b % 251) as u8).collect();
        assert_eq!(paced.write(&data).unwrap(), 4096);
        paced.write_all(&data[4096..]).unwrap();
        assert_eq!((paced.written, paced.started), (100_000, 98_304));
        paced.into_inner().sync_all().unwrap();
        assert_eq!(fs::read(&path).unwrap(), data);
    }

    #[test]
    fn a_paced_file_holds_every_byte_written_across_its_pushes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("paced");
        let mut paced = PacedFile::new(File::create(&path).unwrap(), 4096);
        let mut expected = Vec::new();
        for i in 0..500u32 {
            // Uneven writes, so pushes fall inside writes and not on their edges.
            let chunk: Vec<u8> = (0..(i * 37 % 3001)).map(|b| (b ^ i) as u8).collect();
            paced.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
        }
        assert!(paced.waited > 0 && paced.waited <= paced.started);
        assert!(paced.started <= paced.written);
        assert_eq!(paced.written, expected.len() as u64);
        paced.into_inner().sync_all().unwrap();
        assert_eq!(fs::read(&path).unwrap(), expected);
    }
}
