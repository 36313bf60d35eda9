//! Prep + apply against ZooKeeper 3.8's behaviour, one rule per test.

mod common;

use bytes::Bytes;
use common::{create, create_req, err, Leader};
use proto::{
    perms, Acl, CheckVersionRequest, CreateTtlRequest, DeleteRequest, ErrorCode, EventType, Id,
    MultiOp, MultiResult, Request, SetAclRequest, SetDataRequest,
};
use tree::{prep_delete_container, Outcome, Txn, TxnHeader, TxnRecord, WatchTrigger};

const S: i64 = 0x100;

fn leader() -> Leader {
    let mut l = Leader::new();
    l.open(S);
    l
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.into(),
        version,
    })
}

fn set(path: &str, data: &str, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from(data.to_string())),
        version,
    })
}

fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

fn created_path(r: &tree::ApplyResult) -> String {
    match &r.outcome {
        Outcome::Created { path, .. } => path.clone(),
        o => panic!("not created: {o:?}"),
    }
}

#[test]
fn create_sets_stat_like_zookeeper() {
    let mut l = leader();
    let r = l.run(S, create("/a", 0));
    let (zxid, time) = (r.header.zxid.as_i64(), r.header.time_ms);
    let (data, stat, acl) = l.tree.get("/a").unwrap();
    assert_eq!(data, Some(&b"d"[..]));
    assert_eq!(acl, Acl::open_unsafe().as_slice());
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (zxid, zxid, zxid));
    assert_eq!((stat.ctime, stat.mtime), (time, time));
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(
        (stat.ephemeral_owner, stat.data_length, stat.num_children),
        (0, 1, 0)
    );
    let root = l.tree.stat("/").unwrap();
    // Clients see 2 × creates − children: /zookeeper was made at start, not by a create.
    assert_eq!((root.cversion, root.pzxid, root.num_children), (0, zxid, 2));
    assert_eq!(
        r.triggers[..],
        [
            WatchTrigger {
                path: "/a".into(),
                event: EventType::NodeCreated
            },
            WatchTrigger {
                path: "/".into(),
                event: EventType::NodeChildrenChanged
            },
        ]
    );
}

#[test]
fn null_and_empty_data_stay_distinct() {
    let mut l = leader();
    let mut req = create_req("/n", "", 0);
    req.data = None;
    l.run(S, Request::Create(req));
    l.run(S, create("/e", 0));
    l.run(S, set("/e", "", -1));
    assert_eq!(l.tree.get("/n").unwrap().0, None);
    assert_eq!(l.tree.get("/e").unwrap().0, Some(&b""[..]));
}

#[test]
fn sequential_name_uses_parent_cversion() {
    let mut l = leader();
    l.run(S, create("/p", 0));
    l.run(S, create("/p/a", 0));
    let r = l.run(S, create("/p/s-", 2));
    assert_eq!(created_path(&r), "/p/s-0000000001");
    l.run(S, delete("/p/a", -1));
    // Sequential names count creates only (clients see cversion 3 here, ZooKeeper's quirk).
    assert_eq!(l.tree.stat("/p").unwrap().cversion, 3);
    let r = l.run(S, create("/p/s-", 3));
    assert_eq!(created_path(&r), "/p/s-0000000002");
    assert_eq!(l.tree.stat("/p").unwrap().ephemeral_owner, 0);
    assert_eq!(l.tree.stat("/p/s-0000000002").unwrap().ephemeral_owner, S);
}

#[test]
fn sequential_suffix_is_signed_ten_digits() {
    assert_eq!(format!("{:010}", -5i32), "-000000005");
}

#[test]
fn delete_bumps_parent_pzxid_and_the_cversion_clients_see() {
    let mut l = leader();
    l.run(S, create("/p", 0));
    l.run(S, create("/p/c", 0));
    let before = l.tree.stat("/p").unwrap();
    let r = l.run(S, delete("/p/c", 0));
    let after = l.tree.stat("/p").unwrap();
    // ZooKeeper 3.8 stores creates only and shows 2 × creates − children: a delete shows as
    // one more child change, while the next sequential name still counts creates.
    assert_eq!(after.cversion, before.cversion + 1);
    assert_eq!(after.pzxid, r.header.zxid.as_i64());
    assert_eq!(after.num_children, 0);
    assert_eq!(
        r.triggers[..],
        [
            WatchTrigger {
                path: "/p/c".into(),
                event: EventType::NodeDeleted
            },
            WatchTrigger {
                path: "/p".into(),
                event: EventType::NodeChildrenChanged
            },
        ]
    );
}

#[test]
fn delete_nonempty_is_notempty() {
    let mut l = leader();
    l.run(S, create("/p", 0));
    l.run(S, create("/p/c", 0));
    assert_eq!(err(&l.run(S, delete("/p", -1))), ErrorCode::NotEmpty);
}

#[test]
fn delete_checks_version_before_children() {
    let mut l = leader();
    l.run(S, create("/p", 0));
    l.run(S, create("/p/c", 0));
    assert_eq!(err(&l.run(S, delete("/p", 7))), ErrorCode::BadVersion);
}

#[test]
fn delete_missing_is_nonode_and_special_is_badarguments() {
    let mut l = leader();
    assert_eq!(err(&l.run(S, delete("/nope", -1))), ErrorCode::NoNode);
    for p in [
        "/",
        "/zookeeper",
        "/zookeeper/quota",
        "/zookeeper/config",
        "nope",
    ] {
        assert_eq!(
            err(&l.run(S, delete(p, -1))),
            ErrorCode::BadArguments,
            "{p}"
        );
    }
}

#[test]
fn set_data_checks_version_and_bumps_it() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    assert_eq!(err(&l.run(S, set("/a", "x", 3))), ErrorCode::BadVersion);
    let r = l.run(S, set("/a", "xyz", 0));
    let Outcome::DataSet { stat } = r.outcome else {
        panic!()
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.mtime),
        (1, r.header.zxid.as_i64(), r.header.time_ms)
    );
    assert_eq!(stat.data_length, 3);
    assert!(stat.czxid < stat.mzxid);
    assert_eq!(
        r.triggers[..],
        [WatchTrigger {
            path: "/a".into(),
            event: EventType::NodeDataChanged
        }]
    );
    assert_eq!(err(&l.run(S, set("/b", "x", -1))), ErrorCode::NoNode);
    assert_eq!(err(&l.run(S, set("/b/", "x", -1))), ErrorCode::BadArguments);
}

#[test]
fn create_existing_is_nodeexists() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    assert_eq!(err(&l.run(S, create("/a", 0))), ErrorCode::NodeExists);
    assert_eq!(err(&l.run(S, create("/", 0))), ErrorCode::NodeExists);
}

#[test]
fn create_without_parent_is_nonode() {
    let mut l = leader();
    assert_eq!(err(&l.run(S, create("/x/y", 0))), ErrorCode::NoNode);
}

#[test]
fn invalid_paths_are_badarguments() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    for p in ["a", "/a/", "/.", "/a/..", "/a\u{1}", "/a\0b"] {
        assert_eq!(
            err(&l.run(S, create(p, 0))),
            ErrorCode::BadArguments,
            "{p:?}"
        );
    }
    // The parent lookup comes first: "/x/" has a missing parent.
    assert_eq!(err(&l.run(S, create("/x/", 0))), ErrorCode::NoNode);
    // A sequential create may end in '/': the suffix makes it valid.
    assert_eq!(err(&l.run(S, create("/a/", 2))), ErrorCode::Ok);
}

#[test]
fn unknown_create_flag_is_badarguments() {
    let mut l = leader();
    assert_eq!(err(&l.run(S, create("/a", 7))), ErrorCode::BadArguments);
    assert_eq!(err(&l.run(S, create("/a", -1))), ErrorCode::BadArguments);
}

#[test]
fn ephemeral_parent_is_nochildrenforephemerals() {
    let mut l = leader();
    l.run(S, create("/e", 1));
    assert_eq!(
        err(&l.run(S, create("/e/c", 0))),
        ErrorCode::NoChildrenForEphemerals
    );
    assert_eq!(l.tree.ephemerals(S), vec!["/e".to_string()]);
}

#[test]
fn unknown_or_closed_session_is_sessionexpired() {
    let mut l = leader();
    assert_eq!(
        err(&l.run(0x999, create("/a", 0))),
        ErrorCode::SessionExpired
    );
    // Pipelined: a write prepped after the close but before it applies.
    let close = tree::prep_close_session(&l.tree, &mut l.out, S, tree::Zxid::from_i64(99));
    let r = l.prep(S, &[], &create("/b", 0));
    assert_eq!(r.txn, Txn::Error(ErrorCode::SessionExpired));
    let _ = close;
}

#[test]
fn close_session_deletes_ephemerals_and_fires_watches() {
    let mut l = leader();
    l.open(0x200);
    l.run(S, create("/p", 0));
    l.run(S, create("/p/e1", 1));
    l.run(S, create("/p/e2", 3));
    l.run(0x200, create("/p/other", 1));
    let r = l.close(S);
    assert_eq!(r.outcome, Outcome::SessionClosed);
    assert!(!l.tree.exists("/p/e1") && !l.tree.exists("/p/e20000000001"));
    assert!(l.tree.exists("/p/other"));
    assert!(l.tree.ephemerals(S).is_empty());
    assert!(!l.tree.sessions().contains(S));
    let deleted: Vec<_> = r
        .triggers
        .iter()
        .filter(|t| t.event == EventType::NodeDeleted)
        .map(|t| &*t.path)
        .collect();
    // In the iteration order of ZooKeeper's HashSet of the session's ephemerals (Java 17's
    // string hash), which is the order its watches fire in; checked against Java.
    assert_eq!(deleted, ["/p/e20000000001", "/p/e1"]);
    assert_eq!(l.tree.stat("/p").unwrap().pzxid, r.header.zxid.as_i64());
}

#[test]
fn close_session_sees_pipelined_ephemerals() {
    let mut l = leader();
    l.run(S, create("/p", 0));
    let c = l.prep(S, &[], &create("/p/e", 1));
    let close = {
        l.zxid += 1;
        let txn = tree::prep_close_session(&l.tree, &mut l.out, S, tree::Zxid::from_i64(l.zxid));
        TxnRecord::new(
            TxnHeader {
                zxid: tree::Zxid::from_i64(l.zxid),
                time_ms: l.time,
                session_id: S,
                cxid: 0,
            },
            txn,
        )
    };
    let Txn::CloseSession { paths, .. } = &close.txn else {
        panic!()
    };
    assert_eq!(paths, &["/p/e".to_string()]);
    l.apply(c);
    l.apply(close);
    assert!(!l.tree.exists("/p/e"));
    assert!(l.out.is_empty());
}

/// A session closed twice while pipelined (its expiry racing its client's close), and between
/// the two another session takes the path of its ephemeral: the second close must not list
/// that path, which is no longer the closing session's. ZooKeeper walks every outstanding
/// change in order (the delete, then the other owner's create); prep once looked at the last
/// change of the path only, kept the path, and its view had the other session's node deleted
/// while apply kept it (the tree model's proptest found it).
#[test]
fn a_second_close_leaves_alone_a_path_another_session_took_meanwhile() {
    const OTHER: i64 = 0x200;
    let mut l = leader();
    l.open(OTHER);
    l.run(S, create("/c", 1));
    let first = l.prep_close(S);
    let taken = l.prep(OTHER, &[], &create("/c", 1));
    assert!(matches!(taken.txn, Txn::Create(_)), "{:?}", taken.txn);
    let second = l.prep_close(S);
    let Txn::CloseSession { paths, .. } = &second.txn else {
        panic!("{:?}", second.txn)
    };
    assert!(paths.is_empty(), "{paths:?}");
    // Prep's view and the applied tree agree: /c is the other session's, so taking it again
    // fails the same way in both.
    let again = l.prep(OTHER, &[], &create("/c", 1));
    assert_eq!(again.txn, Txn::Error(ErrorCode::NodeExists));
    for record in [first, taken, second, again] {
        l.apply(record);
    }
    assert_eq!(l.tree.ephemerals(OTHER), vec!["/c".to_string()]);
    assert!(l.out.is_empty());
}

/// The closing session's ephemerals are listed in the order ZooKeeper's walk over every pending
/// change leaves its `HashSet` in, not only each path's last record. "/a" and "/q" share a
/// bucket, so their order is their order of insertion there (both orders printed by Java 17
/// doing what ZooKeeper's PrepRequestProcessor does).
#[test]
fn close_session_lists_in_the_order_of_the_walk_over_pending_changes() {
    fn listed(record: &TxnRecord) -> Vec<String> {
        match &record.txn {
            Txn::CloseSession { paths, .. } => paths.clone(),
            other => panic!("{other:?}"),
        }
    }
    // Pending: create /a, create /q, set /a. The set is /a's last record, yet /a went in first.
    let mut l = leader();
    for request in [create("/a", 1), create("/q", 1), set("/a", "x", -1)] {
        let _ = l.prep(S, &[], &request);
    }
    assert_eq!(listed(&l.prep_close(S)), ["/a", "/q"]);

    // Applied: /a, then /q. Pending: /a deleted and created again, so it goes in again last.
    let mut l = leader();
    l.run(S, create("/a", 1));
    l.run(S, create("/q", 1));
    for request in [delete("/a", -1), create("/a", 1)] {
        let _ = l.prep(S, &[], &request);
    }
    assert_eq!(listed(&l.prep_close(S)), ["/q", "/a"]);

    // The same in one multi: ZooKeeper records each op, so the walk sees both.
    let mut l = leader();
    l.run(S, create("/a", 1));
    l.run(S, create("/q", 1));
    let del = |p: &str| {
        MultiOp::Delete(DeleteRequest {
            path: p.into(),
            version: -1,
        })
    };
    let _ = l.prep(
        S,
        &[],
        &multi(vec![del("/a"), MultiOp::Create(create_req("/a", "", 1))]),
    );
    assert_eq!(listed(&l.prep_close(S)), ["/q", "/a"]);

    // A multi that creates two and deletes them: ZooKeeper's set grew from 4 buckets to 8 on
    // the way and kept them. In 4, "/c" comes first (bucket 0 against 3); in 8, "/b" (3
    // against 4).
    let mut l = leader();
    l.run(S, create("/b", 1));
    l.run(S, create("/c", 1));
    let ops = vec![
        MultiOp::Create(create_req("/x", "", 1)),
        MultiOp::Create(create_req("/y", "", 1)),
        del("/x"),
        del("/y"),
    ];
    let _ = l.prep(S, &[], &multi(ops));
    assert_eq!(listed(&l.prep_close(S)), ["/b", "/c"]);

    // A multi that fails records nothing, so its ops are not walked either.
    let mut l = leader();
    l.run(S, create("/a", 1));
    l.run(S, create("/q", 1));
    let ops = vec![
        del("/a"),
        MultiOp::Create(create_req("/a", "", 1)),
        del("/missing"),
    ];
    let failed = l.prep(S, &[], &multi(ops));
    assert!(matches!(failed.txn, Txn::Multi(_)), "{:?}", failed.txn);
    assert_eq!(listed(&l.prep_close(S)), ["/a", "/q"]);
}

fn multi(ops: Vec<MultiOp>) -> Request {
    Request::Multi(ops)
}

#[test]
fn multi_is_all_or_nothing() {
    let mut l = leader();
    let digest = l.tree.digest();
    let r = l.run(
        S,
        multi(vec![
            MultiOp::Create(create_req("/m", "", 0)),
            MultiOp::Create(create_req("/m/x", "", 0)),
            MultiOp::Delete(DeleteRequest {
                path: "/nope".into(),
                version: -1,
            }),
            MultiOp::SetData(SetDataRequest {
                path: "/m".into(),
                data: None,
                version: -1,
            }),
        ]),
    );
    let Outcome::Multi(results) = &r.outcome else {
        panic!()
    };
    let errs: Vec<_> = results
        .iter()
        .map(|r| match r {
            MultiResult::Error { err } => *err,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        errs,
        [
            ErrorCode::Ok,
            ErrorCode::Ok,
            ErrorCode::NoNode,
            ErrorCode::RuntimeInconsistency
        ]
    );
    assert_eq!(r.outcome.err(), ErrorCode::NoNode);
    assert!(!l.tree.exists("/m"));
    assert!(r.triggers.is_empty());
    // Only the zxid moved; and nothing of the failed multi lingers for later preps.
    assert_eq!(l.tree.digest(), digest);
    assert!(l.out.is_empty());
    assert_eq!(err(&l.run(S, create("/m", 0))), ErrorCode::Ok);
}

#[test]
fn failed_multi_leaves_pipelined_records_alone() {
    let mut l = leader();
    let c = l.prep(S, &[], &create("/a", 0));
    let m = l.prep(
        S,
        &[],
        &multi(vec![
            MultiOp::Create(create_req("/a/b", "", 0)),
            MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 5,
            }),
        ]),
    );
    let Txn::Multi(ops) = &m.txn else { panic!() };
    assert_eq!(
        ops,
        &[Txn::Error(ErrorCode::Ok), Txn::Error(ErrorCode::BadVersion)]
    );
    // The pending create of /a is still seen.
    let d = l.prep(S, &[], &create("/a/c", 0));
    assert!(matches!(d.txn, Txn::Create(_)));
    for r in [c, m, d] {
        l.apply(r);
    }
    assert!(l.tree.exists("/a/c") && !l.tree.exists("/a/b"));
}

#[test]
fn multi_ops_see_earlier_ops_and_answer_in_zookeepers_shapes() {
    let mut l = leader();
    l.run(S, create("/q", 0));
    let r = l.run(
        S,
        multi(vec![
            MultiOp::Create(create_req("/m", "", 0)),
            MultiOp::Create2(create_req("/m/s", "", 2)),
            MultiOp::Create(create_req("/m/s", "", 2)),
            MultiOp::SetData(SetDataRequest {
                path: "/m".into(),
                data: None,
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/m".into(),
                version: 1,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/q".into(),
                version: 0,
            }),
        ]),
    );
    let Outcome::Multi(results) = &r.outcome else {
        panic!()
    };
    assert_eq!(results[0], MultiResult::Create { path: "/m".into() });
    assert!(matches!(&results[1], MultiResult::Create2 { path, .. } if path == "/m/s0000000000"));
    assert_eq!(
        results[2],
        MultiResult::Create {
            path: "/m/s0000000001".into()
        }
    );
    assert!(matches!(&results[3], MultiResult::SetData { stat } if stat.version == 1));
    assert_eq!(results[4], MultiResult::Check);
    assert_eq!(results[5], MultiResult::Delete);
    assert_eq!(r.outcome.err(), ErrorCode::Ok);
    // Every op of a multi shares the zxid.
    let stat = l.tree.stat("/m").unwrap();
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.pzxid),
        (
            r.header.zxid.as_i64(),
            r.header.zxid.as_i64(),
            r.header.zxid.as_i64()
        )
    );
}

#[test]
fn pipelined_prep_sees_outstanding_changes() {
    let mut l = leader();
    let batch = [
        l.prep(S, &[], &create("/x", 0)),
        l.prep(S, &[], &create("/x/y", 0)),
        l.prep(S, &[], &set("/x", "1", 0)),
        l.prep(S, &[], &set("/x", "2", 1)),
        l.prep(S, &[], &create("/x/s", 2)),
        l.prep(S, &[], &delete("/x", -1)),
        l.prep(S, &[], &delete("/x/y", -1)),
        l.prep(S, &[], &create("/x/y", 0)),
    ];
    assert_eq!(batch[4].txn.path(), Some("/x/s0000000001"));
    assert_eq!(batch[5].txn, Txn::Error(ErrorCode::NotEmpty));
    for r in batch {
        let res = l.apply(r.clone());
        if !matches!(r.txn, Txn::Error(_)) {
            assert_eq!(res.outcome.err(), ErrorCode::Ok, "{:?}", r.txn);
        }
    }
    assert_eq!(l.tree.stat("/x").unwrap().version, 2);
    assert!(l.out.is_empty());
}

#[test]
fn check_compares_version() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    assert_eq!(err(&l.run(S, check("/a", 0))), ErrorCode::Ok);
    assert_eq!(err(&l.run(S, check("/a", 1))), ErrorCode::BadVersion);
    assert_eq!(err(&l.run(S, check("/b", -1))), ErrorCode::NoNode);
}

fn digest_id(user_password: &str) -> Id {
    Id::new("digest", tree::acl::generate_digest(user_password))
}

#[test]
fn auth_scheme_expands_to_session_ids() {
    let mut l = leader();
    let me = [Id::new("ip", "127.0.0.1"), digest_id("bob:pw")];
    let mut req = create_req("/mine", "", 0);
    req.acl = Acl::creator_all();
    assert_eq!(
        err(&l.run_auth(S, &me, Request::Create(req.clone()))),
        ErrorCode::Ok
    );
    assert_eq!(
        l.tree.get("/mine").unwrap().2,
        &[Acl {
            perms: perms::ALL,
            id: me[1].clone()
        }]
    );
    req.path = "/other".into();
    assert_eq!(
        err(&l.run_auth(S, &me[..1], Request::Create(req))),
        ErrorCode::InvalidAcl
    );
}

#[test]
fn acl_is_enforced_with_noauth() {
    let mut l = leader();
    let bob = [digest_id("bob:pw")];
    let alice = [digest_id("alice:pw")];
    let mut req = create_req("/b", "", 0);
    req.acl = vec![
        Acl {
            perms: perms::ALL,
            id: bob[0].clone(),
        },
        Acl {
            perms: perms::READ,
            id: Id::anyone(),
        },
    ];
    l.run_auth(S, &bob, Request::Create(req));
    assert_eq!(
        err(&l.run_auth(S, &alice, set("/b", "x", -1))),
        ErrorCode::NoAuth
    );
    assert_eq!(
        err(&l.run_auth(S, &alice, create("/b/c", 0))),
        ErrorCode::NoAuth
    );
    assert_eq!(err(&l.run_auth(S, &alice, check("/b", -1))), ErrorCode::Ok);
    assert_eq!(err(&l.run_auth(S, &bob, set("/b", "x", -1))), ErrorCode::Ok);
    assert_eq!(err(&l.run_auth(S, &bob, create("/b/c", 0))), ErrorCode::Ok);
    // Delete needs DELETE on the parent.
    assert_eq!(
        err(&l.run_auth(S, &alice, delete("/b/c", -1))),
        ErrorCode::NoAuth
    );
    let superuser = [Id::new("super", "")];
    assert_eq!(
        err(&l.run_auth(S, &superuser, delete("/b/c", -1))),
        ErrorCode::Ok
    );
    // /zookeeper/config is read-only.
    assert_eq!(
        err(&l.run(S, set("/zookeeper/config", "x", -1))),
        ErrorCode::NoAuth
    );
}

#[test]
fn ip_acl_matches_client_address() {
    let mut l = leader();
    let mut req = create_req("/lan", "", 0);
    req.acl = vec![Acl {
        perms: perms::ALL,
        id: Id::new("ip", "10.0.0.0/8"),
    }];
    l.run(S, Request::Create(req));
    let inside = [tree::acl::ip_id("10.2.3.4".parse().unwrap())];
    let outside = [tree::acl::ip_id("192.168.0.1".parse().unwrap())];
    assert_eq!(
        err(&l.run_auth(S, &outside, set("/lan", "x", -1))),
        ErrorCode::NoAuth
    );
    assert_eq!(
        err(&l.run_auth(S, &inside, set("/lan", "x", -1))),
        ErrorCode::Ok
    );
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.into(),
        acl,
        version,
    })
}

#[test]
fn set_acl_checks_and_bumps_aversion() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    assert_eq!(
        err(&l.run(S, set_acl("/a", Acl::read_unsafe(), 1))),
        ErrorCode::BadVersion
    );
    assert_eq!(
        err(&l.run(S, set_acl("/a", vec![], -1))),
        ErrorCode::InvalidAcl
    );
    let r = l.run(S, set_acl("/a", Acl::read_unsafe(), 0));
    let Outcome::AclSet { stat } = r.outcome else {
        panic!()
    };
    assert_eq!((stat.aversion, stat.version), (1, 0));
    assert!(r.triggers.is_empty());
    assert_eq!(l.tree.get("/a").unwrap().2, Acl::read_unsafe().as_slice());
    // Now read-only: even setACL needs ADMIN.
    assert_eq!(
        err(&l.run(S, set_acl("/a", Acl::open_unsafe(), -1))),
        ErrorCode::NoAuth
    );
}

#[test]
fn pipelined_prep_sees_a_pending_acl_revocation() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    let revoke = l.prep(S, &[], &set_acl("/a", Acl::read_unsafe(), -1));
    let write = l.prep(S, &[], &set("/a", "x", -1));
    assert_eq!(write.txn, Txn::Error(ErrorCode::NoAuth));
    l.apply(revoke);
    l.apply(write);
}

fn ttl(path: &str, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(CreateTtlRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags,
        ttl,
    })
}

#[test]
fn ttl_needs_extended_types() {
    let mut l = leader();
    assert_eq!(err(&l.run(S, ttl("/t", 5, 100))), ErrorCode::Unimplemented);
    assert_eq!(err(&l.run(S, create("/t", 5))), ErrorCode::Unimplemented);
    l.extended_types = true;
    assert_eq!(err(&l.run(S, ttl("/t", 5, 0))), ErrorCode::BadArguments);
    assert_eq!(
        err(&l.run(S, ttl("/t", 5, 1 << 40))),
        ErrorCode::BadArguments
    );
    assert_eq!(err(&l.run(S, ttl("/t", 0, 100))), ErrorCode::BadArguments);
    assert_eq!(err(&l.run(S, create("/t", 5))), ErrorCode::BadArguments);
    let r = l.run(S, ttl("/t", 6, 100));
    assert_eq!(created_path(&r), "/t0000000000");
    let stat = l.tree.stat("/t0000000000").unwrap();
    assert_eq!(stat.ephemeral_owner, 0, "clients see 0 for TTL nodes");
    let stored = l
        .tree
        .node("/t0000000000")
        .unwrap()
        .stored_stat()
        .ephemeral_owner;
    assert_eq!(stored, 0xff00_0000_0000_0064_u64 as i64);
    assert!(l.tree.expired_ttl_nodes(stat.mtime + 100).is_empty());
    assert_eq!(l.tree.expired_ttl_nodes(stat.mtime + 101), ["/t0000000000"]);
    let txn = prep_delete_container(
        &l.tree,
        &mut l.out,
        "/t0000000000",
        tree::Zxid::from_i64(l.zxid + 1),
    )
    .unwrap();
    l.zxid += 1;
    let r = l.apply(TxnRecord::new(
        TxnHeader {
            zxid: tree::Zxid::from_i64(l.zxid),
            time_ms: l.time,
            session_id: 0,
            cxid: 0,
        },
        txn,
    ));
    assert_eq!(r.outcome, Outcome::Deleted);
}

#[test]
fn container_deleted_after_last_child_goes() {
    let mut l = leader();
    let r = l.run(S, Request::CreateContainer(create_req("/c", "", 4)));
    // Stored as ZooKeeper's container owner, shown to clients as 0.
    assert_eq!(
        l.tree.node("/c").unwrap().stored_stat().ephemeral_owner,
        i64::MIN
    );
    assert_eq!(l.tree.stat("/c").unwrap().ephemeral_owner, 0);
    assert!(matches!(r.outcome, Outcome::Created { .. }));
    // Never had a child: not a candidate.
    assert!(l.tree.container_candidates().is_empty());
    l.run(S, create("/c/x", 0));
    assert!(l.tree.container_candidates().is_empty());
    l.run(S, delete("/c/x", -1));
    assert_eq!(l.tree.container_candidates(), ["/c"]);
    // A child arriving in between makes the leader's delete fail.
    let pending = l.prep(S, &[], &create("/c/y", 0));
    assert_eq!(
        prep_delete_container(&l.tree, &mut l.out, "/c", tree::Zxid::from_i64(1000)),
        Err(ErrorCode::NotEmpty)
    );
    l.apply(pending);
    l.run(S, delete("/c/y", -1));
    l.zxid += 1;
    let txn =
        prep_delete_container(&l.tree, &mut l.out, "/c", tree::Zxid::from_i64(l.zxid)).unwrap();
    let r = l.apply(TxnRecord::new(
        TxnHeader {
            zxid: tree::Zxid::from_i64(l.zxid),
            time_ms: l.time,
            session_id: 0,
            cxid: 0,
        },
        txn,
    ));
    assert_eq!(r.outcome, Outcome::Deleted);
    assert!(!l.tree.exists("/c"));
    // Persistent and ephemeral nodes are never deleted this way.
    l.run(S, create("/p", 0));
    assert_eq!(
        prep_delete_container(&l.tree, &mut l.out, "/p", tree::Zxid::from_i64(1)),
        Err(ErrorCode::BadVersion)
    );
}

#[test]
fn container_flag_on_plain_create_makes_a_persistent_node() {
    let mut l = leader();
    l.run(S, create("/c", 4));
    assert_eq!(l.tree.stat("/c").unwrap().ephemeral_owner, 0);
}

#[test]
fn reconfig_is_the_servers_to_prep_and_reads_have_no_txn() {
    let mut l = leader();
    let r = l.run(
        S,
        Request::Reconfig(proto::ReconfigRequest {
            joining_servers: String::new(),
            leaving_servers: String::new(),
            new_members: String::new(),
            cur_config_id: -1,
        }),
    );
    // The server preps reconfig (it knows the ensemble; see server-core's reconfig module).
    assert_eq!(err(&r), ErrorCode::Unimplemented);
    assert!(!tree::is_write(&Request::Ping));
    assert!(tree::is_write(&Request::CloseSession));
}

#[test]
fn failed_write_still_takes_a_zxid() {
    let mut l = leader();
    let r = l.run(S, delete("/nope", -1));
    assert_eq!(r.outcome, Outcome::Error(ErrorCode::NoNode));
    assert_eq!(l.tree.last_zxid(), r.header.zxid);
}

#[test]
fn all_children_number_counts_descendants() {
    let mut l = leader();
    l.run(S, create("/a", 0));
    l.run(S, create("/a/b", 0));
    l.run(S, create("/a/b/c", 0));
    assert_eq!(l.tree.all_children_number("/a"), Some(2));
    assert_eq!(l.tree.all_children_number("/"), Some(6));
    assert_eq!(l.tree.all_children_number("/nope"), None);
    assert_eq!(l.tree.approximate_data_size(), 44 + 2 + 1 + 4 + 1 + 6 + 1);
}
