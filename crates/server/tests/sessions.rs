//! A session lives on one connection at a time. Resumed elsewhere, its old connection is closed
//! (on the same server) or its writes are answered SESSIONMOVED (from another server), as
//! ZooKeeper does.

mod common;

use bytes::Bytes;
use common::Harness;
use proto::{Acl, CreateRequest, ErrorCode, GetDataRequest, Request, SetDataRequest};
use server::peers::codec::PeerFrame;

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"0")),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
}

fn set(path: &str, data: &'static [u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version: -1,
    })
}

/// Two live connections of one session on one server used to both stay open, and an xid
/// reused across them routed an answer to the wrong connection.
#[test]
fn resuming_a_session_closes_its_old_connection_on_this_server() {
    let mut h = Harness::standalone(|_| {});
    let session = h.connect(1);
    h.send(1, 1, create("/a"));
    h.settle();
    h.open(2, "10.0.0.2:7", session);
    h.settle();
    assert!(h.clients[&2].connect_response.is_some());
    assert_eq!(
        h.clients[&1].closed,
        Some(true),
        "the old connection is closed"
    );
    h.send(2, 1, set("/a", b"new"));
    h.settle();
    assert_eq!(h.reply_xids(2), [1]);
    assert_eq!(
        h.reply_xids(1),
        [1],
        "nothing more reaches the old connection"
    );
}

/// After a session resumed on another server, its old connection here kept writing. The
/// leader now answers writes from a server that no longer holds the session SESSIONMOVED,
/// and that server closes the connection after the answer.
#[test]
fn a_write_from_a_connection_whose_session_moved_is_refused() {
    let mut h = Harness::standalone(|_| {});
    let session = h.connect(1);
    h.send(1, 1, create("/m"));
    h.settle();
    // The client resumed its session at server 2, which told the leader (this server).
    h.core
        .peer(2, PeerFrame::Attach { session }, h.now)
        .unwrap();
    h.send(1, 2, set("/m", b"stale"));
    h.send(
        1,
        3,
        Request::GetData(GetDataRequest {
            path: "/m".into(),
            watch: false,
        }),
    );
    h.settle();
    let (header, _) = h.reply(1, 2);
    assert_eq!(header.err, ErrorCode::SessionMoved.as_i32());
    assert_eq!(h.clients[&1].closed, Some(true));
    assert_eq!(
        h.reply_xids(1),
        [1, 2],
        "the connection closed after the refusal"
    );
    assert_eq!(h.core.replica.app.tree.get("/m").unwrap().1.version, 0);
}

/// The leader also refuses a write forwarded by a server that does not hold the session.
#[test]
fn a_forwarded_write_from_the_old_holder_is_refused() {
    let mut h = Harness::standalone(|_| {});
    let session = h.connect(1);
    h.send(1, 1, create("/f"));
    h.settle();
    let mut request = bytes::BytesMut::new();
    proto::Encode::encode(&proto::RequestPacket::new(9, set("/f", b"x")), &mut request);
    let forward = PeerFrame::Forward {
        session,
        cxid: 9,
        auth: vec![],
        request: request.freeze(),
    };
    h.core.peer(3, forward, h.now).unwrap();
    h.settle();
    assert_eq!(h.core.replica.app.tree.get("/f").unwrap().1.version, 0);
    // The session's own connection here still writes.
    h.send(1, 2, set("/f", b"y"));
    h.settle();
    assert_eq!(h.reply(1, 2).0.err, 0);
}
