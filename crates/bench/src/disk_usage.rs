//! Bytes a server keeps on disk, counted per file and split into transaction log and snapshots,
//! for Quorum and Apache ZooKeeper folders alike.
//!
//! Both preallocate their log files with zeros (Quorum a fixed length, ZooKeeper 64 MiB at a
//! time), so a log file's size says nothing about what was written to it. Both end every log
//! record with a non-zero marker byte (Quorum 0xA5, ZooKeeper 'B'), so the bytes written to a
//! log file are those up to its last non-zero byte. Snapshots are written whole: their size is
//! what was written. Counting files rather than the device's sectors keeps other processes'
//! writes and the file system's own out of the figure; what it leaves out is the device's
//! rewrite of a partly written page at every sync, which the device counter showed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The chunk a log file's zero tail is read back in.
const TAIL_CHUNK_BYTES: u64 = 1 << 20;

/// What a file is to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `log.*`: the transaction log.
    Log,
    /// `snapshot.*`, not a temporary one.
    Snapshot,
    /// Anything else (epochs, ids, configuration, temporary files).
    Other,
}

impl FileKind {
    /// The kind of a file by its name.
    pub fn of(name: &str) -> FileKind {
        // A temporary file (a segment being zero-filled, a snapshot being written) is not yet
        // part of either.
        if name.ends_with(".tmp") {
            FileKind::Other
        } else if name.starts_with("log.") {
            FileKind::Log
        } else if name.starts_with("snapshot.") {
            FileKind::Snapshot
        } else {
            FileKind::Other
        }
    }
}

/// One file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUsage {
    /// The file, under one of the measured folders.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Bytes written to it: up to the last non-zero byte for a log file, else its size.
    pub bytes: u64,
    /// Bytes the file system holds for it (preallocation included).
    pub allocated_bytes: u64,
}

/// Every file under some folders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUsage {
    /// Each file, in path order.
    pub files: Vec<FileUsage>,
    /// Sum of the log files' bytes.
    pub log_bytes: u64,
    /// Sum of the snapshots' bytes.
    pub snapshot_bytes: u64,
    /// Sum of the other files' bytes.
    pub other_bytes: u64,
}

/// What was written between two measurements of the same folders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Growth {
    /// Bytes appended to log files (new files counted whole).
    pub log_bytes: u64,
    /// Bytes of snapshots that were not there before.
    pub snapshot_bytes: u64,
    /// How many such snapshots.
    pub snapshots_written: u64,
}

impl DiskUsage {
    /// Measures every file under `dirs` (recursively).
    pub fn measure(dirs: &[PathBuf]) -> std::io::Result<DiskUsage> {
        let mut files = Vec::new();
        for dir in dirs {
            walk(dir, &mut files)?;
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let sum = |kind| {
            files
                .iter()
                .filter(|f: &&FileUsage| f.kind == kind)
                .map(|f| f.bytes)
                .sum()
        };
        Ok(DiskUsage {
            log_bytes: sum(FileKind::Log),
            snapshot_bytes: sum(FileKind::Snapshot),
            other_bytes: sum(FileKind::Other),
            files,
        })
    }

    /// What was written since `before`. Files removed since (purged snapshots and logs) do not
    /// count, and neither does a snapshot written and purged in between.
    pub fn growth_since(&self, before: &DiskUsage) -> Growth {
        let old: HashMap<&Path, u64> = before
            .files
            .iter()
            .map(|f| (f.path.as_path(), f.bytes))
            .collect();
        let mut growth = Growth::default();
        for f in &self.files {
            let was = old.get(f.path.as_path()).copied();
            match f.kind {
                FileKind::Log => growth.log_bytes += f.bytes.saturating_sub(was.unwrap_or(0)),
                FileKind::Snapshot if was.is_none() => {
                    growth.snapshot_bytes += f.bytes;
                    growth.snapshots_written += 1;
                }
                _ => {}
            }
        }
        growth
    }

    /// The measurement as one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a measurement serializes")
    }
}

fn walk(dir: &Path, out: &mut Vec<FileUsage>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(m) => m,
            // Purged between listing and looking: it is not there to count.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            walk(&path, out)?;
            continue;
        }
        let kind = FileKind::of(&entry.file_name().to_string_lossy());
        let bytes = match kind {
            FileKind::Log => match written_len(&path) {
                Ok(n) => n,
                // Purged, or truncated, while being read: not there to count.
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            },
            _ => meta.len(),
        };
        out.push(FileUsage {
            path,
            kind,
            bytes,
            allocated_bytes: meta.blocks() * 512,
        });
    }
    Ok(())
}

fn vanished(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::UnexpectedEof
    )
}

/// One past the last non-zero byte of the file, read back from its end a chunk at a time.
pub fn written_len(path: &Path) -> std::io::Result<u64> {
    let mut file = File::open(path)?;
    let mut end = file.metadata()?.len();
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK_BYTES);
        chunk.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_name() {
        assert_eq!(FileKind::of("log.100000001"), FileKind::Log);
        assert_eq!(FileKind::of("log.0000000100000001"), FileKind::Log);
        assert_eq!(FileKind::of("snapshot.0"), FileKind::Snapshot);
        assert_eq!(
            FileKind::of("snapshot.0000000100000007.tmp"),
            FileKind::Other
        );
        assert_eq!(FileKind::of("log.0000000100000007.tmp"), FileKind::Other);
        assert_eq!(FileKind::of("acceptedEpoch"), FileKind::Other);
    }

    #[test]
    fn a_log_counts_to_its_last_non_zero_byte_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.1");
        let mut bytes = vec![0u8; 3 * TAIL_CHUNK_BYTES as usize + 17];
        bytes[TAIL_CHUNK_BYTES as usize - 1] = 0x42;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(written_len(&path).unwrap(), TAIL_CHUNK_BYTES);
        std::fs::write(&path, vec![0u8; 1000]).unwrap();
        assert_eq!(written_len(&path).unwrap(), 0);
    }

    #[test]
    fn growth_counts_appends_and_new_snapshots_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let write = |name: &str, data: &[u8]| std::fs::write(d.join(name), data).unwrap();
        write("log.1", &[1, 2, 3, 0, 0, 0]);
        write("snapshot.0", &[9; 10]);
        write("epochs", &[1; 7]);
        let before = DiskUsage::measure(std::slice::from_ref(&d)).unwrap();
        assert_eq!(
            (before.log_bytes, before.snapshot_bytes, before.other_bytes),
            (3, 10, 7)
        );
        write("log.1", &[1, 2, 3, 4, 5, 0]);
        write("log.5", &[7; 4]);
        write("snapshot.4", &[9; 30]);
        write("snapshot.9.tmp", &[9; 50]);
        std::fs::remove_file(d.join("snapshot.0")).unwrap();
        let after = DiskUsage::measure(std::slice::from_ref(&d)).unwrap();
        let growth = after.growth_since(&before);
        assert_eq!(
            growth,
            Growth {
                log_bytes: 2 + 4,
                snapshot_bytes: 30,
                snapshots_written: 1
            }
        );
        let back: DiskUsage = serde_json::from_str(&after.json()).unwrap();
        assert_eq!(back, after);
    }
}
