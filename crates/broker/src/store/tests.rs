use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use partition::{Batch, BatchHeader, Producer, TopicPartition};
use storage::{FileTxnLog, LogOptions, Preallocate, TxnLog, Zxid};

use super::*;
use crate::batch_codec::encode_batch;

mod model;

/// Small segments, so that a few batches span several of them.
pub(super) fn config(tail_headers: usize) -> StoreConfig {
    StoreConfig {
        fsync: FsyncPolicy::EveryBatch,
        log: LogOptions {
            segment_size: 4096,
            max_payload: 1024,
            preallocate: Preallocate::ZeroFill,
            ..LogOptions::default()
        },
        tail_headers,
    }
}

pub(super) fn batch(base: u64, epoch: u32, records: &[&[u8]], producer: Option<Producer>) -> Batch {
    Batch {
        header: BatchHeader {
            base_offset: base,
            count: records.len() as u32,
            epoch,
            producer,
        },
        records: records.iter().map(|r| r.to_vec()).collect(),
    }
}

fn open(dir: &Path, tail: usize) -> (PartitionStore, Recovered) {
    PartitionStore::open(dir, &config(tail)).unwrap()
}

/// Three batches: [0,2) epoch 1 with a producer, [2,3) epoch 1, [3,6) epoch 4.
fn three() -> Vec<Batch> {
    let p = Some(Producer {
        id: 7,
        first_seq: 0,
    });
    vec![
        batch(0, 1, &[b"needle-one", b"b"], p),
        batch(2, 1, &[b"c"], None),
        batch(3, 4, &[b"d", b"", b"f"], None),
    ]
}

fn fill(store: &mut PartitionStore, batches: &[Batch]) {
    for b in batches {
        store.append(b).unwrap();
    }
    assert_eq!(store.sync().unwrap(), batches.last().unwrap().end_offset());
}

/// Segment files of a log directory, oldest first.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
        .collect();
    out.sort();
    out
}

#[test]
fn batches_round_trip_and_reads_page() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, recovered) = open(tmp.path(), 8);
    assert_eq!(recovered.log_end, 0);
    let batches = three();
    for b in &batches {
        store.append(b).unwrap();
    }
    assert_eq!((store.log_end(), store.durable_end()), (6, 0));
    // Unsynced batches are readable.
    assert_eq!(store.read(0, 6, usize::MAX).unwrap(), batches);
    assert_eq!(store.sync().unwrap(), 6);
    // Mid-batch: the whole batch holding offset 1.
    assert_eq!(store.read(1, 6, usize::MAX).unwrap(), batches);
    assert_eq!(store.read(2, 6, usize::MAX).unwrap(), batches[1..]);
    assert_eq!(store.read(2, 5, usize::MAX).unwrap(), batches[1..2]);
    assert!(store.read(6, 6, usize::MAX).unwrap().is_empty());
    // At least one batch, then stop once max_bytes is reached.
    assert_eq!(store.read(0, 6, 1).unwrap(), batches[..1]);
    let mut from = 0;
    let mut paged = Vec::new();
    while from < 6 {
        let page = store.read(from, 6, 1).unwrap();
        from = page.last().unwrap().end_offset();
        paged.extend(page);
    }
    assert_eq!(paged, batches);
}

#[test]
fn appends_that_do_not_follow_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, _) = open(tmp.path(), 8);
    let gap = batch(1, 1, &[b"x"], None);
    assert!(matches!(
        store.append(&gap),
        Err(StoreError::InvalidArgument(_))
    ));
    let mut miscounted = batch(0, 1, &[b"x"], None);
    miscounted.header.count = 2;
    assert!(matches!(
        store.append(&miscounted),
        Err(StoreError::InvalidArgument(_))
    ));
    assert!(matches!(
        store.append(&batch(0, 1, &[], None)),
        Err(StoreError::InvalidArgument(_))
    ));
    let big = vec![0u8; 2000];
    assert!(store.append(&batch(0, 1, &[&big], None)).is_err());
    assert_eq!(store.log_end(), 0);
}

#[test]
fn reopen_rebuilds_log_end_epochs_and_a_bounded_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = three();
    fill(&mut open(tmp.path(), 8).0, &batches);
    let (mut store, recovered) = open(tmp.path(), 2);
    assert_eq!(recovered.log_end, 6);
    assert_eq!(recovered.epochs.entries(), &[(1, 0), (4, 3)]);
    assert_eq!(recovered.tail, vec![batches[1].header, batches[2].header]);
    assert_eq!((store.log_end(), store.durable_end()), (6, 6));
    assert_eq!(store.read(0, 6, usize::MAX).unwrap(), batches);
    let (_, none) = open(tmp.path(), 0);
    assert!(none.tail.is_empty());
}

#[test]
fn truncate_then_append_then_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = three();
    let (mut store, _) = open(tmp.path(), 8);
    fill(&mut store, &batches);
    // Not a boundary: [0, 2) holds offset 1.
    assert!(matches!(
        store.truncate(1),
        Err(StoreError::InvalidArgument(_))
    ));
    assert_eq!(store.log_end(), 6);
    store.truncate(9).unwrap();
    store.truncate(2).unwrap();
    assert_eq!((store.log_end(), store.durable_end()), (2, 2));
    let next = batch(2, 5, &[b"new"], None);
    store.append(&next).unwrap();
    store.sync().unwrap();
    drop(store);
    let (mut store, recovered) = open(tmp.path(), 8);
    assert_eq!(recovered.log_end, 3);
    assert_eq!(recovered.epochs.entries(), &[(1, 0), (5, 2)]);
    assert_eq!(
        store.read(0, 3, usize::MAX).unwrap(),
        vec![batches[0].clone(), next]
    );
    store.truncate(0).unwrap();
    assert_eq!(store.log_end(), 0);
    drop(store);
    assert_eq!(open(tmp.path(), 8).1.log_end, 0);
}

#[test]
fn a_torn_tail_is_cleared_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = three();
    fill(&mut open(tmp.path(), 8).0, &batches);
    let newest = segments(tmp.path()).pop().unwrap();
    let bytes = fs::read(&newest).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    let file = fs::OpenOptions::new().write(true).open(&newest).unwrap();
    // A record header cut short after the last record: what a crash mid-write leaves.
    file.write_all_at(&[0x5a; 12], end as u64).unwrap();
    let (mut store, recovered) = open(tmp.path(), 8);
    assert_eq!(recovered.log_end, 6);
    store.append(&batch(6, 4, &[b"g"], None)).unwrap();
    store.sync().unwrap();
    drop(store);
    // The last record's end cut off (its marker and payload tail never reached the disk).
    let newest = segments(tmp.path()).pop().unwrap();
    let bytes = fs::read(&newest).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    let file = fs::OpenOptions::new().write(true).open(&newest).unwrap();
    file.write_all_at(&[0; 3], end as u64 - 3).unwrap();
    let (mut store, recovered) = open(tmp.path(), 8);
    assert_eq!(recovered.log_end, 6);
    assert_eq!(store.read(0, 6, usize::MAX).unwrap(), batches);
}

#[test]
fn a_flipped_byte_in_the_middle_refuses_the_open() {
    let tmp = tempfile::tempdir().unwrap();
    fill(&mut open(tmp.path(), 8).0, &three());
    let first = segments(tmp.path()).remove(0);
    let mut bytes = fs::read(&first).unwrap();
    let at = bytes.windows(10).position(|w| w == b"needle-one").unwrap();
    bytes[at + 3] ^= 0x01;
    fs::write(&first, &bytes).unwrap();
    let err = PartitionStore::open(tmp.path(), &config(8)).unwrap_err();
    assert!(err.is_corrupt(), "{err}");
}

/// Writes raw records through the file log, under the store.
fn raw_log(dir: &Path, records: &[(u64, Vec<u8>)]) {
    let mut log = FileTxnLog::open(dir, config(8).log).unwrap();
    for (key, payload) in records {
        log.append(Zxid::from_u64(*key), payload).unwrap();
    }
    log.sync().unwrap();
}

fn encoded(b: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch(&mut out, b);
    out
}

#[test]
fn records_that_are_not_a_partition_log_refuse_the_open() {
    let cases: Vec<Vec<(u64, Vec<u8>)>> = vec![
        // A payload that does not decode.
        vec![(1, b"not a batch".to_vec())],
        // A gap: [0,1) then [2,3).
        vec![
            (1, encoded(&batch(0, 1, &[b"a"], None))),
            (3, encoded(&batch(2, 1, &[b"b"], None))),
        ],
        // A batch stored under a key other than its end.
        vec![(5, encoded(&batch(0, 1, &[b"a"], None)))],
        // Epochs going back.
        vec![
            (1, encoded(&batch(0, 3, &[b"a"], None))),
            (2, encoded(&batch(1, 2, &[b"b"], None))),
        ],
    ];
    for records in cases {
        let tmp = tempfile::tempdir().unwrap();
        raw_log(tmp.path(), &records);
        let err = PartitionStore::open(tmp.path(), &config(8)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }
}

#[test]
fn data_dir_layout() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(list_partitions(tmp.path()).unwrap().is_empty());
    let tps = [
        TopicPartition::new("a-1", 2),
        TopicPartition::new("orders", 0),
        TopicPartition::new("orders", 10),
    ];
    for tp in &tps {
        let dir = partition_dir(tmp.path(), tp).unwrap();
        PartitionStore::open(&dir, &config(8)).unwrap();
    }
    assert_eq!(list_partitions(tmp.path()).unwrap(), tps.to_vec());
    for bad in ["../x", "a/b", ""] {
        assert!(partition_dir(tmp.path(), &TopicPartition::new(bad, 0)).is_err());
    }
    for bad in [
        "orders",
        "orders-",
        "orders-01",
        "orders-+1",
        "-1",
        "a b-1",
        "x-99999999999",
    ] {
        assert_eq!(parse_dir_name(bad), None, "{bad}");
    }
    fs::create_dir(tmp.path().join(PARTITIONS_DIR).join("stray")).unwrap();
    assert!(list_partitions(tmp.path()).is_err());
}

#[test]
fn fsync_policy_names() {
    for p in [FsyncPolicy::EveryBatch, FsyncPolicy::Never] {
        assert_eq!(FsyncPolicy::parse(p.as_str()), Ok(p));
    }
    assert!(FsyncPolicy::parse("always").is_err());
}

#[test]
fn truncation_across_segments_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, _) = open(tmp.path(), 8);
    let record = [7u8; 300];
    let batches: Vec<Batch> = (0..40)
        .map(|i| batch(i * 2, 1 + i as u32 / 10, &[&record, b"x"], None))
        .collect();
    fill(&mut store, &batches);
    let before = segments(tmp.path()).len();
    assert!(before >= 3, "{before} segments");
    store.truncate(20).unwrap();
    assert!(segments(tmp.path()).len() < before);
    drop(store);
    let (mut store, recovered) = open(tmp.path(), 8);
    assert_eq!(recovered.log_end, 20);
    assert_eq!(recovered.epochs.entries(), &[(1, 0)]);
    assert_eq!(store.read(0, 20, usize::MAX).unwrap(), batches[..10]);
}
