//! The checkpoint file: how far the entry log is durable, and every ledger's facts.
//!
//! A checkpoint says: every record up to `seq` is reflected in the first `entry_log_len` bytes
//! of the entry log (fsynced) and in `facts`. Recovery starts from it and replays the journal
//! after `seq`; journal segments wholly at or before it may then be purged. It is replaced
//! atomically (temporary file, fsync, rename, directory fsync), so a crash leaves the old or
//! the new one, never a mix.
//!
//! ```text
//! offset  size  field (little endian)
//! 0       4     magic "QBCK"
//! 4       4     format version (1)
//! 8       8     seq: the last record number reflected
//! 16      8     entry log length
//! 24      8     number of ledgers N
//! 32      25×N  ledger u64, flags u8 (1 fenced, 2 LAC present, 4 last entry present), LAC u64, last entry u64
//! 32+25N  4     CRC32C of every byte before it
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use ledger::bookie::LedgerFacts;
use ledger::LedgerId;

const MAGIC: &[u8; 4] = b"QBCK";
const VERSION: u32 = 1;
const FIXED_BYTES: usize = 32;
const PER_LEDGER_BYTES: usize = 25;
/// File name of the checkpoint in the store directory.
pub const FILE_NAME: &str = "checkpoint";

/// A decoded checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub entry_log_len: u64,
    pub facts: Vec<(LedgerId, LedgerFacts)>,
}

impl Checkpoint {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FIXED_BYTES + PER_LEDGER_BYTES * self.facts.len() + 4);
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.seq.to_le_bytes());
        b.extend_from_slice(&self.entry_log_len.to_le_bytes());
        b.extend_from_slice(&(self.facts.len() as u64).to_le_bytes());
        for (ledger, f) in &self.facts {
            let flags = u8::from(f.fenced)
                | (u8::from(f.lac.is_some()) << 1)
                | (u8::from(f.last_entry.is_some()) << 2);
            b.extend_from_slice(&ledger.to_le_bytes());
            b.push(flags);
            b.extend_from_slice(&f.lac.unwrap_or(0).to_le_bytes());
            b.extend_from_slice(&f.last_entry.unwrap_or(0).to_le_bytes());
        }
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and verifies a checkpoint; the error names the failed check.
    pub fn decode(b: &[u8]) -> Result<Checkpoint, String> {
        if b.len() < FIXED_BYTES + 4 {
            return Err(format!("{} bytes is shorter than a checkpoint", b.len()));
        }
        let (body, crc) = b.split_at(b.len() - 4);
        if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err("checkpoint checksum mismatch".into());
        }
        let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
        if &body[0..4] != MAGIC {
            return Err("not a checkpoint (bad magic)".into());
        }
        let version = u32::from_le_bytes(body[4..8].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(format!("unsupported checkpoint version {version}"));
        }
        let count = word(24);
        let expected = (body.len() - FIXED_BYTES) / PER_LEDGER_BYTES;
        if count != expected as u64 || expected * PER_LEDGER_BYTES != body.len() - FIXED_BYTES {
            return Err(format!(
                "checkpoint says {count} ledgers but holds {} bytes of them",
                body.len() - FIXED_BYTES
            ));
        }
        let mut facts = Vec::with_capacity(expected);
        for i in 0..expected {
            let at = FIXED_BYTES + i * PER_LEDGER_BYTES;
            let flags = body[at + 8];
            if flags & !7 != 0 {
                return Err(format!("bad flags {flags:#x} for ledger {}", word(at)));
            }
            let opt = |bit: u8, v: u64| (flags & bit != 0).then_some(v);
            facts.push((
                word(at),
                LedgerFacts {
                    fenced: flags & 1 != 0,
                    lac: opt(2, word(at + 9)),
                    last_entry: opt(4, word(at + 17)),
                },
            ));
        }
        Ok(Checkpoint {
            seq: word(8),
            entry_log_len: word(16),
            facts,
        })
    }

    /// Reads the checkpoint in `dir`; `Ok(None)` if there is none.
    pub fn load(dir: &Path) -> Result<Option<Checkpoint>, String> {
        let path = dir.join(FILE_NAME);
        match fs::read(&path) {
            Ok(bytes) => Checkpoint::decode(&bytes)
                .map(Some)
                .map_err(|why| format!("{}: {why}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("read {}: {e}", path.display())),
        }
    }

    /// Replaces the checkpoint in `dir` atomically and durably.
    pub fn store(&self, dir: &Path) -> Result<(), String> {
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        let path = dir.join(FILE_NAME);
        let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", tmp.display());
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| fail("create", e))?;
        f.write_all(&self.encode()).map_err(|e| fail("write", e))?;
        f.sync_all().map_err(|e| fail("fsync", e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| fail("rename", e))?;
        sync_dir(dir)
    }
}

/// fsyncs a directory so that a creation or rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("fsync directory {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_flip_is_caught() {
        let c = Checkpoint {
            seq: 42,
            entry_log_len: 4096,
            facts: vec![
                (
                    1,
                    LedgerFacts {
                        fenced: true,
                        lac: None,
                        last_entry: Some(3),
                    },
                ),
                (
                    2,
                    LedgerFacts {
                        fenced: false,
                        lac: Some(5),
                        last_entry: Some(6),
                    },
                ),
            ],
        };
        let b = c.encode();
        assert_eq!(Checkpoint::decode(&b), Ok(c));
        for bit in 0..b.len() * 8 {
            let mut d = b.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(Checkpoint::decode(&d).is_err(), "bit {bit}");
        }
        for cut in 0..b.len() {
            assert!(Checkpoint::decode(&b[..cut]).is_err(), "cut {cut}");
        }
    }
}
