//! An exclusive lock on a store's directory, so that two processes (a second server started on
//! the same `dataDir` by mistake, or a forgotten earlier run) never write one store at once:
//! both would append to the same log and rename over each other's snapshots, and nothing else
//! would notice. `flock(2)` is released by the kernel when the process dies, so a crash never
//! leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::fsutil;

/// File name of the lock in a locked directory. It holds nothing; only its lock matters.
pub const LOCK_FILE_NAME: &str = "lock";

/// A held lock on one directory; released when dropped (with its file descriptor).
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    _file: File,
}

impl DirLock {
    /// Creates `dir` if missing and locks it, without waiting: a directory another process
    /// holds is an error naming it. A lock is per open file, so a process that locks the same
    /// directory twice (two names for one directory) is refused the second time too: take
    /// one lock per directory, see [`DirLock::acquire_all`].
    ///
    /// A file system that cannot lock at all (some network and FUSE mounts) is logged and
    /// the directory used unlocked, as before locks existed: refusing to start there would
    /// turn a missing safeguard into an outage.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        fsutil::ensure_dir(dir)?;
        Self::lock_existing(dir)
    }

    /// [`DirLock::acquire`] of a directory known to exist.
    fn lock_existing(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE_NAME);
        let file = open_lock_file(&path)
            .map_err(|e| StorageError::io(format!("open {}", path.display()), e))?;
        // SAFETY: a plain syscall on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != ErrorKind::WouldBlock {
                tracing::warn!(dir = %dir.display(), error = %e,
                    "this file system cannot lock the directory: nothing stops a second \
                     process from using it");
            } else {
                return Err(StorageError::io(
                    format!(
                        "lock {}: the directory is in use by another process",
                        dir.display()
                    ),
                    e,
                ));
            }
        }
        Ok(DirLock {
            dir: dir.to_path_buf(),
            _file: file,
        })
    }

    /// Locks each distinct directory of `dirs` once (`dataDir` and `dataLogDir` are often the
    /// same directory, possibly under two names or mounts: compared by device and inode).
    pub fn acquire_all(dirs: &[&Path]) -> Result<Vec<DirLock>> {
        let mut locks: Vec<DirLock> = Vec::new();
        let mut seen: Vec<(u64, u64)> = Vec::new();
        for dir in dirs {
            fsutil::ensure_dir(dir)?;
            let meta = std::fs::metadata(dir)
                .map_err(|e| StorageError::io(format!("stat {}", dir.display()), e))?;
            let id = (meta.dev(), meta.ino());
            if !seen.contains(&id) {
                locks.push(DirLock::lock_existing(dir)?);
                seen.push(id);
            }
        }
        Ok(locks)
    }

    /// The directory this lock holds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Opens the lock file for writing, creating it if missing (on NFS and SMB `flock` is a
/// POSIX lock, which needs a file open for writing); a file this user may only read (left by
/// a run as root) is opened for reading, so it does not keep the service's user out where a
/// local `flock` works.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let writable = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path);
    match writable {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => File::open(path),
        opened => opened,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_second_lock_on_a_held_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_directory_is_created_and_locked() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        let lock = DirLock::acquire(&nested).unwrap();
        assert!(nested.join(LOCK_FILE_NAME).is_file());
        assert_eq!(lock.dir(), nested);
    }

    #[test]
    fn a_lock_file_nobody_may_write_still_locks() {
        // SAFETY: a plain syscall without arguments.
        if unsafe { libc::geteuid() } == 0 {
            // Root may write any file: nothing to show.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE_NAME);
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let _held = DirLock::acquire(dir.path()).unwrap();
        assert!(DirLock::acquire(dir.path()).is_err());
    }

    #[test]
    fn one_directory_under_two_names_is_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let other_name = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &other_name).unwrap();
        let locks = DirLock::acquire_all(&[dir.path(), &other_name]).unwrap();
        assert_eq!(locks.len(), 1);
        assert!(DirLock::acquire_all(&[dir.path()]).is_err());
    }

    #[test]
    fn distinct_directories_are_each_locked() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let locks = DirLock::acquire_all(&[a.path(), b.path()]).unwrap();
        assert_eq!(locks.len(), 2);
        assert!(DirLock::acquire(b.path()).is_err());
    }
}
