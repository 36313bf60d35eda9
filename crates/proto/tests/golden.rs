//! Golden bytes: packets written out by hand from the jute definitions and from what kazoo
//! puts on the wire, checked in both directions.

use bytes::{Bytes, BytesMut};
use proto::*;

/// Builds expected bytes from big-endian pieces, so each field is visible in the test.
struct W(Vec<u8>);

impl W {
    fn new() -> Self {
        W(Vec::new())
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn str(self, s: &str) -> Self {
        self.i32(s.len() as i32).raw(s.as_bytes())
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn framed(self) -> Vec<u8> {
        W::new().i32(self.0.len() as i32).raw(&self.0).0
    }
}

#[test]
fn connect_request_as_kazoo_sends_it() {
    // kazoo: Connect(protocol 0, last_zxid 0, timeout 10000, session 0, 16 zero bytes,
    // read_only False), framed.
    let wire: Vec<u8> = vec![
        0, 0, 0, 45, // frame length
        0, 0, 0, 0, // protocolVersion
        0, 0, 0, 0, 0, 0, 0, 0, // lastZxidSeen
        0, 0, 0x27, 0x10, // timeOut = 10000
        0, 0, 0, 0, 0, 0, 0, 0, // sessionId
        0, 0, 0, 16, // passwd length
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // passwd
        0, // readOnly
    ];
    let mut buf = BytesMut::from(&wire[..]);
    let frame = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    let req = ConnectRequest::decode(&mut frame.clone()).unwrap();
    let expected = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: false,
    };
    assert_eq!(req, expected);
    let mut out = BytesMut::new();
    encode_frame(&mut out, &expected);
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn connect_request_from_an_old_client_without_read_only() {
    let body = W::new()
        .i32(0)
        .i64(0x1_0000_0005)
        .i32(30_000)
        .i64(0x0100_0000_0000_0042)
        .i32(16)
        .raw(&[7; 16]);
    let req = ConnectRequest::decode(&mut &body.0[..]).unwrap();
    assert_eq!(req.last_zxid_seen, 0x1_0000_0005);
    assert_eq!(req.session_id, 0x0100_0000_0000_0042);
    assert_eq!(&req.passwd[..], &[7; 16]);
    assert!(!req.read_only);
}

#[test]
fn connect_response_always_carries_read_only() {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout: 4000,
        session_id: 0x42,
        passwd: Bytes::from_static(&[1; 16]),
        read_only: true,
    };
    let expected = W::new()
        .i32(0)
        .i32(4000)
        .i64(0x42)
        .i32(16)
        .raw(&[1; 16])
        .u8(1);
    assert_eq!(&resp.to_bytes()[..], &expected.0[..]);
    let expired = ConnectResponse::expired().to_bytes();
    assert_eq!(expired.len(), 4 + 4 + 8 + 4 + 16 + 1);
}

#[test]
fn create_request_as_kazoo_sends_it() {
    // kazoo: client.create("/foo", b"bar") with OPEN_ACL_UNSAFE, persistent, xid 1.
    let wire = W::new()
        .i32(1) // xid
        .i32(1) // type = create
        .str("/foo")
        .i32(3)
        .raw(b"bar")
        .i32(1) // one ACL
        .i32(31)
        .str("world")
        .str("anyone")
        .i32(0) // flags
        .framed();
    let mut buf = BytesMut::from(&wire[..]);
    let frame = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
    let packet = RequestPacket::decode(&mut frame.clone()).unwrap();
    let expected = RequestPacket::new(
        1,
        Request::Create(CreateRequest {
            path: "/foo".into(),
            data: Some(Bytes::from_static(b"bar")),
            acl: Acl::open_unsafe(),
            flags: CreateMode::Persistent.as_i32(),
        }),
    );
    assert_eq!(packet, expected);
    let mut out = BytesMut::new();
    encode_frame(&mut out, &expected);
    assert_eq!(&out[..], &wire[..]);
}

#[test]
fn kazoo_sends_empty_data_as_null() {
    let body = W::new()
        .i32(2)
        .i32(1)
        .str("/e")
        .i32(-1) // data: null
        .i32(1)
        .i32(31)
        .str("world")
        .str("anyone")
        .i32(3); // ephemeral sequential
    let packet = RequestPacket::decode(&mut &body.0[..]).unwrap();
    let Request::Create(create) = packet.request else {
        panic!("not a create: {packet:?}")
    };
    assert_eq!(create.data, None);
    assert_eq!(create.mode(), Ok(CreateMode::EphemeralSequential));
}

#[test]
fn ping_and_close() {
    let ping = W::new().i32(xid::PING).i32(11);
    let packet = RequestPacket::decode(&mut &ping.0[..]).unwrap();
    assert_eq!(packet, RequestPacket::new(-2, Request::Ping));
    let close = W::new().i32(9).i32(-11);
    let packet = RequestPacket::decode(&mut &close.0[..]).unwrap();
    assert_eq!(packet.request, Request::CloseSession);
    // The ping reply: header only.
    let reply = ReplyPacket::ok(xid::PING, 0x5_0000_0001, Response::Empty).to_bytes();
    assert_eq!(
        &reply[..],
        &W::new().i32(-2).i64(0x5_0000_0001).i32(0).0[..]
    );
}

#[test]
fn auth_packet_with_xid_minus_4() {
    let body = W::new()
        .i32(xid::AUTH)
        .i32(100)
        .i32(0)
        .str("digest")
        .str("user:secret");
    let packet = RequestPacket::decode(&mut &body.0[..]).unwrap();
    assert_eq!(packet.header.xid, -4);
    assert_eq!(
        packet.request,
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"user:secret"),
        })
    );
}

#[test]
fn transaction_as_kazoo_sends_it() {
    // kazoo: t = client.transaction(); t.create("/a", b"x"); t.check("/b", 3); t.commit()
    let body = W::new()
        .i32(5)
        .i32(14)
        .i32(1)
        .u8(0)
        .i32(-1) // MultiHeader(create, false, -1)
        .str("/a")
        .i32(1)
        .raw(b"x")
        .i32(1)
        .i32(31)
        .str("world")
        .str("anyone")
        .i32(0)
        .i32(13)
        .u8(0)
        .i32(-1) // MultiHeader(check, false, -1)
        .str("/b")
        .i32(3)
        .i32(-1)
        .u8(1)
        .i32(-1); // MultiHeader(-1, true, -1)
    let packet = RequestPacket::decode(&mut &body.0[..]).unwrap();
    let expected = RequestPacket::new(
        5,
        Request::Multi(vec![
            MultiOp::Create(CreateRequest {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"x")),
                acl: Acl::open_unsafe(),
                flags: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/b".into(),
                version: 3,
            }),
        ]),
    );
    assert_eq!(packet, expected);
    assert_eq!(&expected.to_bytes()[..], &body.0[..]);
}

#[test]
fn failed_multi_response() {
    // A multi whose second op failed: the first is rolled back (Ok), the second carries NoNode.
    let resp = Response::Multi(vec![
        MultiResult::Error { err: ErrorCode::Ok },
        MultiResult::Error {
            err: ErrorCode::NoNode,
        },
    ]);
    let mut out = BytesMut::new();
    resp.encode_body(&mut out);
    let expected = W::new()
        .i32(-1)
        .u8(0)
        .i32(0)
        .i32(0)
        .i32(-1)
        .u8(0)
        .i32(-101)
        .i32(-101)
        .i32(-1)
        .u8(1)
        .i32(-1);
    assert_eq!(&out[..], &expected.0[..]);
}

#[test]
fn multi_rejects_mixed_kinds() {
    let body = W::new()
        .i32(5)
        .i32(14)
        .i32(4)
        .u8(0)
        .i32(-1) // a getData inside a multi
        .str("/a")
        .u8(0)
        .i32(-1)
        .u8(1)
        .i32(-1);
    let err = RequestPacket::decode(&mut &body.0[..]).unwrap_err();
    assert_eq!(err.header, Some(RequestHeader { xid: 5, op: 14 }));
    assert_eq!(
        err.error,
        DecodeError::InvalidMultiOp {
            op: 4,
            within: "multi"
        }
    );
}

#[test]
fn get_data_reply() {
    let stat = Stat {
        czxid: 2,
        mzxid: 3,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 1,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 3,
        num_children: 0,
        pzxid: 2,
    };
    let reply = ReplyPacket::ok(
        8,
        3,
        Response::GetData(GetDataResponse {
            data: Some(Bytes::from_static(b"bar")),
            stat,
        }),
    );
    let expected = W::new()
        .i32(8)
        .i64(3)
        .i32(0)
        .str("bar")
        .i64(2)
        .i64(3)
        .i64(1_700_000_000_000)
        .i64(1_700_000_000_001)
        .i32(1)
        .i32(0)
        .i32(0)
        .i64(0)
        .i32(3)
        .i32(0)
        .i64(2);
    assert_eq!(&reply.to_bytes()[..], &expected.0[..]);
}

#[test]
fn watch_notification() {
    let reply =
        ReplyPacket::notification(-1, WatcherEvent::node(EventType::NodeDataChanged, "/foo"));
    let expected = W::new().i32(-1).i64(-1).i32(0).i32(3).i32(3).str("/foo");
    assert_eq!(&reply.to_bytes()[..], &expected.0[..]);
}

#[test]
fn set_watches_with_xid_minus_8() {
    let body = W::new()
        .i32(xid::SET_WATCHES)
        .i32(101)
        .i64(0x300000007)
        .i32(1)
        .str("/d")
        .i32(0)
        .i32(-1) // a null vector reads as empty
        ;
    let packet = RequestPacket::decode(&mut &body.0[..]).unwrap();
    assert_eq!(
        packet.request,
        Request::SetWatches(SetWatches {
            relative_zxid: 0x300000007,
            data_watches: vec!["/d".into()],
            exist_watches: vec![],
            child_watches: vec![],
        })
    );
}

#[test]
fn add_watch_reply_has_an_error_response_body() {
    let reply = ReplyPacket::ok(3, 1, Response::AddWatch).to_bytes();
    assert_eq!(&reply[..], &W::new().i32(3).i64(1).i32(0).i32(0).0[..]);
}

#[test]
fn unknown_and_server_only_opcodes_keep_the_header() {
    let body = W::new().i32(12).i32(55);
    let err = RequestPacket::decode(&mut &body.0[..]).unwrap_err();
    assert_eq!(err.header, Some(RequestHeader { xid: 12, op: 55 }));
    assert_eq!(err.error, DecodeError::UnknownOpCode(55));
    let body = W::new().i32(12).i32(-10);
    let err = RequestPacket::decode(&mut &body.0[..]).unwrap_err();
    assert_eq!(err.error, DecodeError::NotARequest(OpCode::CreateSession));
    let err = RequestPacket::decode(&mut &[0u8, 0, 1][..]).unwrap_err();
    assert_eq!(err.header, None);
}
