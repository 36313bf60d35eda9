//! acceptedEpoch and currentEpoch files.
//!
//! Each file is 28 bytes, replaced atomically (temporary file, fsync, rename, fsync dir):
//!
//! ```text
//! offset  size  field
//! 0       4     magic "QEPO"
//! 4       4     format version, u32 LE (1)
//! 8       4     epoch, u32 LE
//! 12      4     reserved, zero
//! 16      8     leader id, u64 LE (acceptedEpoch: the proposer; currentEpoch: 0)
//! 24      4     CRC32C of bytes 0..24, u32 LE
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Result, StorageError};
use crate::fsutil;
use crate::traits::{EpochStore, Epochs};

/// File name of acceptedEpoch (ZooKeeper's name).
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// File name of currentEpoch (ZooKeeper's name).
pub const CURRENT_EPOCH: &str = "currentEpoch";
const LEN: usize = 28;
const MAGIC: &[u8; 4] = b"QEPO";

/// Encodes an epoch file.
pub(crate) fn encode(epoch: u32, leader: u64) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[0..4].copy_from_slice(MAGIC);
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    b[8..12].copy_from_slice(&epoch.to_le_bytes());
    b[16..24].copy_from_slice(&leader.to_le_bytes());
    let crc = crc32c::crc32c(&b[0..24]);
    b[24..28].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes an epoch file into (epoch, leader); the error says what check failed.
pub(crate) fn decode(b: &[u8]) -> Result<(u32, u64), String> {
    if b.len() != LEN {
        return Err(format!("epoch file is {} bytes, expected {LEN}", b.len()));
    }
    if crc32c::crc32c(&b[0..24]) != u32::from_le_bytes(b[24..28].try_into().expect("4 bytes")) {
        return Err("epoch file checksum mismatch".into());
    }
    if &b[0..4] != MAGIC || b[4..8] != 1u32.to_le_bytes() {
        return Err("not an epoch file of format version 1".into());
    }
    Ok((
        u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
        u64::from_le_bytes(b[16..24].try_into().expect("8 bytes")),
    ))
}

/// Epoch files in a directory (ZooKeeper keeps them in dataDir).
#[derive(Debug)]
pub struct FileEpochStore {
    dir: PathBuf,
}

impl FileEpochStore {
    /// Opens the store in `dir`, creating the directory if needed and removing leftovers of
    /// interrupted writes.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileEpochStore> {
        let dir = dir.as_ref().to_path_buf();
        fsutil::ensure_dir(&dir)?;
        fsutil::remove_temp_files(&dir, ACCEPTED_EPOCH)?;
        fsutil::remove_temp_files(&dir, CURRENT_EPOCH)?;
        Ok(FileEpochStore { dir })
    }

    fn read(&self, name: &str) -> Result<(u32, u64)> {
        let path = self.dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => decode(&bytes).map_err(|why| StorageError::corrupt(&path, 0, why)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((0, 0)),
            Err(e) => Err(StorageError::io(format!("read {}", path.display()), e)),
        }
    }
}

impl EpochStore for FileEpochStore {
    fn load(&mut self) -> Result<Epochs> {
        let (accepted_epoch, accepted_leader) = self.read(ACCEPTED_EPOCH)?;
        let (current_epoch, _) = self.read(CURRENT_EPOCH)?;
        Ok(Epochs {
            accepted_epoch,
            accepted_leader,
            current_epoch,
        })
    }

    fn store_accepted_epoch(&mut self, epoch: u32, leader: u64) -> Result<()> {
        fsutil::atomic_write(&self.dir, ACCEPTED_EPOCH, &encode(epoch, leader))
    }

    fn store_current_epoch(&mut self, epoch: u32) -> Result<()> {
        fsutil::atomic_write(&self.dir, CURRENT_EPOCH, &encode(epoch, 0))
    }
}
