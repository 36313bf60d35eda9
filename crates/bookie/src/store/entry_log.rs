//! The entry log: every stored entry written once more, in one file, for reading.
//!
//! The journal is written for durability (sequential, group-committed) and purged after
//! checkpoints; the entry log keeps the entries for reads, and is fsynced only at checkpoints.
//! Bytes past the last checkpoint's length are not trusted after a crash: recovery cuts them
//! and replays the journal, which holds every record after the checkpoint. Bytes before it
//! were fsynced, so any damage there is corruption and the bookie refuses to start.
//!
//! ```text
//! offset  size  field (little endian)
//! 0       4     body length
//! 4       4     CRC32C of bytes 0..4 and of the body
//! 8       8     ledger id          ┐
//! 16      8     entry id           │ body
//! 24      1     LAC present (0/1)  │
//! 25      8     LAC (0 if absent)  │
//! 33      ...   payload            ┘
//! ```
//!
//! Writes are buffered in memory and written out in chunks (reads of buffered records are
//! served from the buffer), so the core task pays a syscall per megabyte, not per entry.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ledger::{EntryId, LedgerId};

/// Bytes a record spends before its payload.
pub const RECORD_HEADER_BYTES: usize = 8 + 8 + 8 + 9;
/// Buffered bytes beyond which an append writes the buffer to the file.
const WRITE_CHUNK_BYTES: usize = 1 << 20;

/// Where one entry's record is: file offset and total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub offset: u64,
    pub len: u32,
}

/// A decoded entry record.
pub type StoredEntry = (LedgerId, EntryId, Option<EntryId>, Vec<u8>);

/// Makes the entry log's written bytes durable.
#[derive(Debug)]
pub struct Syncer {
    file: File,
    path: PathBuf,
}

impl Syncer {
    pub fn sync(&self) -> Result<(), String> {
        self.file
            .sync_data()
            .map_err(|e| format!("fdatasync {}: {e}", self.path.display()))
    }
}

/// The open entry log.
#[derive(Debug)]
pub struct EntryLog {
    path: PathBuf,
    file: File,
    /// Bytes written to the file.
    flushed: u64,
    /// Encoded records after `flushed`, not yet written.
    buffer: Vec<u8>,
}

fn encode(
    out: &mut Vec<u8>,
    ledger: LedgerId,
    entry: EntryId,
    lac: Option<EntryId>,
    payload: &[u8],
) {
    let start = out.len();
    let body_len = (RECORD_HEADER_BYTES - 8 + payload.len()) as u32;
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&ledger.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.push(u8::from(lac.is_some()));
    out.extend_from_slice(&lac.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[start..start + 4]), &out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes and verifies one whole record (`rec` is exactly its bytes).
fn decode(rec: &[u8]) -> Result<StoredEntry, String> {
    if rec.len() < RECORD_HEADER_BYTES {
        return Err(format!(
            "record of {} bytes is shorter than its header",
            rec.len()
        ));
    }
    let word = |at: usize| u64::from_le_bytes(rec[at..at + 8].try_into().expect("8 bytes"));
    let body_len = u32::from_le_bytes(rec[0..4].try_into().expect("4 bytes")) as usize;
    if body_len + 8 != rec.len() {
        return Err(format!(
            "record length {body_len} does not match its location"
        ));
    }
    let stored = u32::from_le_bytes(rec[4..8].try_into().expect("4 bytes"));
    if crc32c::crc32c_append(crc32c::crc32c(&rec[0..4]), &rec[8..]) != stored {
        return Err("entry record checksum mismatch".into());
    }
    let lac = match (rec[24], word(25)) {
        (0, 0) => None,
        (1, lac) => Some(lac),
        (flag, _) => return Err(format!("bad LAC flag {flag}")),
    };
    Ok((word(8), word(16), lac, rec[RECORD_HEADER_BYTES..].to_vec()))
}

impl EntryLog {
    /// Opens the log at `path`, trusting its first `trusted_len` bytes (the last checkpoint's
    /// length): a longer file is cut back (logged), a shorter one is corruption. Calls `visit`
    /// with each record's location, verifying every checksum.
    pub fn open(
        path: &Path,
        trusted_len: u64,
        max_record_bytes: u32,
        mut visit: impl FnMut(LedgerId, EntryId, Option<EntryId>, Location),
    ) -> Result<EntryLog, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("stat {}: {e}", path.display()))?
            .len();
        if len < trusted_len {
            return Err(format!(
                "{} is {len} bytes but the checkpoint says {trusted_len} bytes were fsynced: entries are missing",
                path.display()
            ));
        }
        if len > trusted_len {
            tracing::warn!(
                file = %path.display(),
                offset = trusted_len,
                bytes = len - trusted_len,
                "cutting entry log bytes written after the last checkpoint (the journal replays them)"
            );
            file.set_len(trusted_len)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("truncate {}: {e}", path.display()))?;
        }
        let mut reader = std::io::BufReader::with_capacity(1 << 20, (&file).take(trusted_len));
        let mut offset = 0u64;
        let mut rec = Vec::new();
        while offset < trusted_len {
            let corrupt = |why: String| format!("{}: offset {offset}: {why}", path.display());
            let mut len_bytes = [0u8; 4];
            reader
                .read_exact(&mut len_bytes)
                .map_err(|e| corrupt(format!("reading a record header: {e}")))?;
            let body_len = u32::from_le_bytes(len_bytes) as u64;
            let total = body_len + 8;
            if total > u64::from(max_record_bytes) || total > trusted_len - offset {
                return Err(corrupt(format!("record length {body_len} is impossible")));
            }
            rec.clear();
            rec.extend_from_slice(&len_bytes);
            rec.resize(total as usize, 0);
            reader
                .read_exact(&mut rec[4..])
                .map_err(|e| corrupt(format!("reading a record: {e}")))?;
            let (ledger, entry, lac, _) = decode(&rec).map_err(corrupt)?;
            visit(
                ledger,
                entry,
                lac,
                Location {
                    offset,
                    len: total as u32,
                },
            );
            offset += total;
        }
        Ok(EntryLog {
            path: path.to_path_buf(),
            file,
            flushed: trusted_len,
            buffer: Vec::new(),
        })
    }

    /// Creates an empty log at `path` (durably).
    pub fn create(path: &Path) -> Result<(), String> {
        File::create(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("create {}: {e}", path.display()))
    }

    /// The length of the log, buffered records included.
    pub fn len(&self) -> u64 {
        self.flushed + self.buffer.len() as u64
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an entry (buffered; visible to [`EntryLog::read`] at once).
    pub fn append(
        &mut self,
        ledger: LedgerId,
        entry: EntryId,
        lac: Option<EntryId>,
        payload: &[u8],
    ) -> Result<Location, String> {
        let offset = self.len();
        encode(&mut self.buffer, ledger, entry, lac, payload);
        let len = (self.len() - offset) as u32;
        if self.buffer.len() >= WRITE_CHUNK_BYTES {
            self.write_out()?;
        }
        Ok(Location { offset, len })
    }

    /// Writes buffered records to the file (no fsync).
    pub fn write_out(&mut self) -> Result<(), String> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.buffer, self.flushed)
            .map_err(|e| format!("write {}: {e}", self.path.display()))?;
        self.flushed += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Writes out and fdatasyncs: every record so far is durable. Returns the length.
    pub fn sync(&mut self) -> Result<u64, String> {
        let (syncer, len) = self.prepare_sync()?;
        syncer.sync()?;
        Ok(len)
    }

    /// Writes out every record and returns a handle that fdatasyncs them (on another thread if
    /// wished: appends may continue meanwhile, past the returned length), and that length.
    pub fn prepare_sync(&mut self) -> Result<(Syncer, u64), String> {
        self.write_out()?;
        let file = self
            .file
            .try_clone()
            .map_err(|e| format!("duplicate {}: {e}", self.path.display()))?;
        let syncer = Syncer {
            file,
            path: self.path.clone(),
        };
        Ok((syncer, self.flushed))
    }

    /// Reads and verifies the record at `at`, which must be for (`ledger`, `entry`).
    pub fn read(
        &self,
        at: Location,
        ledger: LedgerId,
        entry: EntryId,
    ) -> Result<(Option<EntryId>, Vec<u8>), String> {
        let corrupt = |why: String| format!("{}: offset {}: {why}", self.path.display(), at.offset);
        let rec = if at.offset >= self.flushed {
            let start = (at.offset - self.flushed) as usize;
            self.buffer
                .get(start..start + at.len as usize)
                .ok_or_else(|| corrupt("location past the end of the log".into()))?
                .to_vec()
        } else {
            let mut rec = vec![0u8; at.len as usize];
            self.file
                .read_exact_at(&mut rec, at.offset)
                .map_err(|e| corrupt(format!("read: {e}")))?;
            rec
        };
        let (l, e, lac, payload) = decode(&rec).map_err(corrupt)?;
        if (l, e) != (ledger, entry) {
            return Err(corrupt(format!(
                "holds entry {e} of ledger {l}, the index says entry {entry} of ledger {ledger}"
            )));
        }
        Ok((lac, payload))
    }
}
