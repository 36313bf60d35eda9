//! Simulated storage for the deterministic simulator.
//!
//! A [`SimDisk`] is the durable state of one simulated server: its log bytes (in the same
//! record format as the file log, validated by the same scanner), its snapshots and epoch
//! files. Handles opened from it ([`SimLog`], [`SimSnapshotStore`], [`SimEpochStore`])
//! implement the storage traits. [`SimDisk::crash`] models a power failure: unsynced log
//! bytes are lost except for a prefix chosen by the caller (so the last record can be torn),
//! and every handle opened before the crash becomes unusable. There is no hidden
//! randomness: the simulator passes its own seeded RNG or an explicit choice.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::epoch;
use crate::error::{Result, StorageError};
use crate::record::{self, ScanEnd};
use crate::snapshot;
use crate::traits::{EpochStore, Epochs, LogEntry, Snapshot, SnapshotStore, TxnLog};
use crate::Zxid;

const LOG_NAME: &str = "sim:log";

#[derive(Debug, Default)]
struct DiskState {
    /// Bumped by every crash; handles from an older generation are dead.
    generation: u64,
    /// The log "file": every byte written; `log[..log_durable]` survives a crash.
    log: Vec<u8>,
    log_durable: usize,
    /// The zxid the log continues after (see `TxnLog::base_zxid`), durable with the log.
    log_base: Zxid,
    /// Complete snapshot files in the file format, by zxid.
    snapshots: BTreeMap<Zxid, Vec<u8>>,
    accepted_epoch: Option<Vec<u8>>,
    current_epoch: Option<Vec<u8>>,
    /// Fault injection: the next sync of anything fails (fatally).
    fail_next_sync: bool,
}

/// The durable state of one simulated server. Cheap to clone (shared handle).
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<DiskState>>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> SimDisk {
        SimDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, DiskState> {
        // A panic while holding the lock is a bug in this module; the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the log, running the same recovery as the file log (torn tail cut, damage is
    /// `Corrupt`).
    pub fn open_log(&self) -> Result<SimLog> {
        let mut s = self.lock();
        let mut index = Vec::new();
        let base = s.log_base;
        let scanned = record::scan(&s.log, base, u32::MAX, |zxid, off, _| {
            index.push((zxid, off))
        })
        .map_err(|e| StorageError::corrupt(LOG_NAME, e.offset as u64, e.reason))?;
        let end = match scanned {
            ScanEnd::Clean { end } => end,
            ScanEnd::Torn { end, dirty_end } => {
                tracing::warn!(
                    offset = end,
                    bytes = dirty_end - end,
                    "sim: truncating torn log tail"
                );
                end
            }
        };
        s.log.truncate(end);
        s.log_durable = end;
        let last = index.last().map_or(base, |&(z, _)| z);
        Ok(SimLog {
            disk: self.clone(),
            generation: s.generation,
            index,
            last_zxid: last,
            durable_zxid: last,
            poisoned: false,
        })
    }

    /// A snapshot store handle.
    pub fn snapshots(&self) -> SimSnapshotStore {
        SimSnapshotStore {
            disk: self.clone(),
            generation: self.lock().generation,
        }
    }

    /// An epoch store handle.
    pub fn epochs(&self) -> SimEpochStore {
        SimEpochStore {
            disk: self.clone(),
            generation: self.lock().generation,
        }
    }

    /// Log bytes written but not yet synced (what a crash may lose).
    pub fn unsynced_log_bytes(&self) -> usize {
        let s = self.lock();
        s.log.len() - s.log_durable
    }

    /// Power failure keeping exactly `kept` of the unsynced log bytes (clamped). Keeping a
    /// number that ends inside a record leaves a torn record for recovery to cut.
    pub fn crash_keeping(&self, kept: usize) {
        let mut s = self.lock();
        let keep_len = s.log_durable + kept.min(s.log.len() - s.log_durable);
        s.log.truncate(keep_len);
        s.log_durable = 0; // recovery recomputes it
        s.fail_next_sync = false;
        s.generation += 1;
    }

    /// Power failure keeping a prefix of the unsynced log bytes whose length is chosen by
    /// `rng`, the simulator's deterministic RNG (called once; the result is taken modulo the
    /// number of choices).
    pub fn crash(&self, rng: &mut dyn FnMut() -> u64) {
        let choices = self.unsynced_log_bytes() as u64 + 1;
        self.crash_keeping((rng() % choices) as usize);
    }

    /// Makes the next sync (log sync, truncation, snapshot save or epoch store) fail with
    /// `Fatal`, as a failing fsync would.
    pub fn fail_next_sync(&self) {
        self.lock().fail_next_sync = true;
    }

    /// Flips one bit of the log (for corruption tests); `bit` is taken modulo the size.
    pub fn flip_log_bit(&self, bit: u64) {
        let mut s = self.lock();
        if !s.log.is_empty() {
            let bit = (bit % (s.log.len() as u64 * 8)) as usize;
            s.log[bit / 8] ^= 1 << (bit % 8);
        }
    }

    /// Flips one bit of the acceptedEpoch (`accepted`) or currentEpoch file, if present.
    pub fn flip_epoch_bit(&self, accepted: bool, bit: u64) {
        let mut s = self.lock();
        let f = if accepted {
            &mut s.accepted_epoch
        } else {
            &mut s.current_epoch
        };
        if let Some(f) = f {
            let bit = (bit % (f.len() as u64 * 8)) as usize;
            f[bit / 8] ^= 1 << (bit % 8);
        }
    }

    /// Flips one bit of the snapshot at `zxid` (for fallback tests).
    pub fn flip_snapshot_bit(&self, zxid: Zxid, bit: u64) {
        let mut s = self.lock();
        if let Some(f) = s.snapshots.get_mut(&zxid) {
            let bit = (bit % (f.len() as u64 * 8)) as usize;
            f[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

fn stale() -> StorageError {
    StorageError::fatal(
        "simulated disk",
        std::io::Error::other("handle opened before a crash"),
    )
}

fn injected() -> StorageError {
    StorageError::fatal(
        "simulated fsync",
        std::io::Error::other("injected fsync failure"),
    )
}

/// Locks the disk for a handle of `generation`, failing if the disk crashed since.
fn live(disk: &SimDisk, generation: u64) -> Result<MutexGuard<'_, DiskState>> {
    let s = disk.lock();
    if s.generation != generation {
        return Err(stale());
    }
    Ok(s)
}

/// Consumes an injected sync failure, if any.
fn take_failure(s: &mut DiskState) -> Result<()> {
    if std::mem::take(&mut s.fail_next_sync) {
        return Err(injected());
    }
    Ok(())
}

/// The simulated transaction log. Same contract as [`crate::FileTxnLog`].
#[derive(Debug)]
pub struct SimLog {
    disk: SimDisk,
    generation: u64,
    /// (zxid, offset) of every record: the simulator favours speed over memory.
    index: Vec<(Zxid, usize)>,
    last_zxid: Zxid,
    durable_zxid: Zxid,
    poisoned: bool,
}

impl SimLog {
    fn state(&self) -> Result<MutexGuard<'_, DiskState>> {
        if self.poisoned {
            return Err(StorageError::fatal(
                "simulated log",
                std::io::Error::other("poisoned by an earlier fatal error"),
            ));
        }
        live(&self.disk, self.generation)
    }
}

impl TxnLog for SimLog {
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<()> {
        if zxid <= self.last_zxid {
            return Err(StorageError::InvalidArgument(format!(
                "zxid {zxid:#x} does not follow the last zxid {:#x}",
                self.last_zxid
            )));
        }
        let mut s = self.state()?;
        let off = s.log.len();
        record::encode(&mut s.log, zxid, payload);
        drop(s);
        self.index.push((zxid, off));
        self.last_zxid = zxid;
        Ok(())
    }

    fn sync(&mut self) -> Result<Zxid> {
        let mut s = self.state()?;
        if s.log_durable < s.log.len() {
            if let Err(e) = take_failure(&mut s) {
                drop(s);
                self.poisoned = true;
                return Err(e);
            }
            s.log_durable = s.log.len();
        }
        drop(s);
        self.durable_zxid = self.last_zxid;
        Ok(self.durable_zxid)
    }

    fn durable_zxid(&self) -> Zxid {
        self.durable_zxid
    }

    fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    fn first_zxid(&self) -> Option<Zxid> {
        self.index.first().map(|&(z, _)| z)
    }

    fn base_zxid(&self) -> Zxid {
        self.disk.lock().log_base
    }

    fn reset(&mut self, base: Zxid) -> Result<()> {
        let mut s = self.state()?;
        if let Err(e) = take_failure(&mut s) {
            drop(s);
            self.poisoned = true;
            return Err(e);
        }
        s.log.clear();
        s.log_durable = 0;
        s.log_base = base;
        drop(s);
        self.index.clear();
        self.last_zxid = base;
        self.durable_zxid = base;
        Ok(())
    }

    fn read_range(&mut self, after: Zxid, up_to: Zxid, max_bytes: usize) -> Result<Vec<LogEntry>> {
        let s = self.state()?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let start = self.index.partition_point(|&(z, _)| z <= after);
        for &(zxid, off) in &self.index[start..] {
            if zxid > up_to || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            let (z, payload, _) = record::decode_checked(&s.log[off..])
                .map_err(|why| StorageError::corrupt(LOG_NAME, off as u64, why))?
                .ok_or_else(|| StorageError::corrupt(LOG_NAME, off as u64, "record cut short"))?;
            debug_assert_eq!(z, zxid);
            bytes += payload.len();
            out.push(LogEntry {
                zxid,
                payload: payload.to_vec(),
            });
        }
        Ok(out)
    }

    fn truncate_after(&mut self, zxid: Zxid) -> Result<()> {
        if zxid >= self.last_zxid {
            drop(self.state()?);
            return Ok(());
        }
        let mut s = self.state()?;
        if let Err(e) = take_failure(&mut s) {
            drop(s);
            self.poisoned = true;
            return Err(e);
        }
        let keep = self.index.partition_point(|&(z, _)| z <= zxid);
        let cut = self.index.get(keep).map_or(s.log.len(), |&(_, off)| off);
        s.log.truncate(cut);
        s.log_durable = cut;
        if keep == 0 {
            // As the file log: with every segment removed, it starts afresh.
            s.log_base = Zxid::ZERO;
        }
        drop(s);
        self.index.truncate(keep);
        self.last_zxid = self.index.last().map_or(Zxid::ZERO, |&(z, _)| z);
        self.durable_zxid = self.last_zxid;
        Ok(())
    }

    fn purge_through(&mut self, zxid: Zxid) -> Result<()> {
        let mut s = self.state()?;
        // Drop whole durable records <= zxid, always keeping the newest durable record: a crash
        // may take every unsynced one, and the log must not come back empty.
        let mut n = self
            .index
            .partition_point(|&(z, _)| z <= zxid)
            .min(self.index.len().saturating_sub(1));
        while n > 0 && self.index[n].1 >= s.log_durable {
            n -= 1;
        }
        if n == 0 {
            return Ok(());
        }
        let cut = self.index[n].1;
        s.log.drain(..cut);
        s.log_durable -= cut;
        s.log_base = self.index[n - 1].0;
        drop(s);
        self.index.drain(..n);
        for entry in &mut self.index {
            entry.1 -= cut;
        }
        Ok(())
    }
}

/// Simulated snapshots; stored in the file format so damage is detected the same way.
#[derive(Debug)]
pub struct SimSnapshotStore {
    disk: SimDisk,
    generation: u64,
}

impl SnapshotStore for SimSnapshotStore {
    fn save(
        &mut self,
        zxid: Zxid,
        write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        drop(live(&self.disk, self.generation)?);
        let mut body = snapshot::Checksummed::new(Vec::new());
        write(&mut body).map_err(|e| StorageError::io("write simulated snapshot", e))?;
        let (inner, crc, len) = body
            .finish()
            .map_err(|e| StorageError::io("write simulated snapshot", e))?;
        let mut file = snapshot::header(zxid).to_vec();
        file.extend_from_slice(&inner);
        file.extend_from_slice(&snapshot::trailer(len, crc));
        let mut s = live(&self.disk, self.generation)?;
        take_failure(&mut s)?;
        s.snapshots.insert(zxid, file);
        Ok(())
    }

    fn load_newest(&mut self) -> Result<Option<Snapshot>> {
        let s = live(&self.disk, self.generation)?;
        let mut newest_error = None;
        for (&zxid, file) in s.snapshots.iter().rev() {
            match snapshot::validate(file) {
                Ok(z) if z == zxid => {
                    if newest_error.is_some() {
                        tracing::warn!(%zxid, "sim: falling back to an older snapshot");
                    }
                    let data = bytes::Bytes::copy_from_slice(
                        &file[snapshot::HEADER_LEN..file.len() - snapshot::TRAILER_LEN],
                    );
                    return Ok(Some(Snapshot { zxid, data }));
                }
                Ok(_) => {
                    newest_error.get_or_insert(StorageError::corrupt(
                        format!("sim:snapshot.{zxid:016x}"),
                        8,
                        "zxid mismatch",
                    ));
                }
                Err((offset, why)) => {
                    tracing::warn!(%zxid, offset, reason = %why, "sim: damaged snapshot");
                    newest_error.get_or_insert(StorageError::corrupt(
                        format!("sim:snapshot.{zxid:016x}"),
                        offset,
                        why,
                    ));
                }
            }
        }
        newest_error.map_or(Ok(None), Err)
    }

    fn list(&self) -> Result<Vec<Zxid>> {
        Ok(live(&self.disk, self.generation)?
            .snapshots
            .keys()
            .copied()
            .collect())
    }

    fn purge(&mut self, keep: usize) -> Result<Option<Zxid>> {
        if keep == 0 {
            return Err(StorageError::InvalidArgument(
                "must keep at least one snapshot".into(),
            ));
        }
        let mut s = live(&self.disk, self.generation)?;
        while s.snapshots.len() > keep {
            s.snapshots.pop_first();
        }
        Ok(s.snapshots.keys().next().copied())
    }
}

/// Simulated epoch files (stored in the file format).
#[derive(Debug)]
pub struct SimEpochStore {
    disk: SimDisk,
    generation: u64,
}

impl EpochStore for SimEpochStore {
    fn load(&mut self) -> Result<Epochs> {
        let s = live(&self.disk, self.generation)?;
        let read = |f: &Option<Vec<u8>>, name: &str| match f {
            None => Ok((0, 0)),
            Some(b) => {
                epoch::decode(b).map_err(|why| StorageError::corrupt(format!("sim:{name}"), 0, why))
            }
        };
        let (accepted_epoch, accepted_leader) = read(&s.accepted_epoch, epoch::ACCEPTED_EPOCH)?;
        let (current_epoch, _) = read(&s.current_epoch, epoch::CURRENT_EPOCH)?;
        Ok(Epochs {
            accepted_epoch,
            accepted_leader,
            current_epoch,
        })
    }

    fn store_accepted_epoch(&mut self, epoch: u32, leader: u64) -> Result<()> {
        let mut s = live(&self.disk, self.generation)?;
        take_failure(&mut s)?;
        s.accepted_epoch = Some(epoch::encode(epoch, leader).to_vec());
        Ok(())
    }

    fn store_current_epoch(&mut self, epoch: u32) -> Result<()> {
        let mut s = live(&self.disk, self.generation)?;
        take_failure(&mut s)?;
        s.current_epoch = Some(epoch::encode(epoch, 0).to_vec());
        Ok(())
    }
}
