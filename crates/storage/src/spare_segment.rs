//! The next log segment, preallocated on a thread of its own before the log needs it.
//!
//! A new segment is filled with zeros over its whole length (64 MiB by default) and fsynced, so
//! that the fdatasyncs of the records written into it later have no block allocation or file
//! size to journal. Done at the moment the active segment filled up, that write and its fsync
//! held the log, and with it every write the server acknowledges, for as long as the disk took
//! (hundreds of milliseconds under load, on every server at about the same zxid). So once the
//! active segment is half full the log asks for a spare; the roll then only writes the header,
//! renames the file and syncs the directory.
//!
//! The spare lives under a temporary name (`log.next.tmp`), which a log opening after a crash
//! removes like any other leftover; it becomes a segment only by the rename of a roll.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::file_log::Preallocate;
use crate::fsutil::{self, PacedFile};
use crate::segment;

/// The spare's name: the segments' prefix and a temporary suffix, and no zxid.
pub(crate) fn spare_name() -> String {
    format!("{}next.tmp", segment::PREFIX)
}

/// Zeros are pushed to the disk this many bytes at a time, so that the log's own fdatasyncs
/// meanwhile wait behind at most about this much of them (see [`PacedFile`]).
const PUSH_EVERY_BYTES: u64 = 256 << 10;

/// A segment file being preallocated, or ready.
#[derive(Debug)]
pub(crate) struct SpareSegment {
    path: PathBuf,
    preparing: Option<JoinHandle<std::io::Result<File>>>,
}

impl SpareSegment {
    /// Starts preallocating `len` bytes under the spare's name in `dir`. `None` if no thread
    /// could be started: the roll then preallocates the segment itself.
    pub fn prepare(dir: &Path, len: u64, how: Preallocate) -> Option<SpareSegment> {
        let path = dir.join(spare_name());
        let target = path.clone();
        let preparing = std::thread::Builder::new()
            .name("log-preallocate".into())
            .spawn(move || preallocate(&target, len, how))
            .map_err(
                |e| tracing::warn!(error = %e, "cannot start preallocating the next log segment"),
            )
            .ok()?;
        Some(SpareSegment {
            path,
            preparing: Some(preparing),
        })
    }

    /// The preallocated file, durable, and its path; waits for it if it is not ready. `None`
    /// if preallocating failed, or the name no longer names the file (logged): the roll then
    /// preallocates in place, and reports its own error.
    pub fn take(mut self) -> Option<(File, PathBuf)> {
        let done = self.preparing.take()?.join();
        match done {
            Ok(Ok(file)) if names(&self.path, &file) => Some((file, self.path.clone())),
            Ok(Ok(_)) => {
                // Removed or replaced by someone else meanwhile (a second process on the same
                // folder, a clean-up of temporary files): renaming it would put another file,
                // or nothing, where the records go.
                tracing::warn!(file = %self.path.display(), "the preallocated next log segment is no longer there under its name");
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(file = %self.path.display(), error = %e, "preallocating the next log segment failed");
                None
            }
            Err(_) => {
                tracing::warn!(file = %self.path.display(), "the thread preallocating the next log segment panicked");
                None
            }
        }
    }
}

impl Drop for SpareSegment {
    /// No thread outlives the log that asked for it. An unused spare stays on disk until the
    /// log's next opening removes it with the other leftovers: removing it here by name could
    /// take the file of a log opened on the same folder since.
    fn drop(&mut self) {
        if let Some(preparing) = self.preparing.take() {
            let _ = preparing.join();
        }
    }
}

/// Whether `path` still names `file` (the same device and inode).
fn names(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(held)) => named.dev() == held.dev() && named.ino() == held.ino(),
        _ => false,
    }
}

/// Creates `path` with `len` bytes reserved as `how` says, and makes them durable. A file
/// that could not be made whole is removed, so that a full disk is not left fuller.
pub(crate) fn preallocate(path: &Path, len: u64, how: Preallocate) -> std::io::Result<File> {
    let made = create(path, len, how);
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

fn create(path: &Path, len: u64, how: Preallocate) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    let file = match how {
        Preallocate::ZeroFill => {
            let mut paced = PacedFile::new(file, PUSH_EVERY_BYTES);
            let zeros = vec![0u8; PUSH_EVERY_BYTES as usize];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                paced.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            paced.flush()?;
            paced.into_inner()
        }
        Preallocate::Fallocate => {
            fsutil::fallocate(&file, len)?;
            file
        }
    };
    file.sync_all()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_is_zeros_of_the_length_asked() {
        let dir = tempfile::tempdir().unwrap();
        let spare = SpareSegment::prepare(dir.path(), 3 << 20, Preallocate::ZeroFill).unwrap();
        let (file, path) = spare.take().unwrap();
        assert_eq!(path, dir.path().join("log.next.tmp"));
        assert_eq!(file.metadata().unwrap().len(), 3 << 20);
        assert!(std::fs::read(&path).unwrap().iter().all(|&b| b == 0));
    }

    #[test]
    fn dropping_a_spare_waits_for_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        drop(SpareSegment::prepare(dir.path(), 2 << 20, Preallocate::ZeroFill).unwrap());
        let left = dir.path().join(spare_name());
        assert_eq!(
            std::fs::metadata(left).unwrap().len(),
            2 << 20,
            "written in full"
        );
    }

    #[test]
    fn a_spare_whose_name_was_taken_meanwhile_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut spare = SpareSegment::prepare(dir.path(), 1 << 20, Preallocate::ZeroFill).unwrap();
        // It finishes; then someone else removes the name and makes another file under it.
        let done = spare.preparing.take().unwrap().join().unwrap();
        spare.preparing = Some(std::thread::spawn(move || done));
        let path = dir.path().join(spare_name());
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"another file").unwrap();
        assert!(spare.take().is_none());
    }

    #[test]
    fn a_spare_that_cannot_be_created_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let spare = SpareSegment::prepare(&missing, 1 << 20, Preallocate::ZeroFill).unwrap();
        assert!(spare.take().is_none());
    }
}
