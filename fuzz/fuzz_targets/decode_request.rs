//! Arbitrary bytes through the frame decoder and the request decoders, as a server sees them
//! on a connection: the first frame is a ConnectRequest, the rest are request packets.
//!
//! Oracle: no panic (libFuzzer reports one as a crash), and whatever decodes re-encodes to
//! something that decodes to the same value.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use proto::{ConnectRequest, Decode, Encode, FrameDecoder, RequestPacket};

fn check_request(mut frame: &[u8]) {
    if let Ok(packet) = RequestPacket::decode(&mut frame) {
        let again = RequestPacket::decode(&mut &packet.to_bytes()[..])
            .expect("a decoded packet re-encodes to a decodable one");
        assert_eq!(again, packet);
    }
}

fuzz_target!(|data: &[u8]| {
    // A small maximum so that lengths near it are reachable.
    let decoder = FrameDecoder::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    let mut first = true;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        if first {
            if let Ok(req) = ConnectRequest::decode(&mut &frame[..]) {
                let again = ConnectRequest::decode(&mut &req.to_bytes()[..]).expect("re-decodes");
                assert_eq!(again, req);
            }
            first = false;
        } else {
            check_request(&frame);
        }
    }
    // The same bytes as one unframed packet.
    check_request(data);
});
