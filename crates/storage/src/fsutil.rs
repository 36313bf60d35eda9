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

/// Starts writing `len` bytes of `file` from `offset` to the disk and waits until they are
/// written (`sync_file_range(2)`; no device cache flush, so not a durability point: the caller
/// fsyncs at the end). Elsewhere than Linux it does nothing.
pub fn write_out_range(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER;
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
    let _ = (file, offset, len);
    Ok(())
}

/// A file written in the background of a busy log: every `every_bytes` written are pushed to
/// the disk and waited for before more is written, so a snapshot of hundreds of MiB never
/// leaves that much dirty in the page cache for its final fsync to write in one burst, while
/// the transaction log's fdatasyncs wait behind it on the same disk.
pub struct PacedFile {
    file: File,
    every_bytes: u64,
    written: u64,
    pushed: u64,
}

impl PacedFile {
    pub fn new(file: File, every_bytes: u64) -> PacedFile {
        PacedFile {
            file,
            every_bytes: every_bytes.max(1),
            written: 0,
            pushed: 0,
        }
    }

    /// The file, with what was written since the last push still only in the page cache.
    pub fn into_inner(self) -> File {
        self.file
    }
}

impl std::io::Write for PacedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.pushed >= self.every_bytes {
            write_out_range(&self.file, self.pushed, self.written - self.pushed)?;
            self.pushed = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(paced.pushed > 0 && paced.pushed <= paced.written);
        assert_eq!(paced.written, expected.len() as u64);
        paced.into_inner().sync_all().unwrap();
        assert_eq!(fs::read(&path).unwrap(), expected);
    }
}
