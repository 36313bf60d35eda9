//! Property tests: random pipelined request sequences through prep and apply, checking that
//! prep's view agrees with apply, that the incremental digest is the digest, that replaying
//! the log on another replica gives the same tree, and that snapshots round-trip.

mod common;

use bytes::Bytes;
use common::{create_req, Leader};
use proptest::prelude::*;
use proto::{
    Acl, CheckVersionRequest, DeleteRequest, MultiOp, Request, SetAclRequest, SetDataRequest,
};
use tree::{DataTree, Txn, TxnRecord};

const PATHS: &[&str] = &["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/c"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, i32, u8),
    Container(usize),
    Delete(usize, i32),
    Set(usize, u8, i32),
    SetAcl(usize, bool, i32),
    Check(usize, i32),
    Multi(Vec<Op>),
    Open,
    Close,
}

fn leaf() -> impl Strategy<Value = Op> {
    let p = 0..PATHS.len();
    let v = prop_oneof![Just(-1), 0..3i32];
    prop_oneof![
        4 => (p.clone(), 0..4i32, any::<u8>()).prop_map(|(p, f, d)| Op::Create(p, f, d)),
        1 => p.clone().prop_map(Op::Container),
        2 => (p.clone(), v.clone()).prop_map(|(p, v)| Op::Delete(p, v)),
        3 => (p.clone(), any::<u8>(), v.clone()).prop_map(|(p, d, v)| Op::Set(p, d, v)),
        1 => (p.clone(), any::<bool>(), v.clone()).prop_map(|(p, o, v)| Op::SetAcl(p, o, v)),
        1 => (p, v).prop_map(|(p, v)| Op::Check(p, v)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => leaf(),
        2 => prop::collection::vec(
            leaf().prop_filter("no setACL in multi", |o| !matches!(o, Op::SetAcl(..))),
            0..4
        )
        .prop_map(Op::Multi),
        1 => Just(Op::Open),
        1 => Just(Op::Close),
    ]
}

fn data(d: u8) -> Option<Bytes> {
    (d != 0).then(|| Bytes::from(vec![d; (d % 7) as usize]))
}

fn multi_op(op: &Op) -> MultiOp {
    match op {
        Op::Create(p, f, d) => {
            let mut r = create_req(PATHS[*p], "", *f);
            r.data = data(*d);
            MultiOp::Create2(r)
        }
        Op::Container(p) => MultiOp::CreateContainer(create_req(PATHS[*p], "", 4)),
        Op::Delete(p, v) => MultiOp::Delete(DeleteRequest {
            path: PATHS[*p].into(),
            version: *v,
        }),
        Op::Set(p, d, v) => MultiOp::SetData(SetDataRequest {
            path: PATHS[*p].into(),
            data: data(*d),
            version: *v,
        }),
        Op::Check(p, v) | Op::SetAcl(p, _, v) => MultiOp::Check(CheckVersionRequest {
            path: PATHS[*p].into(),
            version: *v,
        }),
        _ => unreachable!("leaf ops only"),
    }
}

fn request(op: &Op) -> Request {
    match op {
        Op::Create(p, f, d) => {
            let mut r = create_req(PATHS[*p], "", *f);
            r.data = data(*d);
            Request::Create(r)
        }
        Op::Container(p) => Request::CreateContainer(create_req(PATHS[*p], "", 4)),
        Op::Delete(p, v) => Request::Delete(DeleteRequest {
            path: PATHS[*p].into(),
            version: *v,
        }),
        Op::Set(p, d, v) => Request::SetData(SetDataRequest {
            path: PATHS[*p].into(),
            data: data(*d),
            version: *v,
        }),
        Op::SetAcl(p, open, v) => Request::SetAcl(SetAclRequest {
            path: PATHS[*p].into(),
            acl: if *open {
                Acl::open_unsafe()
            } else {
                Acl::read_unsafe()
            },
            version: *v,
        }),
        Op::Check(p, v) => Request::Check(CheckVersionRequest {
            path: PATHS[*p].into(),
            version: *v,
        }),
        Op::Multi(ops) => Request::Multi(ops.iter().map(multi_op).collect()),
        Op::Open | Op::Close => unreachable!("session ops are handled apart"),
    }
}

/// A multi that prep already failed: every op is an error.
fn is_failed(txn: &Txn) -> bool {
    match txn {
        Txn::Error(_) => true,
        Txn::Multi(ops) => ops.iter().any(|t| matches!(t, Txn::Error(_))),
        _ => false,
    }
}

fn run(steps: Vec<(u8, Op, bool)>, freeze_at: usize) -> Result<(), TestCaseError> {
    let mut l = Leader::new();
    for s in 1..=3 {
        l.open(s);
    }
    let mut pending: Vec<TxnRecord> = Vec::new();
    for (session, op, flush) in steps {
        let session = (session % 3 + 1) as i64;
        let record = match op {
            Op::Open => {
                l.zxid += 1;
                let txn = tree::prep_create_session(
                    &mut l.out,
                    session,
                    5_000,
                    tree::Zxid::from_i64(l.zxid),
                );
                TxnRecord::new(
                    tree::TxnHeader {
                        zxid: tree::Zxid::from_i64(l.zxid),
                        time_ms: l.time,
                        session_id: session,
                        cxid: 0,
                    },
                    txn,
                )
            }
            Op::Close => {
                l.zxid += 1;
                let txn = tree::prep_close_session(
                    &l.tree,
                    &mut l.out,
                    session,
                    tree::Zxid::from_i64(l.zxid),
                );
                TxnRecord::new(
                    tree::TxnHeader {
                        zxid: tree::Zxid::from_i64(l.zxid),
                        time_ms: l.time,
                        session_id: session,
                        cxid: 0,
                    },
                    txn,
                )
            }
            ref other => l.prep(session, &[], &request(other)),
        };
        pending.push(record);
        if flush {
            for r in pending.drain(..) {
                let failed = is_failed(&r.txn);
                let result = l.apply(r.clone());
                if !failed {
                    prop_assert_eq!(
                        result.outcome.err(),
                        proto::ErrorCode::Ok,
                        "prep said ok, apply failed: {:?}",
                        r
                    );
                }
            }
            prop_assert!(l.out.is_empty());
            prop_assert_eq!(l.tree.digest(), l.tree.compute_digest());
        }
    }
    for r in pending.drain(..) {
        l.apply(r);
    }
    prop_assert!(l.out.is_empty());
    prop_assert_eq!(l.tree.digest(), l.tree.compute_digest());

    // Another replica applying the same log reaches the same state.
    let mut replica = DataTree::new();
    for r in &l.log {
        replica.apply(r);
    }
    prop_assert_eq!(replica.digest(), l.tree.digest());
    prop_assert!(replica == l.tree);

    // A replica frozen midway goes on applying; what the frozen tree writes is the snapshot of
    // the tree at the freeze, and the replica ends as the others do, frozen or not.
    let k = freeze_at % (l.log.len() + 1);
    let mut midway = DataTree::new();
    for r in &l.log[..k] {
        midway.apply(r);
    }
    let mut at_freeze = Vec::new();
    midway.snapshot_to(&mut at_freeze).unwrap();
    let frozen = midway.freeze().expect("nothing frozen yet");
    for r in &l.log[k..] {
        midway.apply(r);
    }
    prop_assert!(midway == l.tree);
    prop_assert_eq!(midway.compute_digest(), l.tree.digest());
    let mut live = Vec::new();
    midway.snapshot_to(&mut live).unwrap();
    let mut written = Vec::new();
    frozen.write_to(&mut written).unwrap();
    prop_assert_eq!(written, at_freeze);
    drop(frozen);
    // The changes made under the first freeze are folded back a slice per change, and a
    // freeze is refused until none is left (`DataTree::freeze`): with more nodes changed than
    // one slice folds, the first tries fold and are refused. Each refused try folds at least
    // one change, and there are fewer changes than `tries` (a record creates at most four
    // nodes and changes their parents; the rest were there before).
    let tries = 8 * l.log.len() + 32;
    let second = (0..tries).find_map(|_| midway.freeze());
    prop_assert!(
        second.is_some(),
        "the first is gone, yet {} freezes were refused",
        tries
    );
    let mut after = Vec::new();
    second.unwrap().write_to(&mut after).unwrap();
    prop_assert_eq!(after, live);

    // Snapshot and restore.
    let mut buf = Vec::new();
    l.tree.snapshot_to(&mut buf).unwrap();
    let restored = DataTree::restore_from_bytes(&buf).unwrap();
    prop_assert!(DataTree::restore_from(&mut &buf[..]).unwrap() == restored);
    prop_assert_eq!(restored.digest(), l.tree.digest());
    prop_assert_eq!(restored.compute_digest(), l.tree.digest());
    prop_assert!(restored == l.tree);
    prop_assert_eq!(
        restored.container_candidates(),
        l.tree.container_candidates()
    );
    for s in 1..=3 {
        prop_assert_eq!(restored.ephemerals(s), l.tree.ephemerals(s));
    }
    prop_assert_eq!(
        restored.approximate_data_size(),
        l.tree.approximate_data_size()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn prep_apply_replay_snapshot_agree(
        steps in prop::collection::vec((any::<u8>(), op(), prop::bool::weighted(0.4)), 0..60),
        freeze_at in any::<usize>(),
    ) {
        run(steps, freeze_at)?;
    }

    #[test]
    fn txn_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = TxnRecord::decode(&bytes);
        let _ = Txn::decode(&bytes);
        let _ = DataTree::restore_from(&mut &bytes[..]);
        let _ = DataTree::restore_from_bytes(&bytes);
    }

    #[test]
    fn mutated_txns_never_panic(
        steps in prop::collection::vec((any::<u8>(), leaf(), Just(true)), 1..10),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut l = Leader::new();
        l.open(1);
        for (_, op, _) in steps {
            let r = l.prep(1, &[], &request(&op));
            let mut bytes = r.encode();
            // The size hint is enough for one allocation (header: 29 bytes).
            prop_assert!(29 + r.txn.encoded_len_hint() >= bytes.len());
            prop_assert_eq!(r.txn.encode().len(), bytes.len() - 29);
            for (i, x) in &flips {
                let n = bytes.len();
                bytes[i % n] ^= x;
            }
            if let Ok(decoded) = TxnRecord::decode(&bytes) {
                // Whatever decodes must re-encode to the same bytes.
                prop_assert_eq!(decoded.encode(), bytes);
            }
            l.apply(r);
        }
    }
}

/// More nodes changed under a freeze than one fold slice (16) takes back: the freeze after
/// the first frozen tree is dropped is refused until the rest is folded, as documented. The
/// model once expected the very next freeze to succeed, and failed ("the first is gone") on
/// the rare random case that changed more than 16 nodes after its freeze.
#[test]
fn a_freeze_after_more_changes_than_a_fold_slice_waits_for_the_fold() {
    // Twenty sequential creates under the root after a freeze of the empty tree: the overlay
    // holds the root and twenty new nodes.
    let steps = vec![(0, Op::Create(0, 2, 0), false); 20];
    if let Err(e) = run(steps, 0) {
        panic!("{e}");
    }
}
