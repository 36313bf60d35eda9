//! Crash and corruption tests of the store: every cut of the journal's tail and of the entry
//! log's unsynced tail recovers a prefix that keeps every record before the cut; damage a
//! crash cannot explain, or a missing file, refuses to start.

use super::journal::Journal;
use super::*;

const OPTS: StoreOptions = StoreOptions {
    max_entry_bytes: 1024,
    journal_segment_bytes: 64 << 10,
};

fn records() -> Vec<Record> {
    let mut out = Vec::new();
    for i in 0..12u64 {
        if i == 5 {
            out.push(Record::Fence { ledger: 2 });
        }
        out.push(Record::Entry {
            ledger: 1 + i % 2,
            entry: i / 2,
            lac: (i >= 2).then(|| i / 2 - 1),
            payload: vec![i as u8; (i as usize * 5) % 17],
        });
    }
    out
}

/// Writes `records` through a store and a journal with fsync, checkpointing after the first
/// `checkpoint_after`, and waits until all are durable. The store is dropped without a
/// checkpoint at the end (its entry-log buffer is lost, as in a crash).
fn write(dir: &Path, records: &[Record], checkpoint_after: usize) {
    let Opened { mut store, journal } = Store::open(dir, OPTS).unwrap();
    let first = store.last_seq();
    let mut j = Journal::start(journal, first, true).unwrap();
    for (i, r) in records.iter().enumerate() {
        let seq = first + i as u64 + 1;
        store.apply(seq, r).unwrap();
        let mut b = Vec::new();
        journal_record::encode(&mut b, r);
        j.append(seq, b).unwrap();
        if i + 1 == checkpoint_after {
            let upto = store.checkpoint().unwrap();
            j.purge_through(upto).unwrap();
        }
    }
    j.close();
    assert_eq!(j.state().borrow().durable_seq, first + records.len() as u64);
}

/// What a store opened from `dir` holds, checked against `records`: returns how many of them
/// it has (always a prefix).
fn check_prefix(dir: &Path, records: &[Record]) -> usize {
    let Opened { store, .. } = Store::open(dir, OPTS).unwrap();
    let n = store.last_seq() as usize;
    assert!(n <= records.len());
    let mut fenced = false;
    let mut expected: HashMap<(LedgerId, EntryId), (Option<EntryId>, Vec<u8>)> = HashMap::new();
    for r in &records[..n] {
        match r {
            Record::Entry {
                ledger,
                entry,
                lac,
                payload,
            } => {
                expected.insert((*ledger, *entry), (*lac, payload.clone()));
            }
            Record::Fence { .. } => fenced = true,
        }
    }
    for r in records {
        if let Record::Entry { ledger, entry, .. } = r {
            let got = store.read_entry(*ledger, *entry).unwrap();
            assert_eq!(
                got.as_ref(),
                expected.get(&(*ledger, *entry)),
                "{ledger}/{entry}"
            );
        }
    }
    assert_eq!(store.facts.get(&2).is_some_and(|f| f.fenced), fenced);
    n
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn newest_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = fs::read_dir(dir.join(JOURNAL_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// One past the last non-zero byte.
fn used_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1)
}

#[test]
fn everything_durable_survives_a_restart_and_fences_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let rs = records();
    write(tmp.path(), &rs, 4);
    assert_eq!(check_prefix(tmp.path(), &rs), rs.len());
    // Restart again after a restart: still all there, and new records continue the numbers.
    let more = vec![Record::Fence { ledger: 9 }];
    write(tmp.path(), &more, 1);
    let Opened { store, .. } = Store::open(tmp.path(), OPTS).unwrap();
    assert_eq!(store.last_seq(), rs.len() as u64 + 1);
    assert!(store.facts.get(&9).unwrap().fenced);
    assert!(store.facts.get(&2).unwrap().fenced);
}

#[test]
fn every_cut_of_the_journal_tail_recovers_the_prefix_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let rs = records();
    let base = tmp.path().join("base");
    write(&base, &rs, 3);
    let seg = newest_segment(&base);
    let bytes = fs::read(&seg).unwrap();
    let used = used_len(&bytes);
    let mut last = 0;
    for cut in 64..=used {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&base, &dir);
        let seg = newest_segment(&dir);
        let mut b = bytes.clone();
        b[cut..].fill(0);
        fs::write(&seg, &b).unwrap();
        let n = check_prefix(&dir, &rs);
        // Never fewer than the checkpoint holds, never fewer than a smaller cut kept.
        assert!(n >= 3 && n >= last, "cut {cut}: {n} records after {last}");
        last = n;
        fs::remove_dir_all(&dir).unwrap();
    }
    assert_eq!(last, rs.len());
}

#[test]
fn every_cut_of_the_unsynced_entry_log_tail_is_replayed_from_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let rs = records();
    let base = tmp.path().join("base");
    write(&base, &rs[..6], 6);
    // Write the rest, and get the entry log's tail onto disk as a crash might leave it.
    {
        let Opened { mut store, journal } = Store::open(&base, OPTS).unwrap();
        let mut j = Journal::start(journal, 6, true).unwrap();
        for (i, r) in rs[6..].iter().enumerate() {
            store.apply(7 + i as u64, r).unwrap();
            let mut b = Vec::new();
            journal_record::encode(&mut b, r);
            j.append(7 + i as u64, b).unwrap();
        }
        store.entry_log.write_out().unwrap();
        j.close();
    }
    let ckpt = Checkpoint::load(&base).unwrap().unwrap().entry_log_len as usize;
    let full = fs::read(base.join(ENTRY_LOG)).unwrap();
    assert!(full.len() > ckpt);
    for cut in ckpt..=full.len() {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&base, &dir);
        fs::write(dir.join(ENTRY_LOG), &full[..cut]).unwrap();
        assert_eq!(check_prefix(&dir, &rs), rs.len(), "cut {cut}");
        fs::remove_dir_all(&dir).unwrap();
    }
    // A cut into what the checkpoint says was fsynced is refused.
    fs::write(base.join(ENTRY_LOG), &full[..ckpt - 1]).unwrap();
    let err = Store::open(&base, OPTS).unwrap_err();
    assert!(err.contains("entries are missing"), "{err}");
}

#[test]
fn a_flipped_byte_anywhere_durable_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let rs = records();
    let base = tmp.path().join("base");
    write(&base, &rs, 5);
    let seg = newest_segment(&base);
    let seg_name = seg.strip_prefix(&base).unwrap().to_path_buf();
    let journal_bytes = fs::read(&seg).unwrap();
    let files: Vec<(PathBuf, usize)> = vec![
        (seg_name, used_len(&journal_bytes)),
        (
            PathBuf::from(ENTRY_LOG),
            fs::read(base.join(ENTRY_LOG)).unwrap().len(),
        ),
        (
            PathBuf::from(checkpoint::FILE_NAME),
            fs::read(base.join(checkpoint::FILE_NAME)).unwrap().len(),
        ),
    ];
    for (file, len) in files {
        // Every byte of the entry log and the checkpoint; every 7th of the journal (its record
        // format has its own exhaustive flip tests in the storage crate).
        let step = if file.starts_with(JOURNAL_DIR) { 7 } else { 1 };
        for at in (0..len).step_by(step) {
            let dir = tmp.path().join("flip");
            copy_dir(&base, &dir);
            let mut b = fs::read(dir.join(&file)).unwrap();
            b[at] ^= 0x10;
            fs::write(dir.join(&file), &b).unwrap();
            match Store::open(&dir, OPTS) {
                Err(_) => {}
                // A flip in a journal record the checkpoint already covers is never read:
                // harmless, as long as what is read is right.
                Ok(_) => assert_eq!(check_prefix(&dir, &rs), rs.len(), "{file:?} byte {at}"),
            }
            fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn missing_files_refuse_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let rs = records();
    let base = tmp.path().join("base");
    write(&base, &rs, 5);
    for file in [checkpoint::FILE_NAME, ENTRY_LOG] {
        let dir = tmp.path().join("missing");
        copy_dir(&base, &dir);
        fs::remove_file(dir.join(file)).unwrap();
        let err = Store::open(&dir, OPTS).unwrap_err();
        assert!(err.contains("refusing to start"), "{file}: {err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_second_open_of_one_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Store::open(tmp.path(), OPTS).unwrap();
    let err = Store::open(tmp.path(), OPTS).unwrap_err();
    assert!(err.contains("in use by another process"), "{err}");
    drop(first);
    Store::open(tmp.path(), OPTS).unwrap();
}

#[test]
fn checkpoints_purge_the_journal_and_recovery_still_finds_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_entry_bytes: 256,
        journal_segment_bytes: 2048,
    };
    let rs: Vec<Record> = (0..200u64)
        .map(|i| Record::Entry {
            ledger: 4,
            entry: i,
            lac: i.checked_sub(1),
            payload: vec![i as u8; 100],
        })
        .collect();
    let segments = |dir: &Path| fs::read_dir(dir.join(JOURNAL_DIR)).unwrap().count();
    let mut most = 0;
    {
        let Opened { mut store, journal } = Store::open(tmp.path(), opts).unwrap();
        let mut j = Journal::start(journal, 0, true).unwrap();
        let fence = Record::Fence { ledger: 4 };
        for (i, r) in rs.iter().chain([&fence]).enumerate() {
            let seq = i as u64 + 1;
            store.apply(seq, r).unwrap();
            let mut b = Vec::new();
            journal_record::encode(&mut b, r);
            j.append(seq, b).unwrap();
            if seq == 150 {
                // Wait for the journal to hold everything so far, so the segments are there.
                let state = j.state();
                while state.borrow().durable_seq < 150 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                most = segments(tmp.path());
                let upto = store.checkpoint().unwrap();
                assert_eq!(upto, 150);
                j.purge_through(upto).unwrap();
            }
        }
        j.close();
    }
    assert!(most > 5, "{most} segments");
    assert!(segments(tmp.path()) < most, "purged after the checkpoint");
    let Opened { store, .. } = Store::open(tmp.path(), opts).unwrap();
    assert_eq!(store.last_seq(), 201);
    assert!(store.facts.get(&4).unwrap().fenced);
    for i in 0..200u64 {
        let (lac, payload) = store.read_entry(4, i).unwrap().unwrap();
        assert_eq!((lac, payload), (i.checked_sub(1), vec![i as u8; 100]));
    }
}
