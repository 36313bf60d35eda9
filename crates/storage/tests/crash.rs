//! Crash and damage tests: a log written in many batches is cut (as a crash would) at every
//! byte of its last batch, cut short (as no crash can), and has single bits flipped
//! everywhere. Recovery must return exactly a prefix holding everything that was synced, or
//! a `Corrupt` error — never a silently shorter history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use storage::sim::SimDisk;
use storage::{FileTxnLog, LogOptions, Preallocate, StorageError, TxnLog, Zxid};

const HDR: usize = 64;

fn options() -> LogOptions {
    LogOptions {
        segment_size: 512,
        max_payload: 200,
        preallocate: Preallocate::ZeroFill,
        ..LogOptions::default()
    }
}

/// Writes 14 batches of 1..=4 records; returns (all zxids, zxids synced before the last batch).
fn write_batches<L: TxnLog>(log: &mut L, sync_last: bool) -> (Vec<u64>, usize) {
    let mut zxids = Vec::new();
    let mut durable = 0;
    let mut z = 0u64;
    for batch in 0..14u64 {
        for r in 0..(batch % 4 + 1) {
            z += 1 + (r % 2) * 3;
            let len = ((z * 37) % 60) as usize;
            log.append(Zxid::from_u64(z), &vec![(z as u8) | 1; len])
                .unwrap();
            zxids.push(z);
        }
        if batch < 13 {
            log.sync().unwrap();
            durable = zxids.len();
        } else if sync_last {
            log.sync().unwrap();
        }
    }
    (zxids, durable)
}

/// The segments' images. A preallocated spare (`log.next.tmp`) is no segment: the next
/// opening removes it.
fn snapshot_dir(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "tmp"))
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

fn restore(files: &BTreeMap<PathBuf, Vec<u8>>, which: &[&PathBuf]) {
    for p in which {
        std::fs::write(p, &files[*p]).unwrap();
    }
}

/// Record end offsets (within the file) of a segment image.
fn record_ends(seg: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut pos = HDR;
    while pos + 20 <= seg.len() && seg[pos..pos + 20].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(seg[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 21 + len;
        ends.push(pos);
    }
    ends
}

fn recovered(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut log = FileTxnLog::open(dir, options())?;
    Ok(log
        .read_range(Zxid::ZERO, Zxid::MAX, usize::MAX)?
        .into_iter()
        .map(|e| e.zxid.as_u64())
        .collect())
}

#[test]
fn file_crash_at_every_byte_of_the_last_batch_keeps_a_durable_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::open(dir.path(), options()).unwrap();
    let (zxids, durable) = write_batches(&mut log, true);
    drop(log);
    let files = snapshot_dir(dir.path());
    assert!(
        files.len() >= 3,
        "want several segments, got {}",
        files.len()
    );
    let (newest, image) = files.iter().next_back().unwrap();
    let ends = record_ends(image);
    let earlier: usize = files
        .values()
        .rev()
        .skip(1)
        .map(|f| record_ends(f).len())
        .sum();
    // The unsynced region: from the first record of the last batch in the newest segment.
    let first_unsynced = durable.saturating_sub(earlier);
    let start = if first_unsynced == 0 {
        HDR
    } else {
        ends[first_unsynced - 1]
    };
    let data_end = *ends.last().unwrap();
    for cut in start..=data_end + 1 {
        let mut damaged = image.clone();
        damaged[cut..].fill(0); // what a crash leaves in a preallocated file
        std::fs::write(newest, &damaged).unwrap();
        let got = recovered(dir.path()).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(got, zxids[..earlier + whole].to_vec(), "cut at {cut}");
        assert!(got.len() >= durable, "cut at {cut} lost synced records");
        restore(&files, &[newest]);
    }
}

#[test]
fn file_shortened_anywhere_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::open(dir.path(), options()).unwrap();
    write_batches(&mut log, true);
    drop(log);
    let files = snapshot_dir(dir.path());
    for (path, image) in &files {
        let data_end = *record_ends(image).last().unwrap();
        for cut in (0..=data_end + 1).chain([image.len() - 1]) {
            std::fs::write(path, &image[..cut]).unwrap();
            let err =
                recovered(dir.path()).expect_err("a preallocated segment never shrinks in a crash");
            assert!(err.is_corrupt(), "{err}");
            let msg = err.to_string();
            assert!(
                msg.contains(&path.file_name().unwrap().to_string_lossy().to_string()),
                "{msg}"
            );
            restore(&files, &[path]);
        }
    }
}

#[test]
fn file_every_bit_flip_is_whole_history_or_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::open(dir.path(), options()).unwrap();
    let (zxids, _) = write_batches(&mut log, true);
    drop(log);
    let files = snapshot_dir(dir.path());
    let newest = files.keys().next_back().unwrap().clone();
    let (mut whole, mut corrupt) = (0, 0);
    for (path, image) in &files {
        // Every bit of the header, the records and the first bytes after them; a sample of
        // the zero tail (each flip there costs a torn-tail repair with an fdatasync).
        let dense = ((record_ends(image).last().unwrap() + 32) * 8).min(image.len() * 8);
        for bit in (0..dense).chain((dense..image.len() * 8).step_by(97)) {
            let mut damaged = image.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(path, &damaged).unwrap();
            match recovered(dir.path()) {
                Ok(got) => {
                    assert_eq!(
                        got,
                        zxids,
                        "{} bit {bit}: silently changed history",
                        path.display()
                    );
                    whole += 1;
                }
                Err(e) => {
                    assert!(e.is_corrupt(), "{e}");
                    corrupt += 1;
                }
            }
            restore(&files, &[path, &newest]);
        }
    }
    // Flips in zero tails are harmless; flips in records and headers are caught.
    assert!(whole > 0 && corrupt > 0, "whole {whole}, corrupt {corrupt}");
}

#[test]
fn sim_crash_at_every_byte_of_the_unsynced_batch() {
    let probe = SimDisk::new();
    let mut log = probe.open_log().unwrap();
    let (zxids, durable) = write_batches(&mut log, false);
    let unsynced = probe.unsynced_log_bytes();
    drop(log);
    for kept in 0..=unsynced {
        let disk = SimDisk::new();
        let mut log = disk.open_log().unwrap();
        write_batches(&mut log, false);
        drop(log);
        disk.crash_keeping(kept);
        let mut log = disk.open_log().unwrap();
        let got: Vec<u64> = log
            .read_range(Zxid::ZERO, Zxid::MAX, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|e| e.zxid.as_u64())
            .collect();
        assert!(
            got.len() >= durable && got[..] == zxids[..got.len()],
            "kept {kept}: {got:?}"
        );
        // The log is usable after recovery.
        log.append(Zxid::from_u64(1000), b"after").unwrap();
        log.sync().unwrap();
    }
}

#[test]
fn sim_every_bit_flip_is_whole_history_or_corruption() {
    let probe = SimDisk::new();
    let mut log = probe.open_log().unwrap();
    let (zxids, _) = write_batches(&mut log, true);
    drop(log);
    let bits = {
        // Size of the log in bits: read everything back and add up encoded sizes.
        let mut l = probe.open_log().unwrap();
        l.read_range(Zxid::ZERO, Zxid::MAX, usize::MAX)
            .unwrap()
            .iter()
            .map(|e| (21 + e.payload.len()) * 8)
            .sum::<usize>()
    };
    for bit in 0..bits as u64 {
        let disk = SimDisk::new();
        let mut log = disk.open_log().unwrap();
        write_batches(&mut log, true);
        drop(log);
        disk.flip_log_bit(bit);
        match disk.open_log() {
            Ok(mut l) => {
                let got: Vec<u64> = l
                    .read_range(Zxid::ZERO, Zxid::MAX, usize::MAX)
                    .unwrap()
                    .into_iter()
                    .map(|e| e.zxid.as_u64())
                    .collect();
                assert_eq!(got, zxids, "bit {bit}");
            }
            Err(e) => assert!(e.is_corrupt(), "{e}"),
        }
    }
}

#[test]
fn sim_injected_fsync_failure_is_fatal_and_sticky() {
    let disk = SimDisk::new();
    let mut log = disk.open_log().unwrap();
    log.append(Zxid::from_u64(1), b"a").unwrap();
    log.sync().unwrap();
    log.append(Zxid::from_u64(2), b"b").unwrap();
    disk.fail_next_sync();
    assert!(log.sync().unwrap_err().is_fatal());
    assert!(log.append(Zxid::from_u64(3), b"c").unwrap_err().is_fatal());
    assert!(log.sync().unwrap_err().is_fatal());
    disk.crash_keeping(0);
    let log = disk.open_log().unwrap();
    assert_eq!(log.last_zxid(), Zxid::from_u64(1));
}

#[test]
fn sim_crash_is_driven_by_the_callers_rng() {
    let run = |seed: u64| {
        let disk = SimDisk::new();
        let mut log = disk.open_log().unwrap();
        write_batches(&mut log, false);
        let mut state = seed;
        disk.crash(&mut || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        });
        disk.open_log().unwrap().last_zxid()
    };
    assert_eq!(run(7), run(7));
}
