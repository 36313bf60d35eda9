//! An exclusive lock on the store directory, so that two bookies (or a bookie and a forgotten
//! earlier run) never write one store at once. `flock(2)` is released by the kernel when the
//! process dies, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// File name of the lock in the store directory.
pub const FILE_NAME: &str = "lock";

/// The held lock; released when dropped (with its file descriptor).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock, String> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        // SAFETY: a plain syscall on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!(
                "{} is locked by another process (another bookie on this directory?): {e}",
                dir.display()
            ));
        }
        Ok(DirLock { _file: file })
    }
}
