//! What one client can make the server hold is bounded: connections per address, connections
//! that never start a session, answers it does not read, watch notifications it does not read.

mod common;

use bytes::Bytes;
use common::Harness;
use proto::{Acl, AddWatchRequest, CreateRequest, GetDataRequest, Request, SetDataRequest};
use server::clients::ClientEvent;

fn create(path: &str, data: Vec<u8>) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from(data)),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

/// 5,000 connections that never sent a ConnectRequest used to stay open forever, until the
/// server ran out of descriptors. ZooKeeper closes a connection without a session after 10 s.
#[test]
fn connections_without_a_session_are_closed_after_the_timeout() {
    let mut h = Harness::standalone(|_| {});
    for conn in 1..=50u64 {
        let remote = format!("10.1.{}.{}:9", conn / 200, conn % 200 + 1)
            .parse()
            .unwrap();
        h.clients.insert(conn, Default::default());
        h.client(ClientEvent::Accepted { conn, remote });
    }
    h.connect(100);
    h.advance_ms(9_000);
    h.tick();
    assert!(h.clients.values().all(|c| c.closed.is_none()), "not yet");
    h.advance_ms(1_000);
    h.tick();
    for conn in 1..=50u64 {
        assert_eq!(h.clients[&conn].closed, Some(false), "connection {conn}");
    }
    assert_eq!(
        h.clients[&100].closed, None,
        "a connection with a session stays"
    );
    assert_eq!(h.core.replica.app.clients.len(), 1);
}

/// `maxClientCnxns` was parsed and documented but not enforced.
#[test]
fn connections_per_address_are_limited() {
    let mut h = Harness::standalone(|c| c.limits.max_connections_per_ip = 3);
    for conn in 1..=4u64 {
        h.open(conn, "10.9.9.9:1", 0);
    }
    h.open(5, "10.9.9.8:1", 0);
    h.settle();
    assert_eq!(
        h.clients[&4].closed,
        Some(false),
        "the fourth from one address"
    );
    for conn in [1, 2, 3, 5] {
        assert!(
            h.clients[&conn].connect_response.is_some(),
            "connection {conn}"
        );
    }
}

/// 1,000 pipelined getData of a 1 MB znode on a connection that never reads used to hold
/// ~2 GB. Answers now wait while a megabyte is unwritten, and credit comes back only as
/// answers are written, so the reader stops reading too.
#[test]
fn a_client_that_does_not_read_holds_a_bounded_number_of_bytes() {
    let mut h = Harness::standalone(|_| {});
    h.connect(1);
    h.send(1, 1, create("/big", vec![7u8; 1 << 20]));
    h.settle();
    h.clients.get_mut(&1).unwrap().reads = false;
    let granted_before = h.clients[&1].granted.requests;
    for xid in 2..1002 {
        h.send(
            1,
            xid,
            Request::GetData(GetDataRequest {
                path: "/big".into(),
                watch: false,
            }),
        );
    }
    h.settle();
    let client = &h.clients[&1];
    assert!(client.closed.is_none());
    assert!(
        client.unread_bytes < 3 << 20,
        "{} bytes made for a client that reads nothing",
        client.unread_bytes
    );
    assert_eq!(
        client.granted.requests, granted_before,
        "no credit back for unwritten answers"
    );
    let state = &h.core.replica.app;
    assert!(state.clients.outbound_bytes_total() < 3 << 20);
    // When it reads again, everything is answered, in order.
    for _ in 0..2000 {
        if h.reply_xids(1).len() == 1001 {
            break;
        }
        h.read_all(1);
    }
    assert_eq!(h.reply_xids(1), (1..1002).collect::<Vec<i32>>());
    assert!(h.clients[&1].granted.requests >= 1000);
}

/// A persistent recursive watch on / held by a client that never reads grew the server
/// without limit: notifications bypassed every budget. Now they count against the
/// connection's unwritten bytes, and past its bound the connection is closed.
#[test]
fn a_watcher_that_does_not_read_is_closed_at_its_bound() {
    let bound = 256 << 10;
    let mut h = Harness::standalone(|c| c.limits.max_outbound_bytes_per_connection = bound);
    h.connect(1);
    h.connect(2);
    h.send(
        1,
        1,
        Request::AddWatch(AddWatchRequest {
            path: "/".into(),
            mode: 1,
        }),
    );
    h.settle();
    h.clients.get_mut(&1).unwrap().reads = false;
    h.send(2, 1, create("/w", vec![]));
    h.settle();
    for xid in 2..20_000 {
        h.send(
            2,
            xid,
            Request::SetData(SetDataRequest {
                path: "/w".into(),
                data: Some(Bytes::from_static(b"v")),
                version: -1,
            }),
        );
        if xid % 500 == 0 {
            h.settle();
        }
    }
    h.settle();
    assert_eq!(h.clients[&1].closed, Some(false), "closed without flushing");
    assert!(h.clients[&1].unread_bytes <= bound + 1024);
    assert_eq!(
        h.core.replica.app.watches.count(),
        0,
        "its watch went with it"
    );
    assert!(h.clients[&2].closed.is_none(), "the writer is untouched");
    assert_eq!(h.core.replica.app.clients.outbound_bytes_total(), 0);
}

/// Credit held back over the global limit is granted once the server is under it again.
#[test]
fn credit_is_held_while_the_server_is_over_its_global_limit() {
    let mut h = Harness::standalone(|c| c.limits.global_outstanding_requests = 10);
    h.connect(1);
    h.connect(2);
    h.clients.get_mut(&1).unwrap().reads = false;
    for xid in 1..=20 {
        h.send(1, xid, Request::Ping);
    }
    h.send(2, 1, Request::Ping);
    assert_eq!(
        h.clients[&2].granted.requests, 0,
        "held: 20 requests unwritten"
    );
    h.read_all(1);
    assert_eq!(h.clients[&1].granted.requests, 20);
    assert_eq!(h.clients[&2].granted.requests, 1);
}
