//! Per-file disk bytes of real server folders: a Quorum log written by the storage crate, and a
//! ZooKeeper 3.8 log written by ZooKeeper itself (the fixture: 59 transactions of a small create
//! and set run, the 64 MiB preallocated file cut after 16 KiB of its zero tail).

use std::path::{Path, PathBuf};

use bench::disk_usage::{DiskUsage, FileKind};
use storage::{FileTxnLog, LogOptions, TxnLog, Zxid};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/zookeeper-3.8-data")
}

/// The end of a ZooKeeper log by its own framing: a 16-byte file header, then records of a
/// checksum (8), a length (4), the transaction and an end-of-record byte 'B', until a zero
/// length.
fn zookeeper_log_end(bytes: &[u8]) -> (usize, usize) {
    assert_eq!(&bytes[0..4], b"ZKLG", "ZooKeeper's log magic");
    let (mut pos, mut records) = (16, 0);
    loop {
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        if len == 0 {
            return (pos, records);
        }
        assert_eq!(bytes[pos + 12 + len], b'B', "end of record at {pos}");
        pos += 13 + len;
        records += 1;
    }
}

#[test]
fn a_zookeeper_log_counts_to_its_last_record() {
    let usage = DiskUsage::measure(&[fixture()]).unwrap();
    let log = usage
        .files
        .iter()
        .find(|f| f.kind == FileKind::Log)
        .unwrap();
    let bytes = std::fs::read(&log.path).unwrap();
    let (end, records) = zookeeper_log_end(&bytes);
    assert_eq!(records, 59);
    assert_eq!(log.bytes, end as u64);
    assert_eq!(usage.log_bytes, end as u64);
    assert_eq!(usage.snapshot_bytes, 457);
    assert_eq!(usage.files.len(), 2);
}

#[test]
fn a_quorum_log_counts_its_header_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::open(dir.path(), LogOptions::default()).unwrap();
    let dirs = [dir.path().to_path_buf()];
    let empty = DiskUsage::measure(&dirs).unwrap();
    let mut payload_bytes = 0;
    for i in 1..=50u32 {
        let payload = vec![i as u8; 10 + i as usize];
        payload_bytes += payload.len();
        log.append(Zxid::new(1, i), &payload).unwrap();
    }
    log.sync().unwrap();
    let usage = DiskUsage::measure(&dirs).unwrap();
    let growth = usage.growth_since(&empty);
    let records = (payload_bytes + 50 * storage::RECORD_OVERHEAD) as u64;
    // A new segment is counted from its header on; an existing one by what was appended.
    let segment_header = 64;
    let new_segment = empty.files.iter().all(|f| f.kind != FileKind::Log);
    let expected = records + if new_segment { segment_header } else { 0 };
    assert_eq!(growth.log_bytes, expected, "{usage:?}");
    let seg = usage
        .files
        .iter()
        .find(|f| f.kind == FileKind::Log)
        .unwrap();
    assert!(seg.allocated_bytes >= seg.bytes, "preallocated: {seg:?}");
}
