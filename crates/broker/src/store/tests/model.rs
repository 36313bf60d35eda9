//! Random appends, truncations, syncs, flushes and reopens against an in-memory model.

use proptest::prelude::*;

use super::{batch, config};
use crate::store::PartitionStore;
use crate::store::StoreConfig;
use partition::{Batch, EpochCache};

#[derive(Clone, Debug)]
enum Op {
    Append {
        records: Vec<Vec<u8>>,
        bump: u32,
    },
    Sync,
    Flush,
    /// Truncate to the start of the model's batch `pick % len` (or to the end).
    Truncate {
        pick: usize,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..5), 0..2u32)
            .prop_map(|(records, bump)| Op::Append { records, bump }),
        2 => Just(Op::Sync),
        1 => Just(Op::Flush),
        2 => any::<usize>().prop_map(|pick| Op::Truncate { pick }),
        2 => Just(Op::Reopen),
    ]
}

struct Model {
    batches: Vec<Batch>,
    epoch: u32,
    /// What must survive a reopen: synced, or written out by a flush.
    kept: u64,
}

impl Model {
    fn end(&self) -> u64 {
        self.batches.last().map_or(0, Batch::end_offset)
    }

    fn epochs(&self) -> EpochCache {
        let mut cache = EpochCache::default();
        for b in &self.batches {
            cache.assign(b.header.epoch, b.header.base_offset);
        }
        cache
    }

    /// Keeps the batches ending at or before `end` (which must be a boundary).
    fn cut(&mut self, end: u64) {
        self.batches.retain(|b| b.end_offset() <= end);
        assert_eq!(self.end(), end, "not a boundary");
    }
}

const TAIL: usize = 3;

/// Segments of about ten batches, so that runs cross several.
fn small() -> StoreConfig {
    let mut c = config(TAIL);
    c.log.segment_size = 1536;
    c
}

fn step(dir: &std::path::Path, mut store: PartitionStore, m: &mut Model, op: Op) -> PartitionStore {
    match op {
        Op::Append { records, bump } => {
            m.epoch += bump;
            let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let b = batch(m.end(), m.epoch, &refs, None);
            store.append(&b).unwrap();
            m.batches.push(b);
        }
        Op::Sync => {
            m.kept = store.sync().unwrap();
            assert_eq!(m.kept, m.end());
        }
        Op::Flush => {
            store.flush().unwrap();
            m.kept = m.end();
        }
        Op::Truncate { pick } => {
            let to = match m.batches.len() {
                0 => 0,
                n => m
                    .batches
                    .get(pick % (n + 1))
                    .map_or(m.end(), |b| b.header.base_offset),
            };
            store.truncate(to).unwrap();
            m.cut(to);
            m.kept = m.kept.min(to).max(store.durable_end());
        }
        Op::Reopen => store = reopen(dir, store, m),
    }
    assert_eq!(store.log_end(), m.end());
    assert!(store.durable_end() <= m.end());
    store
}

/// Drops the store (unsynced, unflushed batches may go) and checks what comes back.
fn reopen(dir: &std::path::Path, store: PartitionStore, m: &mut Model) -> PartitionStore {
    let kept = m.kept.max(store.durable_end());
    drop(store);
    let (mut store, recovered) = PartitionStore::open(dir, &small()).unwrap();
    assert!(recovered.log_end >= kept && recovered.log_end <= m.end());
    m.cut(recovered.log_end);
    m.kept = recovered.log_end;
    assert_eq!(recovered.epochs, m.epochs());
    let tail: Vec<_> = m
        .batches
        .iter()
        .rev()
        .take(TAIL)
        .rev()
        .map(|b| b.header)
        .collect();
    assert_eq!(recovered.tail, tail);
    assert_eq!(store.read(0, m.end(), usize::MAX).unwrap(), m.batches);
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_store_behaves_like_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let tmp = tempfile::tempdir().unwrap();
        let (mut store, _) = PartitionStore::open(tmp.path(), &small()).unwrap();
        let mut m = Model { batches: Vec::new(), epoch: 0, kept: 0 };
        for op in ops {
            store = step(tmp.path(), store, &mut m, op);
        }
        reopen(tmp.path(), store, &mut m);
    }
}
