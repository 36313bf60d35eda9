//! One suite, two implementations: every test runs against the file stores and the
//! simulated ones.

mod common;

use common::{FileHarness, Harness, SimHarness};
use proptest::prelude::*;
use storage::Zxid;
use storage::{purge, EpochStore, Epochs, LogEntry, SnapshotStore, TxnLog};

/// The tests speak of zxids as plain numbers; the log takes and gives [`Zxid`]s.
fn zxid(epoch: u32, counter: u32) -> u64 {
    Zxid::new(epoch, counter).as_u64()
}

fn zx(packed: u64) -> Zxid {
    Zxid::from_u64(packed)
}

fn payload(z: u64) -> Vec<u8> {
    let n = (z % 97) as usize;
    (0..n).map(|i| (z as usize * 31 + i) as u8).collect()
}

fn all<L: TxnLog>(log: &mut L) -> Vec<u64> {
    log.read_range(zx(0), zx(u64::MAX), usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| e.zxid.as_u64())
        .collect()
}

fn empty_log<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    assert_eq!(
        (
            log.last_zxid().as_u64(),
            log.durable_zxid().as_u64(),
            log.first_zxid().map(Zxid::as_u64)
        ),
        (0, 0, None)
    );
    assert_eq!(log.sync().unwrap().as_u64(), 0);
    assert!(log.read_range(zx(0), zx(10), 100).unwrap().is_empty());
    drop(log);
    assert_eq!(h.log().last_zxid().as_u64(), 0);
}

fn append_sync_reopen<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    for c in 1..=100 {
        log.append(zx(zxid(1, c)), &payload(zxid(1, c))).unwrap();
    }
    // Rolling a segment syncs the old one, so some records may already be durable.
    assert!(log.durable_zxid().as_u64() < zxid(1, 100));
    assert_eq!(log.last_zxid().as_u64(), zxid(1, 100));
    assert_eq!(log.sync().unwrap().as_u64(), zxid(1, 100));
    log.append(zx(zxid(2, 1)), b"x").unwrap();
    assert_eq!(log.sync().unwrap().as_u64(), zxid(2, 1));
    drop(log);
    let mut log = h.log();
    assert_eq!(log.last_zxid().as_u64(), zxid(2, 1));
    assert_eq!(log.durable_zxid().as_u64(), zxid(2, 1));
    assert_eq!(log.first_zxid().map(Zxid::as_u64), Some(zxid(1, 1)));
    let entries = log.read_range(zx(0), zx(u64::MAX), usize::MAX).unwrap();
    assert_eq!(entries.len(), 101);
    for e in &entries[..100] {
        assert_eq!(e.payload, payload(e.zxid.as_u64()));
    }
    assert_eq!(
        entries[100],
        LogEntry {
            zxid: zx(zxid(2, 1)),
            payload: b"x".to_vec()
        }
    );
}

fn unsynced_lost_on_crash<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    for c in 1..=10 {
        log.append(zx(zxid(1, c)), b"durable").unwrap();
    }
    log.sync().unwrap();
    for c in 11..=20 {
        log.append(zx(zxid(1, c)), b"lost").unwrap();
    }
    drop(log);
    h.crash();
    let mut log = h.log();
    assert_eq!(log.last_zxid().as_u64(), zxid(1, 10));
    assert_eq!(all(&mut log).len(), 10);
    // The log continues after recovery.
    log.append(zx(zxid(1, 11)), b"again").unwrap();
    log.sync().unwrap();
    drop(log);
    assert_eq!(h.log().last_zxid().as_u64(), zxid(1, 11));
}

fn rejects_bad_arguments<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    log.append(zx(5), b"a").unwrap();
    assert!(matches!(
        log.append(zx(5), b"b"),
        Err(storage::StorageError::InvalidArgument(_))
    ));
    assert!(matches!(
        log.append(zx(4), b"b"),
        Err(storage::StorageError::InvalidArgument(_))
    ));
    log.append(zx(6), b"c").unwrap();
    assert_eq!(log.sync().unwrap().as_u64(), 6);
}

fn read_range_bounds_and_paging<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    for z in (10..=200).step_by(10) {
        log.append(zx(z), &[7u8; 10]).unwrap();
    }
    log.sync().unwrap();
    let z = |v: Vec<LogEntry>| v.into_iter().map(|e| e.zxid.as_u64()).collect::<Vec<_>>();
    assert_eq!(
        z(log.read_range(zx(35), zx(70), usize::MAX).unwrap()),
        vec![40, 50, 60, 70]
    );
    assert_eq!(
        z(log.read_range(zx(40), zx(40), usize::MAX).unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        z(log.read_range(zx(200), zx(300), usize::MAX).unwrap()),
        Vec::<u64>::new()
    );
    assert_eq!(
        z(log.read_range(zx(0), zx(25), usize::MAX).unwrap()),
        vec![10, 20]
    );
    // Paging: 25 bytes -> three 10-byte payloads (stop once >= 25).
    assert_eq!(
        z(log.read_range(zx(0), zx(u64::MAX), 25).unwrap()),
        vec![10, 20, 30]
    );
    assert_eq!(z(log.read_range(zx(0), zx(u64::MAX), 0).unwrap()), vec![10]);
    // Unsynced records are readable too.
    log.append(zx(210), b"p").unwrap();
    assert_eq!(z(log.read_range(zx(200), zx(300), 100).unwrap()), vec![210]);
}

fn truncate_is_durable<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    for z in 1..=60 {
        log.append(zx(z), &payload(z)).unwrap();
    }
    log.sync().unwrap();
    log.append(zx(61), b"pending").unwrap();
    log.truncate_after(zx(100)).unwrap(); // no-op
    assert_eq!(log.last_zxid().as_u64(), 61);
    log.truncate_after(zx(25)).unwrap();
    assert_eq!(
        (log.last_zxid().as_u64(), log.durable_zxid().as_u64()),
        (25, 25)
    );
    assert_eq!(all(&mut log), (1..=25).collect::<Vec<_>>());
    drop(log);
    h.crash();
    let mut log = h.log();
    assert_eq!(log.last_zxid().as_u64(), 25);
    log.append(zx(26), b"new 26").unwrap();
    log.sync().unwrap();
    drop(log);
    let mut log = h.log();
    let e = log.read_range(zx(25), zx(26), usize::MAX).unwrap();
    assert_eq!(
        e,
        vec![LogEntry {
            zxid: zx(26),
            payload: b"new 26".to_vec()
        }]
    );
    log.truncate_after(zx(0)).unwrap();
    assert_eq!(
        (log.last_zxid().as_u64(), log.first_zxid().map(Zxid::as_u64)),
        (0, None)
    );
    drop(log);
    let mut log = h.log();
    assert_eq!(log.last_zxid().as_u64(), 0);
    log.append(zx(1), b"fresh").unwrap();
    log.sync().unwrap();
}

fn purge_keeps_what_is_needed<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    for z in 1..=300 {
        log.append(zx(z), &payload(z)).unwrap();
    }
    log.sync().unwrap();
    log.purge_through(zx(150)).unwrap();
    let first = log.first_zxid().map(Zxid::as_u64).unwrap();
    assert!(
        first <= 151,
        "purged a record above the purge point: first is {first}"
    );
    assert_eq!(all(&mut log), (first..=300).collect::<Vec<_>>());
    log.purge_through(zx(u64::MAX)).unwrap();
    assert_eq!(log.last_zxid().as_u64(), 300);
    assert!(all(&mut log).contains(&300));
    drop(log);
    let mut log = h.log();
    assert_eq!(log.last_zxid().as_u64(), 300);
    let f = log.first_zxid().map(Zxid::as_u64).unwrap();
    assert_eq!(all(&mut log), (f..=300).collect::<Vec<_>>());
}

/// The log says what it continues after: 0 from the start, the last purged record after a
/// purge, the given base after a reset; kept across a reopen.
fn base_follows_purges_and_resets<H: Harness>() {
    let mut h = H::new();
    let mut log = h.log();
    assert_eq!(log.base_zxid().as_u64(), 0);
    for z in 1..=300 {
        log.append(zx(z), &payload(z)).unwrap();
    }
    log.sync().unwrap();
    assert_eq!(log.base_zxid().as_u64(), 0);
    log.purge_through(zx(150)).unwrap();
    let first = log.first_zxid().map(Zxid::as_u64).unwrap();
    assert_eq!(
        log.base_zxid().as_u64(),
        first - 1,
        "the record before the first kept"
    );
    drop(log);
    let mut log = h.log();
    assert_eq!(log.base_zxid().as_u64(), first - 1, "after a reopen");
    log.reset(zx(1000)).unwrap();
    assert_eq!(
        (
            log.base_zxid().as_u64(),
            log.last_zxid().as_u64(),
            log.first_zxid().map(Zxid::as_u64)
        ),
        (1000, 1000, None)
    );
    assert!(
        log.append(zx(999), b"old").is_err(),
        "the next record follows the base"
    );
    log.append(zx(1001), b"a").unwrap();
    log.append(zx(1002), b"b").unwrap();
    log.sync().unwrap();
    drop(log);
    let mut log = h.log();
    assert_eq!(log.base_zxid().as_u64(), 1000);
    assert_eq!(all(&mut log), [1001, 1002]);
}

fn save<S: SnapshotStore>(s: &mut S, zxid: u64, data: &[u8]) {
    s.save(zx(zxid), &mut |w| w.write_all(data)).unwrap();
}

fn snapshots_newest_and_fallback<H: Harness>() {
    let mut h = H::new();
    let mut s = h.snaps();
    assert_eq!(s.load_newest().unwrap(), None);
    save(
        &mut s,
        10,
        b"state at ten, long enough to be damaged somewhere in the data",
    );
    save(
        &mut s,
        20,
        b"state at twenty, long enough to be damaged somewhere in the data",
    );
    save(
        &mut s,
        30,
        b"state at thirty, long enough to be damaged somewhere in the data",
    );
    assert_eq!(
        s.list()
            .unwrap()
            .into_iter()
            .map(Zxid::as_u64)
            .collect::<Vec<_>>(),
        vec![10, 20, 30]
    );
    let newest = s.load_newest().unwrap().unwrap();
    assert_eq!(newest.zxid.as_u64(), 30);
    assert!(newest.data.starts_with(b"state at thirty"));
    drop(s);
    h.damage_snapshot(zx(30));
    let mut s = h.snaps();
    let fallback = s.load_newest().unwrap().unwrap();
    assert_eq!(fallback.zxid.as_u64(), 20);
    assert!(fallback.data.starts_with(b"state at twenty"));
    drop(s);
    h.damage_snapshot(zx(20));
    h.damage_snapshot(zx(10));
    let err = h.snaps().load_newest().unwrap_err();
    assert!(err.is_corrupt(), "{err}");
}

/// Snapshot 7 is over a MiB: streamed in, read back whole, and its damage found.
fn snapshot_streaming_and_empty<H: Harness>() {
    let mut h = H::new();
    let mut s = h.snaps();
    s.save(zx(7), &mut |w| {
        for i in 0..300_000u32 {
            w.write_all(&i.to_le_bytes())?;
        }
        Ok(())
    })
    .unwrap();
    save(&mut s, 8, b"");
    assert_eq!(s.load_newest().unwrap().unwrap().data, &b""[..]);
    s.purge(2).unwrap();
    drop(s);
    h.damage_snapshot(zx(8));
    let snap = h.snaps().load_newest().unwrap().unwrap();
    assert_eq!(snap.zxid.as_u64(), 7);
    assert_eq!(snap.data.len(), 1_200_000);
    assert_eq!(&snap.data[4..8], &1u32.to_le_bytes());
    assert_eq!(&snap.data[1_199_996..], &299_999u32.to_le_bytes());
    drop(snap);
    h.damage_snapshot(zx(7));
    let err = h.snaps().load_newest().unwrap_err();
    assert!(err.is_corrupt(), "{err}");
}

fn failed_serializer_leaves_nothing<H: Harness>() {
    let mut h = H::new();
    let mut s = h.snaps();
    save(&mut s, 5, b"good");
    let r = s.save(zx(9), &mut |w| {
        w.write_all(b"half")?;
        Err(std::io::Error::other("serializer failed"))
    });
    assert!(r.is_err());
    assert_eq!(
        s.list()
            .unwrap()
            .into_iter()
            .map(Zxid::as_u64)
            .collect::<Vec<_>>(),
        vec![5]
    );
    assert_eq!(s.load_newest().unwrap().unwrap().zxid.as_u64(), 5);
}

fn retention<H: Harness>() {
    let mut h = H::new();
    let mut s = h.snaps();
    let mut log = h.log();
    for z in 1..=400 {
        log.append(zx(z), &payload(z)).unwrap();
        if z % 100 == 0 {
            log.sync().unwrap();
            save(&mut s, z, format!("snap {z}").as_bytes());
        }
    }
    purge(&mut s, &mut log, 2).unwrap();
    assert_eq!(
        s.list()
            .unwrap()
            .into_iter()
            .map(Zxid::as_u64)
            .collect::<Vec<_>>(),
        vec![300, 400]
    );
    let first = log.first_zxid().map(Zxid::as_u64).unwrap();
    assert!(
        first <= 301,
        "records needed to replay from snapshot 300 were purged (first {first})"
    );
    assert_eq!(s.purge(1).unwrap(), Some(zx(400)));
}

fn epochs<H: Harness>() {
    let mut h = H::new();
    let mut e = h.epochs();
    assert_eq!(e.load().unwrap(), Epochs::default());
    e.store_accepted_epoch(3, 2).unwrap();
    assert_eq!(
        e.load().unwrap(),
        Epochs {
            accepted_epoch: 3,
            accepted_leader: 2,
            current_epoch: 0
        }
    );
    e.store_current_epoch(3).unwrap();
    e.store_accepted_epoch(4, 1).unwrap();
    drop(e);
    h.crash();
    let mut e = h.epochs();
    assert_eq!(
        e.load().unwrap(),
        Epochs {
            accepted_epoch: 4,
            accepted_leader: 1,
            current_epoch: 3
        }
    );
    drop(e);
    h.damage_accepted_epoch();
    let err = h.epochs().load().unwrap_err();
    assert!(
        err.is_corrupt(),
        "a damaged epoch must not load as 0: {err}"
    );
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod file { $( #[test] fn $name() { super::$name::<super::FileHarness>(); } )* }
        mod sim { $( #[test] fn $name() { super::$name::<super::SimHarness>(); } )* }
    };
}

suite!(
    empty_log,
    base_follows_purges_and_resets,
    append_sync_reopen,
    unsynced_lost_on_crash,
    rejects_bad_arguments,
    read_range_bounds_and_paging,
    truncate_is_durable,
    purge_keeps_what_is_needed,
    snapshots_newest_and_fallback,
    snapshot_streaming_and_empty,
    failed_serializer_leaves_nothing,
    retention,
    epochs
);

#[derive(Debug, Clone)]
enum Op {
    Append { gap: u64, len: usize },
    Sync,
    Truncate { back: usize },
    Reopen,
    Crash,
    Purge { back: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u64..3, 0usize..200).prop_map(|(gap, len)| Op::Append { gap, len }),
        3 => Just(Op::Sync),
        1 => (0usize..20).prop_map(|back| Op::Truncate { back }),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => (0usize..40).prop_map(|back| Op::Purge { back }),
    ]
}

/// Runs `ops` against a model: the records appended (and whether durable).
fn model_check<H: Harness>(ops: &[Op]) {
    let mut h = H::new();
    let mut log = h.log();
    // The model: all records, and how many of them are durable.
    let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut durable = 0usize;
    let mut first = 0usize; // index in the model of the first readable record
    let mut next = 1u64;
    for op in ops {
        match *op {
            Op::Append { gap, len } => {
                let z = model.last().map_or(0, |r| r.0) + gap;
                let z = z.max(next);
                next = z + 1;
                let p: Vec<u8> = (0..len).map(|i| (z as usize ^ i) as u8).collect();
                log.append(zx(z), &p).unwrap();
                model.push((z, p));
            }
            Op::Sync => {
                let d = log.sync().unwrap().as_u64();
                durable = model.len();
                assert_eq!(d, model.last().map_or(0, |r| r.0));
            }
            Op::Truncate { back } => {
                // Keep at least the first readable record: truncating below the log's start
                // empties it, which the dedicated test covers.
                let floor = if first > 0 { first + 1 } else { 0 };
                let keep = model.len().saturating_sub(back).max(floor);
                if keep < model.len() {
                    let z = if keep == 0 { 0 } else { model[keep - 1].0 };
                    log.truncate_after(zx(z)).unwrap();
                    model.truncate(keep);
                    durable = keep;
                }
            }
            Op::Reopen => {
                log.sync().unwrap();
                durable = model.len();
                drop(log);
                log = h.log();
            }
            Op::Crash => {
                drop(log);
                h.crash();
                log = h.log();
                // Everything synced survives; unsynced records may survive, as a prefix.
                let last = log.last_zxid().as_u64();
                let kept = model.iter().position(|r| r.0 == last).map_or(0, |i| i + 1);
                assert!(
                    last == 0 || kept > 0,
                    "recovered zxid {last} was never appended"
                );
                assert!(
                    kept >= durable,
                    "crash lost synced records: kept {kept} of {durable}"
                );
                model.truncate(kept);
                durable = kept;
            }
            Op::Purge { back } => {
                if durable > first {
                    let i = durable.saturating_sub(back + 1).max(first);
                    let z = model[i].0;
                    log.purge_through(zx(z)).unwrap();
                    let f = log.first_zxid().map(Zxid::as_u64).unwrap();
                    assert!(
                        f <= model[i + 1..].first().map_or(z, |r| r.0),
                        "purged above {z}"
                    );
                }
            }
        }
        // Invariants after every step.
        let last = model.last().map_or(0, |r| r.0);
        assert_eq!(log.last_zxid().as_u64(), last, "after {op:?}");
        let got = log.read_range(zx(0), zx(u64::MAX), usize::MAX).unwrap();
        let got_first = got.first().map(|e| e.zxid.as_u64());
        assert_eq!(log.first_zxid().map(Zxid::as_u64), got_first);
        assert!(
            got_first.is_none_or(|f| log.base_zxid().as_u64() < f),
            "base {} not before the first record {got_first:?} after {op:?}",
            log.base_zxid().as_u64()
        );
        // What is readable is a suffix of the model that ends at its last record and never
        // brings back purged records.
        assert!(got.len() <= model.len());
        let start = model.len() - got.len();
        assert!(
            start >= first || model.is_empty(),
            "purged records came back after {op:?}"
        );
        first = start;
        for (e, m) in got.iter().zip(&model[start..]) {
            assert_eq!((e.zxid.as_u64(), &e.payload), (m.0, &m.1), "after {op:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn file_log_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        model_check::<FileHarness>(&ops);
    }

    #[test]
    fn sim_log_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        model_check::<SimHarness>(&ops);
    }
}
