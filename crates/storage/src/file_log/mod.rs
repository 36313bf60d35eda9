//! The file implementation of [`TxnLog`]: a directory of preallocated segment files.
//!
//! Write path: `append` encodes into an in-memory batch; `sync` writes the batch with one
//! positional write and one fdatasync. Because segments are preallocated (and zero filled by
//! default), fdatasync does not have to commit file-size or block-allocation metadata, so one
//! sync costs about one raw fdatasync of the disk.
//!
//! Only the newest segment ever holds unsynced bytes: before a new segment is created the old
//! one is synced. Recovery therefore accepts a torn tail only in the newest segment.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod recover;

use recover::recover_segment;

use crate::error::{Result, StorageError};
use crate::fsutil;
use crate::index::SparseIndex;
use crate::record;
use crate::segment::{self, SegmentHeader, SEGMENT_HEADER_LEN};
use crate::spare_segment::{self, SpareSegment};
use crate::traits::{LogEntry, TxnLog};
use crate::Zxid;

const HDR: u64 = SEGMENT_HEADER_LEN as u64;
/// Pending bytes beyond which `append` writes them out (unsynced) to bound memory.
const PENDING_SPILL: usize = 4 << 20;
/// Read-back chunk size.
const READ_CHUNK: usize = 256 << 10;

/// How new segments reserve their space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preallocate {
    /// Write zeros over the whole segment at creation. Costs one sequential write of the
    /// segment size per roll, but later fdatasyncs flush data pages only.
    ZeroFill,
    /// `fallocate(2)`: instant, but the first write to each block converts an unwritten
    /// extent, which fdatasync must journal.
    Fallocate,
}

/// Tuning of the file log.
#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    /// Length of each segment file, header included.
    pub segment_size: u64,
    /// Largest payload accepted (and believed during recovery).
    pub max_payload: u32,
    /// How segments are preallocated.
    pub preallocate: Preallocate,
    /// An fdatasync, or the creation of a segment, that takes at least this long is logged as
    /// a warning: every write acknowledged after it waited for it (ZooKeeper's
    /// `fsync.warningthresholdms`).
    pub slow_sync_warning: Duration,
    /// Preallocate the next segment on a thread of its own once the active one is half full
    /// (see [`crate::spare_segment`]), so that a roll does not hold the writes for the time it
    /// takes to write a segment's length of zeros. Costs a second segment's space on disk.
    pub preallocate_ahead: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_size: 64 << 20,
            max_payload: 8 << 20,
            preallocate: Preallocate::ZeroFill,
            slow_sync_warning: Duration::from_secs(1),
            preallocate_ahead: false,
        }
    }
}

/// One segment file and what recovery or appends learned about it.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    file: File,
    header: SegmentHeader,
    /// Zxid of the first record, `None` while empty.
    first: Option<Zxid>,
    /// Zxid of the last record (the header's `prev_zxid` while empty).
    last: Zxid,
    /// File offset just past the last record (pending ones included).
    end: u64,
    index: SparseIndex,
}

/// The transaction log stored in a directory of segment files. See [`TxnLog`] for the
/// contract and `docs/storage.md` for the format.
#[derive(Debug)]
pub struct FileTxnLog {
    dir: PathBuf,
    opts: LogOptions,
    segments: Vec<Segment>,
    /// Encoded records of the newest segment not yet written; they belong at `flushed`.
    pending: Vec<u8>,
    /// Offset in the newest segment up to which bytes were written to the file.
    flushed: u64,
    /// Whether bytes were written to the newest segment since its last fdatasync.
    unsynced: bool,
    last_zxid: Zxid,
    durable_zxid: Zxid,
    /// Set by the first fatal error; every later call fails.
    poisoned: Option<String>,
    /// The next segment, being preallocated since the active one passed half its length.
    spare: Option<SpareSegment>,
    /// No spare is asked for again until the next roll: one could not be started.
    spare_refused: bool,
}

impl FileTxnLog {
    /// Opens (creating if needed) the log in `dir`, validating every record. A torn tail of
    /// the newest segment is cleared (and logged); anything else invalid is `Corrupt`.
    pub fn open(dir: impl AsRef<Path>, opts: LogOptions) -> Result<FileTxnLog> {
        let dir = dir.as_ref().to_path_buf();
        let min_size = HDR + record::encoded_len(opts.max_payload as usize) as u64;
        if opts.segment_size < min_size {
            return Err(StorageError::InvalidArgument(format!(
                "segment size {} cannot hold a record of the maximum payload {} (needs {min_size})",
                opts.segment_size, opts.max_payload
            )));
        }
        fsutil::ensure_dir(&dir)?;
        fsutil::remove_temp_files(&dir, segment::PREFIX)?;
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| StorageError::io(format!("list {}", dir.display()), e))?
        {
            let entry =
                entry.map_err(|e| StorageError::io(format!("list {}", dir.display()), e))?;
            if let Some(zxid) = segment::parse_name(&entry.file_name().to_string_lossy()) {
                names.push((zxid, entry.path()));
            }
        }
        names.sort();
        let mut segments: Vec<Segment> = Vec::with_capacity(names.len());
        let mut buf = Vec::new();
        let count = names.len();
        for (i, (name_zxid, path)) in names.into_iter().enumerate() {
            let seg = recover_segment(
                &path,
                name_zxid,
                segments.last(),
                i + 1 == count,
                &opts,
                &mut buf,
            )?;
            segments.push(seg);
        }
        if segments.last().is_some_and(|s| s.first.is_none()) {
            // Created by a roll whose first record never became durable.
            let seg = segments.pop().expect("checked non-empty");
            tracing::info!(file = %seg.path.display(), "removing empty newest segment");
            fs::remove_file(&seg.path)
                .map_err(|e| StorageError::fatal(format!("remove {}", seg.path.display()), e))?;
            fsutil::sync_dir(&dir)?;
        }
        let last_zxid = segments.last().map_or(Zxid::ZERO, |s| s.last);
        let flushed = segments.last().map_or(HDR, |s| s.end);
        tracing::debug!(dir = %dir.display(), segments = segments.len(), %last_zxid, "transaction log opened");
        Ok(FileTxnLog {
            dir,
            opts,
            segments,
            pending: Vec::new(),
            flushed,
            unsynced: false,
            last_zxid,
            durable_zxid: last_zxid,
            poisoned: None,
            spare: None,
            spare_refused: false,
        })
    }

    /// The directory holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Writes every appended record to the file system without fdatasync: they survive a
    /// crash of the process but not of the machine. For stores run with fsync switched off
    /// (tests, benchmarks of everything but the disk), which still want a killed process to
    /// find its records on restart.
    pub fn write_out(&mut self) -> Result<()> {
        self.check()?;
        let r = self.write_pending();
        self.guard(r)
    }

    fn check(&self) -> Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(why) => Err(StorageError::fatal(
                "transaction log unusable after an earlier fatal error",
                std::io::Error::other(why.clone()),
            )),
        }
    }

    /// Records a fatal error so that every later call fails too.
    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.is_fatal() && self.poisoned.is_none() {
                tracing::error!(error = %e, "transaction log poisoned; the server must stop");
                self.poisoned = Some(e.to_string());
            }
        }
        r
    }

    /// Writes pending bytes to the newest segment without syncing.
    pub(crate) fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let seg = self.segments.last().expect("pending bytes imply a segment");
        seg.file
            .write_all_at(&self.pending, self.flushed)
            .map_err(|e| StorageError::fatal(format!("write {}", seg.path.display()), e))?;
        self.flushed += self.pending.len() as u64;
        self.pending.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Writes and fdatasyncs everything appended to the newest segment.
    fn sync_active(&mut self) -> Result<()> {
        self.write_pending()?;
        if self.unsynced {
            let seg = self
                .segments
                .last()
                .expect("unsynced bytes imply a segment");
            let started = Instant::now();
            seg.file
                .sync_data()
                .map_err(|e| StorageError::fatal(format!("fdatasync {}", seg.path.display()), e))?;
            if let Some(ms) = self.slow_ms(started) {
                tracing::warn!(file = %seg.path.display(), ms,
                    "the log's fdatasync was slow; every write in it waited");
            }
            self.unsynced = false;
        }
        self.durable_zxid = self.last_zxid;
        Ok(())
    }

    /// The milliseconds since `started`, if at least the slow-sync warning's threshold.
    fn slow_ms(&self, started: Instant) -> Option<u64> {
        let took = started.elapsed();
        (took >= self.opts.slow_sync_warning).then_some(took.as_millis() as u64)
    }

    /// Syncs the current segment and creates the next one, named after `zxid`.
    fn roll(&mut self, zxid: Zxid) -> Result<()> {
        if !self.segments.is_empty() {
            self.sync_active()?;
        }
        let header = SegmentHeader {
            first_zxid: zxid,
            prev_zxid: self.last_zxid,
            file_len: self.opts.segment_size,
        };
        let path = self.dir.join(segment::file_name(zxid));
        let started = Instant::now();
        self.spare_refused = false;
        let (file, tmp) = match self.spare.take().and_then(SpareSegment::take) {
            Some(spare) => spare,
            None => {
                let tmp = self.dir.join(format!("{}.tmp", segment::file_name(zxid)));
                let file = spare_segment::preallocate(&tmp, header.file_len, self.opts.preallocate)
                    .map_err(|e| {
                        StorageError::fatal(format!("preallocate {}", tmp.display()), e)
                    })?;
                (file, tmp)
            }
        };
        let fatal = |what: &str, e| StorageError::fatal(format!("{what} {}", tmp.display()), e);
        // The preallocated length is durable already; the header changes no metadata.
        file.write_all_at(&header.encode(), 0)
            .map_err(|e| fatal("write header of", e))?;
        file.sync_data().map_err(|e| fatal("fdatasync", e))?;
        fs::rename(&tmp, &path).map_err(|e| fatal("rename", e))?;
        fsutil::sync_dir(&self.dir)?;
        if let Some(ms) = self.slow_ms(started) {
            tracing::warn!(file = %path.display(), ms,
                "creating the next log segment was slow; every write waited");
        }
        tracing::debug!(file = %path.display(), "new log segment");
        self.segments.push(Segment {
            path,
            file,
            header,
            first: None,
            last: self.last_zxid,
            end: HDR,
            index: SparseIndex::default(),
        });
        self.flushed = HDR;
        self.unsynced = false;
        Ok(())
    }

    /// Starts preallocating the next segment once the active one is half full, if asked to.
    fn prepare_spare(&mut self) {
        let Some(active) = self.segments.last() else {
            return;
        };
        let half_full = active.end >= active.header.file_len / 2;
        if self.opts.preallocate_ahead && half_full && self.spare.is_none() && !self.spare_refused {
            self.spare =
                SpareSegment::prepare(&self.dir, self.opts.segment_size, self.opts.preallocate);
            self.spare_refused = self.spare.is_none();
        }
    }

    fn append_inner(&mut self, zxid: Zxid, payload: &[u8]) -> Result<()> {
        if zxid <= self.last_zxid {
            return Err(StorageError::InvalidArgument(format!(
                "zxid {zxid:#x} does not follow the last zxid {:#x}",
                self.last_zxid
            )));
        }
        if payload.len() > self.opts.max_payload as usize {
            return Err(StorageError::InvalidArgument(format!(
                "payload of {} bytes exceeds the maximum {}",
                payload.len(),
                self.opts.max_payload
            )));
        }
        let size = record::encoded_len(payload.len()) as u64;
        if self
            .segments
            .last()
            .is_none_or(|s| s.end + size > s.header.file_len)
        {
            self.roll(zxid)?;
        }
        let seg = self.segments.last_mut().expect("rolled above");
        debug_assert_eq!(seg.end, self.flushed + self.pending.len() as u64);
        record::encode(&mut self.pending, zxid, payload);
        seg.index.note(zxid, seg.end);
        seg.first.get_or_insert(zxid);
        seg.last = zxid;
        seg.end += size;
        self.last_zxid = zxid;
        if self.pending.len() >= PENDING_SPILL {
            self.write_pending()?;
        }
        self.prepare_spare();
        Ok(())
    }

    fn read_range_inner(
        &mut self,
        after: Zxid,
        up_to: Zxid,
        max_bytes: usize,
    ) -> Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        if after >= up_to {
            return Ok(out);
        }
        self.write_pending()?;
        let mut bytes = 0usize;
        let start = self.segments.partition_point(|s| s.last <= after);
        for seg in &self.segments[start..] {
            let Some(first) = seg.first else { continue };
            if first > up_to {
                break;
            }
            let from = seg
                .index
                .seek_after(after)
                .expect("non-empty segment is indexed");
            let mut done = false;
            for_each_record(seg, from, |zxid, _, payload| {
                if zxid <= after {
                    return true;
                }
                if zxid > up_to || (!out.is_empty() && bytes >= max_bytes) {
                    done = true;
                    return false;
                }
                bytes += payload.len();
                out.push(LogEntry {
                    zxid,
                    payload: payload.to_vec(),
                });
                true
            })?;
            if done {
                break;
            }
        }
        Ok(out)
    }

    fn truncate_inner(&mut self, zxid: Zxid) -> Result<()> {
        if zxid >= self.last_zxid {
            return Ok(());
        }
        self.sync_active()?;
        // Newest first, each removal durable before the next: a crash leaves a prefix.
        while self
            .segments
            .last()
            .is_some_and(|s| s.first.is_none_or(|f| f > zxid))
        {
            let seg = self.segments.pop().expect("checked");
            fs::remove_file(&seg.path)
                .map_err(|e| StorageError::fatal(format!("remove {}", seg.path.display()), e))?;
            fsutil::sync_dir(&self.dir)?;
        }
        if let Some(seg) = self.segments.last_mut() {
            let from = seg
                .index
                .seek_after(zxid)
                .expect("non-empty segment is indexed");
            let (mut cut, mut kept) = (seg.end, seg.header.prev_zxid);
            for_each_record(seg, from, |z, off, _| {
                if z <= zxid {
                    kept = z;
                    true
                } else {
                    cut = off;
                    false
                }
            })?;
            let fatal = |e| StorageError::fatal(format!("truncate {}", seg.path.display()), e);
            fsutil::write_zeros(&seg.file, cut, seg.end - cut).map_err(fatal)?;
            seg.file.sync_data().map_err(fatal)?;
            seg.end = cut;
            seg.last = kept;
            seg.index.truncate_after(zxid);
            self.flushed = cut;
        }
        self.unsynced = false;
        self.last_zxid = self.segments.last().map_or(Zxid::ZERO, |s| s.last);
        self.durable_zxid = self.last_zxid;
        tracing::info!(dir = %self.dir.display(), %zxid, last_zxid = %self.last_zxid, "log truncated");
        Ok(())
    }

    fn reset_inner(&mut self, base: Zxid) -> Result<()> {
        self.pending.clear();
        // Newest first, each removal durable before the next: a crash leaves a prefix.
        while let Some(seg) = self.segments.pop() {
            fs::remove_file(&seg.path)
                .map_err(|e| StorageError::fatal(format!("remove {}", seg.path.display()), e))?;
            fsutil::sync_dir(&self.dir)?;
        }
        self.flushed = HDR;
        self.unsynced = false;
        self.last_zxid = base;
        self.durable_zxid = base;
        tracing::info!(dir = %self.dir.display(), %base, "log reset after an installed snapshot");
        Ok(())
    }

    fn purge_inner(&mut self, zxid: Zxid) -> Result<()> {
        // Oldest first, each removal durable before the next: a crash leaves a suffix.
        // A segment goes only if the next one holds a durable record: a crash may take every
        // unsynced record, and the log must not come back shorter than what was synced.
        while self.segments.len() > 1
            && self.segments[0].first.is_some()
            && self.segments[0].last <= zxid
            && self.segments[1]
                .first
                .is_some_and(|f| f <= self.durable_zxid)
        {
            let seg = self.segments.remove(0);
            let started = Instant::now();
            fs::remove_file(&seg.path)
                .map_err(|e| StorageError::fatal(format!("remove {}", seg.path.display()), e))?;
            fsutil::sync_dir(&self.dir)?;
            let ms = started.elapsed().as_millis() as u64;
            tracing::info!(file = %seg.path.display(), ms, "purged log segment");
        }
        Ok(())
    }
}

impl TxnLog for FileTxnLog {
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<()> {
        self.check()?;
        let r = self.append_inner(zxid, payload);
        self.guard(r)
    }

    fn sync(&mut self) -> Result<Zxid> {
        self.check()?;
        let r = self.sync_active();
        self.guard(r)?;
        Ok(self.durable_zxid)
    }

    fn durable_zxid(&self) -> Zxid {
        self.durable_zxid
    }

    fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    fn first_zxid(&self) -> Option<Zxid> {
        self.segments.iter().find_map(|s| s.first)
    }

    fn base_zxid(&self) -> Zxid {
        self.segments
            .first()
            .map_or(self.last_zxid, |s| s.header.prev_zxid)
    }

    fn reset(&mut self, base: Zxid) -> Result<()> {
        self.check()?;
        let r = self.reset_inner(base);
        self.guard(r)
    }

    fn read_range(&mut self, after: Zxid, up_to: Zxid, max_bytes: usize) -> Result<Vec<LogEntry>> {
        self.check()?;
        let r = self.read_range_inner(after, up_to, max_bytes);
        self.guard(r)
    }

    fn truncate_after(&mut self, zxid: Zxid) -> Result<()> {
        self.check()?;
        let r = self.truncate_inner(zxid);
        self.guard(r)
    }

    fn purge_through(&mut self, zxid: Zxid) -> Result<()> {
        self.check()?;
        let r = self.purge_inner(zxid);
        self.guard(r)
    }
}

/// Calls `f(zxid, offset, payload)` for each record of `seg` from offset `from` until it
/// returns false, re-verifying checksums (the disk may have changed since recovery).
fn for_each_record(
    seg: &Segment,
    from: u64,
    mut f: impl FnMut(Zxid, u64, &[u8]) -> bool,
) -> Result<()> {
    let corrupt = |off: u64, why: String| StorageError::corrupt(&seg.path, off, why);
    let io = |e| StorageError::io(format!("read {}", seg.path.display()), e);
    let mut buf = Vec::new();
    let mut pos = from;
    while pos < seg.end {
        let want = READ_CHUNK.min((seg.end - pos) as usize);
        buf.resize(want, 0);
        seg.file.read_exact_at(&mut buf, pos).map_err(io)?;
        let mut i = 0usize;
        while let Some((zxid, payload, total)) =
            record::decode_checked(&buf[i..]).map_err(|why| corrupt(pos + i as u64, why))?
        {
            if !f(zxid, pos + i as u64, payload) {
                return Ok(());
            }
            i += total;
        }
        if i == 0 {
            // A record larger than the chunk: read it whole.
            let total = record::peek_len(&buf).unwrap_or(usize::MAX) as u64;
            if total > seg.end - pos {
                return Err(corrupt(pos, "record runs past the end of the log".into()));
            }
            buf.resize(total as usize, 0);
            seg.file.read_exact_at(&mut buf, pos).map_err(io)?;
            let (zxid, payload, _) = record::decode_checked(&buf)
                .map_err(|why| corrupt(pos, why))?
                .ok_or_else(|| corrupt(pos, "record shorter than announced".into()))?;
            if !f(zxid, pos, payload) {
                return Ok(());
            }
            i = total as usize;
        }
        pos += i as u64;
    }
    Ok(())
}
