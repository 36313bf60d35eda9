//! `quorum bench log`: durable append throughput of the transaction log next to the raw
//! fdatasync rate of the same disk, and (with `--recovery`) recovery time of a 1 GiB log and
//! of a snapshot of a million small entries.
//!
//! Everything is written under a fresh sub-directory of `--dir`, removed at the end.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use storage::{FileSnapshotStore, FileTxnLog, LogOptions, Preallocate, SnapshotStore, TxnLog};

/// Arguments of `quorum bench log`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder to write in (a temporary sub-folder is created and removed).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Time spent appending per case, in milliseconds; as much again goes to the raw
    /// fdatasync loop interleaved with it (7 cases).
    #[arg(long, default_value_t = 2000)]
    case_ms: u64,
    /// How segments are preallocated: "zero" (write zeros) or "fallocate".
    #[arg(long, default_value = "zero")]
    preallocate: String,
    /// Instead of the throughput cases, measure recovery of a log of this many MiB and of a
    /// snapshot of `--snapshot-entries` entries (takes minutes).
    #[arg(long)]
    recovery: bool,
    /// Size of the log written for `--recovery`, in MiB.
    #[arg(long, default_value_t = 1024)]
    log_mib: u64,
    /// Entries in the snapshot written for `--recovery`.
    #[arg(long, default_value_t = 1_000_000)]
    snapshot_entries: u64,
    /// With `--recovery`: drop the kernel page cache (needs root) before each read so the
    /// figures are cold-cache disk reads, not memory copies.
    #[arg(long)]
    cold: bool,
}

/// Empties the page cache so the next read comes from the disk (Linux, root only).
fn drop_caches(enabled: bool) -> Result<(), String> {
    if enabled {
        let status = std::process::Command::new("sync")
            .status()
            .map_err(|e| format!("sync: {e}"))?;
        if !status.success() {
            return Err("sync failed".into());
        }
        fs::write("/proc/sys/vm/drop_caches", "1")
            .map_err(|e| format!("--cold needs root to drop the page cache: {e}"))?;
    }
    Ok(())
}

/// Runs the log benchmark.
pub fn run(args: Args) -> Result<(), String> {
    let preallocate = match args.preallocate.as_str() {
        "zero" => Preallocate::ZeroFill,
        "fallocate" => Preallocate::Fallocate,
        other => {
            return Err(format!(
                "--preallocate must be zero or fallocate, not {other}"
            ))
        }
    };
    let work = args
        .dir
        .join(format!("quorum-bench-log.{}", std::process::id()));
    fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    let result = if args.recovery {
        recovery(&work, &args, preallocate)
    } else {
        throughput(&work, &args, preallocate)
    };
    let cleanup = fs::remove_dir_all(&work).map_err(|e| format!("remove {}: {e}", work.display()));
    result.and(cleanup)
}

fn options(preallocate: Preallocate) -> LogOptions {
    LogOptions {
        preallocate,
        ..LogOptions::default()
    }
}

/// A zero-filled file for the raw rate: one small positional write plus fdatasync per
/// durable write, the best any log on this disk can do.
struct RawFile {
    path: PathBuf,
    file: fs::File,
    len: u64,
    off: u64,
}

impl RawFile {
    fn create(dir: &Path) -> Result<RawFile, String> {
        let path = dir.join("raw-fdatasync");
        let err = |e: std::io::Error| format!("raw fdatasync on {}: {e}", path.display());
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(err)?;
        let len = 64u64 << 20;
        let zeros = vec![0u8; 1 << 20];
        for off in (0..len).step_by(zeros.len()) {
            file.write_all_at(&zeros, off).map_err(err)?;
        }
        file.sync_all().map_err(err)?;
        Ok(RawFile {
            path,
            file,
            len,
            off: 0,
        })
    }

    /// Writes and fdatasyncs `buf` repeatedly for `slice`; returns the count.
    fn run(&mut self, buf: &[u8], slice: Duration) -> Result<u64, String> {
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < slice {
            if self.off + buf.len() as u64 > self.len {
                self.off = 0;
            }
            self.file
                .write_all_at(buf, self.off)
                .map_err(|e| format!("raw write: {e}"))?;
            self.file
                .sync_data()
                .map_err(|e| format!("raw fdatasync: {e}"))?;
            self.off += buf.len() as u64;
            n += 1;
        }
        Ok(n)
    }
}

struct Case {
    records_per_sec: f64,
    mb_per_sec: f64,
    syncs_per_sec: f64,
    /// Raw fdatasync rate measured in slices interleaved with this case.
    raw_per_sec: f64,
}

/// Appends `batch` records of `payload` bytes and syncs, over and over, alternating 250 ms
/// slices with the raw fdatasync loop so both see the same disk conditions.
fn log_case(
    dir: &Path,
    raw: &mut RawFile,
    payload: usize,
    batch: usize,
    limit: Duration,
    preallocate: Preallocate,
) -> Result<Case, String> {
    let path = dir.join(format!("log-{payload}-{batch}"));
    let err = |e: storage::StorageError| format!("log bench in {}: {e}", path.display());
    let mut log = FileTxnLog::open(&path, options(preallocate)).map_err(err)?;
    let data = vec![0x42u8; payload];
    let raw_buf = vec![0x5au8; payload + 21];
    let slice = Duration::from_millis(250);
    // Warm-up outside the clock: the first append creates (and zero fills) a segment.
    log.append(storage::Zxid::from_u64(1), &data).map_err(err)?;
    log.sync().map_err(err)?;
    let (mut zxid, mut syncs, mut raw_syncs) = (1u64, 0u64, 0u64);
    let first = zxid;
    let (mut log_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    while log_time < limit {
        let t = Instant::now();
        while t.elapsed() < slice {
            for _ in 0..batch {
                zxid += 1;
                log.append(storage::Zxid::from_u64(zxid), &data)
                    .map_err(err)?;
            }
            let durable = log.sync().map_err(err)?;
            assert_eq!(
                durable,
                storage::Zxid::from_u64(zxid),
                "sync must cover every appended record"
            );
            syncs += 1;
        }
        log_time += t.elapsed();
        let t = Instant::now();
        raw_syncs += raw.run(&raw_buf, slice)?;
        raw_time += t.elapsed();
    }
    let secs = log_time.as_secs_f64();
    drop(log);
    fs::remove_dir_all(&path).map_err(|e| format!("remove {}: {e}", path.display()))?;
    Ok(Case {
        records_per_sec: (zxid - first) as f64 / secs,
        mb_per_sec: ((zxid - first) * payload as u64) as f64 / secs / 1e6,
        syncs_per_sec: syncs as f64 / secs,
        raw_per_sec: raw_syncs as f64 / raw_time.as_secs_f64(),
    })
}

fn throughput(dir: &Path, args: &Args, preallocate: Preallocate) -> Result<(), String> {
    let limit = Duration::from_millis(args.case_ms);
    let total = Instant::now();
    println!(
        "quorum bench log: {} of appends per case, interleaved with as much raw fdatasync; segments preallocated with {:?}",
        fmt_ms(limit),
        preallocate
    );
    println!("raw = write of one encoded record (payload + 21 bytes) + fdatasync into a zero-filled file");
    println!(
        "{:>8} {:>6} {:>12} {:>9} {:>9} {:>11} {:>12}",
        "payload", "batch", "records/s", "MB/s", "syncs/s", "raw syncs/s", "syncs vs raw"
    );
    let mut raw = RawFile::create(dir)?;
    // Batch 4096 shows what group commit reaches when the disk's fdatasync is slow.
    let cases = [
        (100usize, 1usize),
        (100, 16),
        (100, 256),
        (100, 4096),
        (1024, 1),
        (1024, 16),
        (1024, 256),
    ];
    {
        for (payload, batch) in cases {
            let c = log_case(dir, &mut raw, payload, batch, limit, preallocate)?;
            println!(
                "{payload:>8} {batch:>6} {:>12.0} {:>9.1} {:>9.0} {:>11.0} {:>11.0}%",
                c.records_per_sec,
                c.mb_per_sec,
                c.syncs_per_sec,
                c.raw_per_sec,
                100.0 * c.syncs_per_sec / c.raw_per_sec
            );
        }
    }
    fs::remove_file(&raw.path).map_err(|e| format!("remove {}: {e}", raw.path.display()))?;
    println!("total {:.1} s", total.elapsed().as_secs_f64());
    Ok(())
}

fn fmt_ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn recovery(dir: &Path, args: &Args, preallocate: Preallocate) -> Result<(), String> {
    let log_dir = dir.join("log");
    let err = |e: storage::StorageError| format!("recovery bench: {e}");
    let payload = vec![0x17u8; 100];
    let target = args.log_mib << 20;
    let start = Instant::now();
    let mut log = FileTxnLog::open(&log_dir, options(preallocate)).map_err(err)?;
    let mut zxid = 0u64;
    while zxid * 121 < target {
        for _ in 0..4096 {
            zxid += 1;
            log.append(storage::Zxid::from_u64(zxid), &payload)
                .map_err(err)?;
        }
        log.sync().map_err(err)?;
    }
    let segments = log.segment_count();
    drop(log);
    println!(
        "wrote {} MiB log: {zxid} records of 100 bytes in {segments} segments, {:.1} s",
        args.log_mib,
        start.elapsed().as_secs_f64()
    );
    drop_caches(args.cold)?;
    let t = Instant::now();
    let mut log = FileTxnLog::open(&log_dir, options(preallocate)).map_err(err)?;
    let open_secs = t.elapsed().as_secs_f64();
    assert_eq!(log.last_zxid(), storage::Zxid::from_u64(zxid));
    let cache = if args.cold {
        "cold cache"
    } else {
        "warm cache"
    };
    println!("open, validating every record and building the index ({cache}): {open_secs:.2} s");
    drop_caches(args.cold)?;
    let t = Instant::now();
    let (mut after, mut n) = (storage::Zxid::ZERO, 0u64);
    loop {
        let page = log
            .read_range(after, storage::Zxid::MAX, 8 << 20)
            .map_err(err)?;
        let Some(last) = page.last() else { break };
        after = last.zxid;
        n += page.len() as u64;
    }
    assert_eq!(n, zxid);
    println!(
        "read back all {n} records with read_range, 8 MB pages ({cache}): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(log);

    let snap_dir = dir.join("snap");
    let mut snaps = FileSnapshotStore::open(&snap_dir).map_err(err)?;
    let entries = args.snapshot_entries;
    let t = Instant::now();
    snaps
        .save(storage::Zxid::from_u64(zxid), &mut |w| {
            // A small znode each: path, 16 data bytes and a 40-byte stat-like block.
            let mut buf = Vec::with_capacity(96);
            for i in 0..entries {
                buf.clear();
                let path = format!("/app/queue/node-{i:010}");
                buf.extend_from_slice(&(path.len() as u32).to_le_bytes());
                buf.extend_from_slice(path.as_bytes());
                buf.extend_from_slice(&[7u8; 16]);
                buf.extend_from_slice(&i.to_le_bytes());
                buf.extend_from_slice(&[0u8; 32]);
                w.write_all(&buf)?;
            }
            Ok(())
        })
        .map_err(err)?;
    println!(
        "snapshot of {entries} entries saved in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop_caches(args.cold)?;
    let t = Instant::now();
    let mut snaps = FileSnapshotStore::open(&snap_dir).map_err(err)?;
    let snap = snaps
        .load_newest()
        .map_err(err)?
        .ok_or("snapshot missing")?;
    println!(
        "snapshot loaded and verified ({cache}): {} MB in {:.2} s",
        snap.data.len() / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
