//! The bookie's durable entry store, BookKeeper-style.
//!
//! - **Journal** (`journal/`, a `storage::FileTxnLog` keyed by record number): every record the
//!   bookie issues, group-committed by a dedicated thread ([`journal`]). An answer waits for it.
//! - **Entry log** (`entries.log`, [`entry_log`]): every entry again, for reading; fsynced only
//!   at checkpoints.
//! - **Index**: (ledger, entry) → location in the entry log, in memory, rebuilt at start by a
//!   checksum-verifying scan of the entry log.
//! - **Facts** (fenced, LAC, last entry of each ledger): in memory, persisted in the
//!   [`checkpoint`].
//!
//! A checkpoint makes the entry log and the facts durable up to a record number, after which
//! the journal segments before it can go. Start = load the checkpoint, cut the entry log back
//! to the checkpointed length, scan it into the index, replay the journal after the checkpoint.
//! Damage a crash cannot explain, or a missing file, is an error: the bookie refuses to start
//! rather than forget an entry or a fence it acknowledged.

pub mod checkpoint;
pub mod entry_log;
pub mod journal;
pub mod journal_record;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use ledger::bookie::{EntryReader, LedgerFacts, Record};
use ledger::{EntryId, LedgerId};
use storage::{FileTxnLog, LogOptions, Preallocate, TxnLog, Zxid};

use checkpoint::Checkpoint;
use entry_log::{EntryLog, Location};

/// File name of the entry log.
pub const ENTRY_LOG: &str = "entries.log";
/// Directory of the journal's segments.
pub const JOURNAL_DIR: &str = "journal";

/// Tuning of the store.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Largest entry payload stored (and believed at recovery).
    pub max_entry_bytes: u32,
    /// Length of each journal segment file.
    pub journal_segment_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_entry_bytes: 8 << 20,
            journal_segment_bytes: 64 << 20,
        }
    }
}

impl StoreOptions {
    fn log_options(&self) -> LogOptions {
        LogOptions {
            segment_size: self.journal_segment_bytes,
            max_payload: self.max_entry_bytes + journal_record::ENTRY_HEADER_BYTES as u32,
            preallocate: Preallocate::ZeroFill,
            ..LogOptions::default()
        }
    }
}

/// The store's read side and its entry log, owned by the bookie's core task.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// Held for the store's life: a second bookie on the same directory would interleave
    /// records with ours.
    _lock: storage::DirLock,
    entry_log: EntryLog,
    index: HashMap<(LedgerId, EntryId), Location>,
    facts: BTreeMap<LedgerId, LedgerFacts>,
    /// The last record applied.
    applied_seq: u64,
    /// The record number of the last checkpoint.
    checkpoint_seq: u64,
}

/// A store opened and recovered, with its journal ready to hand to [`journal::Journal`].
#[derive(Debug)]
pub struct Opened {
    pub store: Store,
    pub journal: FileTxnLog,
}

impl Store {
    /// Opens the store in `dir` (creating an empty one if `dir` holds none) and recovers it.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<Opened, String> {
        fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let lock = storage::DirLock::acquire(dir).map_err(|e| e.to_string())?;
        let log_path = dir.join(ENTRY_LOG);
        let journal_dir = dir.join(JOURNAL_DIR);
        let ckpt = match Checkpoint::load(dir)? {
            Some(c) => c,
            None => {
                // Fresh only if nothing was ever stored: a missing checkpoint next to data
                // means a file was lost, and starting empty would forget fences and entries.
                let log_len = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
                let journal_has_segments = fs::read_dir(&journal_dir)
                    .map(|d| {
                        d.flatten()
                            .any(|e| e.file_name().to_string_lossy().starts_with("log."))
                    })
                    .unwrap_or(false);
                if log_len > 0 || journal_has_segments {
                    return Err(format!(
                        "{}: the checkpoint file is missing but the store holds data; refusing to start",
                        dir.display()
                    ));
                }
                tracing::info!(dir = %dir.display(), "creating an empty bookie store");
                EntryLog::create(&log_path)?;
                let empty = Checkpoint::default();
                empty.store(dir)?;
                empty
            }
        };
        if !log_path.exists() {
            return Err(format!(
                "{} is missing; refusing to start",
                log_path.display()
            ));
        }
        let mut index = HashMap::new();
        let max_record = opts.max_entry_bytes + entry_log::RECORD_HEADER_BYTES as u32;
        let entry_log =
            EntryLog::open(&log_path, ckpt.entry_log_len, max_record, |l, e, _, at| {
                index.insert((l, e), at);
            })?;
        let mut journal = FileTxnLog::open(&journal_dir, opts.log_options())
            .map_err(|e| format!("journal: {e}"))?;
        let base = journal.base_zxid().as_u64();
        if base > ckpt.seq {
            return Err(format!(
                "{}: the journal starts after record {base} but the checkpoint covers only up to {}: records are missing; refusing to start",
                journal_dir.display(),
                ckpt.seq
            ));
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            _lock: lock,
            entry_log,
            index,
            facts: ckpt.facts.into_iter().collect(),
            applied_seq: ckpt.seq,
            checkpoint_seq: ckpt.seq,
        };
        let last = journal.last_zxid();
        let mut after = Zxid::from_u64(ckpt.seq);
        let mut replayed = 0u64;
        while after < last {
            let page = journal
                .read_range(after, last, 4 << 20)
                .map_err(|e| format!("journal replay: {e}"))?;
            let Some(end) = page.last().map(|r| r.zxid) else {
                break;
            };
            for rec in page {
                let record = journal_record::decode(&rec.payload).map_err(|why| {
                    format!(
                        "journal record {}: {why}; refusing to start",
                        rec.zxid.as_u64()
                    )
                })?;
                store.apply(rec.zxid.as_u64(), &record)?;
                replayed += 1;
            }
            after = end;
        }
        tracing::info!(
            dir = %dir.display(),
            checkpoint = ckpt.seq,
            replayed,
            last_seq = store.applied_seq,
            ledgers = store.facts.len(),
            entries = store.index.len(),
            "bookie store recovered"
        );
        Ok(Opened { store, journal })
    }

    /// Applies record `seq` to the entry log, the index and the facts (not durable until the
    /// journal says so). Makes it visible to reads at once, as `ledger::bookie` requires.
    pub fn apply(&mut self, seq: u64, record: &Record) -> Result<(), String> {
        match record {
            Record::Entry {
                ledger,
                entry,
                lac,
                payload,
            } => {
                let at = self.entry_log.append(*ledger, *entry, *lac, payload)?;
                self.index.insert((*ledger, *entry), at);
                let facts = self.facts.entry(*ledger).or_default();
                facts.lac = facts.lac.max(*lac);
                facts.last_entry = facts.last_entry.max(Some(*entry));
            }
            Record::Fence { ledger } => self.facts.entry(*ledger).or_default().fenced = true,
        }
        self.applied_seq = self.applied_seq.max(seq);
        Ok(())
    }

    /// Makes the entry log and the facts durable up to the last applied record and returns
    /// its number: journal records up to it may then be purged.
    pub fn checkpoint(&mut self) -> Result<u64, String> {
        let job = self.begin_checkpoint()?;
        let seq = job.run()?;
        self.checkpoint_done(seq);
        Ok(seq)
    }

    /// The part of a checkpoint that must run on the store's owner: writes out the entry log
    /// and takes the facts as of the last applied record. The returned job does the slow part
    /// (the fsyncs) anywhere, while the store goes on applying records; report its success
    /// with [`Store::checkpoint_done`].
    pub fn begin_checkpoint(&mut self) -> Result<CheckpointJob, String> {
        let (syncer, entry_log_len) = self.entry_log.prepare_sync()?;
        Ok(CheckpointJob {
            syncer,
            dir: self.dir.clone(),
            checkpoint: Checkpoint {
                seq: self.applied_seq,
                entry_log_len,
                facts: self.facts.iter().map(|(l, f)| (*l, *f)).collect(),
            },
        })
    }

    /// A checkpoint job finished: its record number is the new checkpoint.
    pub fn checkpoint_done(&mut self, seq: u64) {
        self.checkpoint_seq = self.checkpoint_seq.max(seq);
    }

    /// Every ledger's facts (for `Bookie::restore`).
    pub fn facts(&self) -> impl Iterator<Item = (LedgerId, LedgerFacts)> + '_ {
        self.facts.iter().map(|(l, f)| (*l, *f))
    }

    /// The number of the last record applied.
    pub fn last_seq(&self) -> u64 {
        self.applied_seq
    }

    /// The record number of the last checkpoint.
    pub fn checkpoint_seq(&self) -> u64 {
        self.checkpoint_seq
    }

    /// Number of entries indexed.
    pub fn entry_count(&self) -> usize {
        self.index.len()
    }
}

/// The slow part of a checkpoint: fsync the entry log up to the length taken, then replace the
/// checkpoint file. Runs off the core task so reads and adds go on meanwhile.
#[derive(Debug)]
pub struct CheckpointJob {
    syncer: entry_log::Syncer,
    dir: PathBuf,
    checkpoint: Checkpoint,
}

impl CheckpointJob {
    /// Returns the record number the checkpoint covers.
    pub fn run(self) -> Result<u64, String> {
        self.syncer.sync()?;
        self.checkpoint.store(&self.dir)?;
        tracing::debug!(
            seq = self.checkpoint.seq,
            entry_log_len = self.checkpoint.entry_log_len,
            "checkpoint"
        );
        Ok(self.checkpoint.seq)
    }
}

impl EntryReader for Store {
    fn read_entry(
        &self,
        ledger: LedgerId,
        entry: EntryId,
    ) -> Result<Option<(Option<EntryId>, Vec<u8>)>, String> {
        match self.index.get(&(ledger, entry)) {
            None => Ok(None),
            Some(at) => self
                .entry_log
                .read(*at, ledger, entry)
                .map(Some)
                .map_err(|e| {
                    tracing::error!(error = %e, "entry log read failed");
                    e
                }),
        }
    }
}

#[cfg(test)]
mod tests;
