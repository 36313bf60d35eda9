//! Requests pipelined on one connection, as kazoo's async API, Curator and the Java client send
//! them: answered in request order whatever their mix, never lost, never stalled, with reply
//! zxids that never go backwards.

mod common;

use bytes::Bytes;
use common::Harness;
use proto::{Acl, AuthPacket, CreateRequest, GetDataRequest, Request, SetDataRequest, SyncRequest};

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn set(path: &str, data: &[u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        version: -1,
    })
}

fn sync(path: &str) -> Request {
    Request::Sync(SyncRequest { path: path.into() })
}

fn get(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

/// The zxids of a connection's replies never decrease.
fn assert_zxids_never_go_backwards(h: &Harness, conn: u64) {
    let zxids: Vec<i64> = h.clients[&conn]
        .replies
        .iter()
        .map(|(header, _)| header.zxid)
        .collect();
    assert!(
        zxids.windows(2).all(|w| w[0] <= w[1]),
        "reply zxids went backwards: {zxids:?}"
    );
}

/// Found by kazoo looping `set_async; sync_async; set_async`: the second write was applied while
/// the sync ahead of it still waited for the leader's confirmation, and the server panicked
/// ("applied but it is not first in line"). The write's answer must wait for the sync's.
#[test]
fn a_sync_between_two_writes_is_answered_in_order() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/p", b"0"));
    h.settle();
    for round in 0..20 {
        let base = 10 + round * 3;
        h.send(1, base, set("/p", b"a"));
        h.send(1, base + 1, sync("/p"));
        h.send(1, base + 2, set("/p", b"b"));
        h.settle();
        if round % 3 == 0 {
            h.tick();
        }
    }
    h.tick();
    h.settle();
    let mut expected = vec![1];
    for round in 0..20 {
        let base = 10 + round * 3;
        expected.extend([base, base + 1, base + 2]);
    }
    assert_eq!(h.reply_xids(1), expected);
    assert_zxids_never_go_backwards(&h, 1);
}

/// A client that reuses an xid while the first request with it is in flight used to stall
/// forever: the second write's answer was never matched.
#[test]
fn a_reused_xid_is_answered_twice_in_order() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 7, create("/a", b""));
    h.send(1, 7, create("/b", b""));
    h.send(1, 8, get("/b"));
    h.settle();
    assert_eq!(h.reply_xids(1), [7, 7, 8]);
    assert!(h.reply(1, 8).0.err == 0, "the read behind them saw /b");
}

/// The answer to an auth queued behind a write used to carry the zxid from when it was made,
/// below the write's.
#[test]
fn auth_and_error_replies_never_carry_an_older_zxid() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/x", b""));
    h.send(
        1,
        -4,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"u:p"),
        }),
    );
    h.send(1, 2, create("/x", b""));
    h.send(1, 3, get("/missing"));
    h.settle();
    assert_eq!(h.reply_xids(1), [1, -4, 2, 3]);
    assert_zxids_never_go_backwards(&h, 1);
}

/// kazoo's `close()` pipelines nothing after closeSession, but a client may: the closeSession
/// answer used to be lost behind the close the later request caused.
#[test]
fn the_close_session_answer_is_sent_even_with_requests_after_it() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/n", b""));
    h.send(1, 2, Request::CloseSession);
    h.send(1, 3, get("/n"));
    h.send(1, 4, set("/n", b"late"));
    h.settle();
    assert_eq!(
        h.reply_xids(1),
        [1, 2],
        "nothing after closeSession is served"
    );
    assert_eq!(
        h.clients[&1].closed,
        Some(true),
        "closed after the answer left"
    );
    assert_eq!(h.core.replica.app.tree.get("/n").unwrap().1.version, 0);
}

/// Requests sent right after the ConnectRequest, before its answer, used to close the
/// connection silently; ZooKeeper queues them until the session exists.
#[test]
fn requests_sent_before_the_handshake_answer_are_served_after_it() {
    let mut h = Harness::standalone(|_| {});
    h.open(1, "10.0.0.9:5000", 0);
    h.send(1, 1, create("/early", b"x"));
    h.send(1, 2, get("/early"));
    assert!(
        h.clients[&1].connect_response.is_none(),
        "the session is not created yet"
    );
    h.settle();
    assert!(h.clients[&1].connect_response.is_some());
    assert_eq!(h.reply_xids(1), [1, 2]);
    assert_eq!(h.reply(1, 2).0.err, 0);
    assert_eq!(h.clients[&1].closed, None);
}

/// Many requests of mixed kinds in flight at once, answered in order.
#[test]
fn a_long_mixed_pipeline_is_answered_in_request_order() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    let mut xids = Vec::new();
    for i in 0..200 {
        let path = format!("/n{}", i % 7);
        let request = match i % 5 {
            0 => create(&path, b"c"),
            1 => set(&path, b"s"),
            2 => sync(&path),
            3 => get(&path),
            _ => Request::Ping,
        };
        let xid = if i % 5 == 4 { -2 } else { 100 + i };
        h.send(1, xid, request);
        xids.push(xid);
        if i % 17 == 0 {
            h.settle();
        }
        if i % 29 == 0 {
            h.tick();
        }
    }
    h.settle();
    h.tick();
    h.settle();
    assert_eq!(h.reply_xids(1), xids);
    assert_zxids_never_go_backwards(&h, 1);
}

/// The case that crashed, made deterministic: two writes around a sync delivered in one step
/// (one group commit), so the second is applied before the sync ahead of it learnt its zxid.
#[test]
fn two_writes_around_a_sync_delivered_in_one_step() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/p", b"0"));
    h.settle();
    h.send(1, 2, set("/p", b"a"));
    h.send(1, 3, sync("/p"));
    h.send(1, 4, set("/p", b"b"));
    h.settle_in_one_step();
    assert_eq!(
        h.core.replica.app.tree.get("/p").unwrap().1.version,
        2,
        "both writes applied"
    );
    assert_eq!(h.reply_xids(1), [1, 2, 3, 4]);
    assert_zxids_never_go_backwards(&h, 1);
}

/// A read sees the state of its place in its connection's order: after the writes and syncs
/// before it, before the writes after it, even when the sync ahead of it is answered after the
/// write behind it was applied (found by a kazoo pipeline of 500 mixed requests: a getData
/// returned the data of a setData sent after it).
#[test]
fn a_read_behind_a_sync_does_not_see_the_write_after_it() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/p", b"0"));
    h.settle();
    h.send(1, 2, set("/p", b"before"));
    h.send(1, 3, sync("/p"));
    h.send(1, 4, get("/p"));
    h.send(1, 5, set("/p", b"after"));
    h.settle_in_one_step();
    h.tick();
    assert_eq!(h.reply_xids(1), [1, 2, 3, 4, 5]);
    let read = common::body(proto::OpCode::GetData, h.reply(1, 4));
    let proto::Response::GetData(read) = read else {
        panic!("not a getData answer: {read:?}")
    };
    assert_eq!(read.data.as_deref(), Some(&b"before"[..]));
}

/// The same when the read waited because its client was slow to read: it is computed before
/// the connection's next write is applied.
#[test]
fn a_read_paused_for_unread_answers_does_not_see_the_write_after_it() {
    let mut h = Harness::standalone(|c| c.limits.read_pause_outbound_bytes = 200);
    h.connect(1);
    h.send(1, 1, create("/p", b"0"));
    h.settle();
    h.clients.get_mut(&1).unwrap().reads = false;
    for xid in 2..6 {
        h.send(1, xid, get("/p"));
    }
    h.send(1, 6, set("/p", b"after"));
    h.settle();
    h.read_all(1);
    h.read_all(1);
    assert_eq!(h.reply_xids(1), [1, 2, 3, 4, 5, 6]);
    for xid in 2..6 {
        let proto::Response::GetData(read) = common::body(proto::OpCode::GetData, h.reply(1, xid))
        else {
            panic!("not a getData answer")
        };
        assert_eq!(read.data.as_deref(), Some(&b"0"[..]), "xid {xid}");
    }
}
