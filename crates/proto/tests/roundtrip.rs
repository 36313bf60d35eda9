//! encode ∘ decode = id for every record the protocol carries.

mod common;

use bytes::{Buf, BytesMut};
use common::*;
use proptest::prelude::*;
use proto::*;

fn roundtrip<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = value.to_bytes();
    assert!(bytes.len() >= T::MIN_LEN, "MIN_LEN is a lower bound");
    let mut input = &bytes[..];
    let back = T::decode(&mut input).expect("decodes");
    assert_eq!(&back, value);
    assert_eq!(input.remaining(), 0, "decode consumes exactly the encoding");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn request_packets(packet in request_packet()) {
        let bytes = packet.to_bytes();
        let mut input = &bytes[..];
        let back = RequestPacket::decode(&mut input).expect("decodes");
        prop_assert_eq!(back, packet);
        prop_assert_eq!(input.remaining(), 0);
    }

    #[test]
    fn framed_request_packets(packets in proptest::collection::vec(request_packet(), 1..5)) {
        let mut wire = BytesMut::new();
        for p in &packets {
            encode_frame(&mut wire, p);
        }
        let decoder = FrameDecoder::default();
        let mut back = Vec::new();
        while let Some(frame) = decoder.decode(&mut wire).unwrap() {
            back.push(RequestPacket::decode(&mut frame.clone()).unwrap());
        }
        prop_assert!(wire.is_empty());
        prop_assert_eq!(back, packets);
    }

    #[test]
    fn responses((op, response) in response(), xid in any::<i32>(), zxid in any::<i64>()) {
        let packet = ReplyPacket::ok(xid, zxid, response);
        let bytes = packet.to_bytes();
        let mut input = &bytes[..];
        let header = ReplyHeader::decode(&mut input).unwrap();
        prop_assert_eq!(header, packet.header);
        let back = Response::decode_body(op, header.err, &mut input).unwrap();
        prop_assert_eq!(back, packet.response);
        prop_assert_eq!(input.remaining(), 0);
    }

    #[test]
    fn error_replies_are_header_only(op in proptest::sample::select(OpCode::ALL), err in error_code()) {
        prop_assume!(err != ErrorCode::Ok);
        let bytes = ReplyPacket::error(7, 9, err).to_bytes();
        prop_assert_eq!(bytes.len(), 16);
        let mut input = &bytes[..];
        let header = ReplyHeader::decode(&mut input).unwrap();
        prop_assert_eq!(Response::decode_body(op, header.err, &mut input).unwrap(), Response::Empty);
    }

    #[test]
    fn connect_records(req in connect_request(), resp in connect_response()) {
        roundtrip(&req);
        roundtrip(&resp);
    }

    #[test]
    fn data_records(stat in stat(), acls in acls(), id in id()) {
        roundtrip(&stat);
        roundtrip(&acls);
        roundtrip(&id);
    }

    #[test]
    fn headers(xid in any::<i32>(), op in any::<i32>(), zxid in any::<i64>(), err in any::<i32>(), done in any::<bool>()) {
        roundtrip(&RequestHeader { xid, op });
        roundtrip(&ReplyHeader { xid, zxid, err });
        roundtrip(&MultiHeader { op, done, err });
    }

    #[test]
    fn watcher_events(event in watcher_event()) {
        roundtrip(&event);
    }

    #[test]
    fn single_records(create in create(), ttl in create_ttl(), s in string(), data in data(), n in any::<i32>()) {
        roundtrip(&create);
        roundtrip(&ttl);
        roundtrip(&SetDataRequest { path: s.clone(), data: data.clone(), version: n });
        roundtrip(&GetDataResponse { data, stat: Stat::default() });
        roundtrip(&CreateResponse { path: s.clone() });
        roundtrip(&ErrorResponse { err: n });
        roundtrip(&AddWatchRequest { path: s, mode: n });
    }
}
