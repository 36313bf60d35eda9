//! A log's next segment is preallocated while the active one fills, and a roll takes it.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use storage::{FileTxnLog, LogOptions, TxnLog, Zxid};

const SEGMENT_BYTES: u64 = 64 << 10;
const PAYLOAD: [u8; 1000] = [7; 1000];

fn options() -> LogOptions {
    LogOptions {
        segment_size: SEGMENT_BYTES,
        max_payload: 2048,
        preallocate_ahead: true,
        ..LogOptions::default()
    }
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("log.") && !n.ends_with(".tmp"))
        .collect();
    names.sort();
    names
}

/// The spare's inode, once its thread has created it.
fn spare_inode(dir: &Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(meta) = std::fs::metadata(dir.join("log.next.tmp")) {
            return meta.ino();
        }
        assert!(Instant::now() < deadline, "no spare segment was prepared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_roll_takes_the_segment_preallocated_while_the_last_one_filled() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::open(dir.path(), options()).unwrap();
    let mut zxid = 0u64;
    let mut append = |log: &mut FileTxnLog| {
        zxid += 1;
        log.append(Zxid::from_u64(zxid), &PAYLOAD).unwrap();
    };
    // Past half of the first segment, not yet full.
    for _ in 0..40 {
        append(&mut log);
    }
    log.sync().unwrap();
    assert_eq!(segments(dir.path()).len(), 1);
    let spare = spare_inode(dir.path());
    while segments(dir.path()).len() == 1 {
        append(&mut log);
    }
    log.sync().unwrap();
    let second = segments(dir.path())[1].clone();
    let meta = std::fs::metadata(dir.path().join(&second)).unwrap();
    assert_eq!(
        meta.ino(),
        spare,
        "the new segment is the preallocated file"
    );
    assert_eq!(meta.len(), SEGMENT_BYTES);
    let last = log.last_zxid();
    drop(log);
    // A spare left by a stop (this one left none: the new segment is not half full).
    std::fs::write(dir.path().join("log.next.tmp"), b"partly zeroed").unwrap();

    let mut reopened = FileTxnLog::open(dir.path(), options()).unwrap();
    assert_eq!(reopened.last_zxid(), last);
    let read = reopened.read_range(Zxid::ZERO, last, usize::MAX).unwrap();
    assert_eq!(read.len() as u64, last.as_u64());
    assert!(read.iter().all(|e| e.payload == PAYLOAD));
    assert!(
        !dir.path().join("log.next.tmp").exists(),
        "leftovers are removed at opening"
    );
}
