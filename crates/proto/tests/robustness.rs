//! Random and mutated packets: the decoders return Ok or Err, never panic, and never make an
//! allocation out of proportion to the input (a wild length must not reserve gigabytes).
//!
//! A global allocator records the largest single allocation made on the current thread while
//! tracking is switched on, so each case can check its own decode.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::{Buf, Bytes, BytesMut};
use common::*;
use proptest::prelude::*;
use proto::*;

struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let on = TRACKING.try_with(Cell::get).unwrap_or(false);
    if on {
        let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
    }
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns the largest single allocation it made.
fn peak_allocation(f: impl FnOnce()) -> usize {
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    f();
    TRACKING.with(|t| t.set(false));
    PEAK.with(Cell::get)
}

/// The most any decode may allocate at once for `len` input bytes. Decoded values are bigger
/// than their encoding (a 4-byte empty string becomes a 24-byte `String`, a 9-byte multi op a
/// ~100-byte enum, and a growing `Vec` doubles), so the factor is generous; what it rules out
/// is an allocation sized by a length field rather than by the input.
fn allowance(len: usize) -> usize {
    64 * len + 4096
}

/// Feeds `input` to every decoder a server or client would run on untrusted bytes.
fn decode_everything(input: &[u8]) {
    // As a stream of frames: the first is a ConnectRequest, the rest request packets.
    let decoder = FrameDecoder::new(4096);
    let mut buf = BytesMut::from(input);
    let mut first = true;
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        if first {
            let _ = ConnectRequest::decode(&mut frame.clone());
            first = false;
        } else {
            let _ = RequestPacket::decode(&mut frame.clone());
        }
    }
    // As an unframed payload, in every role.
    let bytes = Bytes::copy_from_slice(input);
    let _ = RequestPacket::decode(&mut bytes.clone());
    let _ = ConnectRequest::decode(&mut bytes.clone());
    let _ = ConnectResponse::decode(&mut bytes.clone());
    for op in OpCode::ALL {
        let _ = Request::decode_body(op.as_i32(), &mut bytes.clone());
        let mut reply = bytes.clone();
        if let Ok(header) = ReplyHeader::decode(&mut reply) {
            let _ = Response::decode_body(*op, header.err, &mut reply);
        }
        let _ = Response::decode_body(*op, 0, &mut bytes.clone());
    }
}

fn check(input: &[u8]) -> Result<(), TestCaseError> {
    let peak = peak_allocation(|| decode_everything(input));
    prop_assert!(
        peak <= allowance(input.len()),
        "allocated {} bytes at once for {} bytes of input",
        peak,
        input.len()
    );
    Ok(())
}

/// Ways to damage a valid packet.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    Truncate(usize),
    /// Overwrite four bytes with a hostile length.
    WildLength(usize, i32),
    Insert(usize, Vec<u8>),
    SetByte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(i32::MAX),
                Just(i32::MIN),
                Just(-1),
                Just(-2),
                Just(0x0010_0001),
                Just(0x7fff_0000),
                any::<i32>(),
                0i32..64,
            ]
        )
            .prop_map(|(i, v)| Mutation::WildLength(i, v)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        Mutation::FlipBit(i, b) => bytes[i % n] ^= 1 << b,
        Mutation::Truncate(i) => bytes.truncate(i % n),
        Mutation::WildLength(i, v) => {
            let at = i % n;
            for (k, byte) in v.to_be_bytes().iter().enumerate() {
                if at + k < n {
                    bytes[at + k] = *byte;
                }
            }
        }
        Mutation::Insert(i, extra) => {
            let at = i % (n + 1);
            bytes.splice(at..at, extra.iter().copied());
        }
        Mutation::SetByte(i, b) => bytes[i % n] = *b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&input)?;
    }

    #[test]
    fn random_bytes_behind_a_plausible_header(
        xid in any::<i32>(),
        op in proptest::sample::select(OpCode::ALL),
        tail in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut input = Vec::new();
        input.extend_from_slice(&xid.to_be_bytes());
        input.extend_from_slice(&op.as_i32().to_be_bytes());
        input.extend_from_slice(&tail);
        check(&input)?;
    }

    #[test]
    fn mutated_request_packets(
        packet in request_packet(),
        mutations in proptest::collection::vec(mutation(), 1..5),
        framed in any::<bool>(),
    ) {
        let mut bytes = if framed {
            let mut out = BytesMut::new();
            encode_frame(&mut out, &packet);
            out.to_vec()
        } else {
            packet.to_bytes().to_vec()
        };
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes)?;
    }

    #[test]
    fn mutated_replies(
        (_op, response) in response(),
        mutations in proptest::collection::vec(mutation(), 1..5),
    ) {
        let mut bytes = ReplyPacket::ok(1, 2, response).to_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes)?;
    }

    #[test]
    fn mutated_connect_requests(
        req in connect_request(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut bytes = req.to_bytes().to_vec();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes)?;
    }

    /// A frame cut at every point is "incomplete" until its last byte, then whole.
    #[test]
    fn truncated_frames_are_incomplete(packet in request_packet()) {
        let mut out = BytesMut::new();
        encode_frame(&mut out, &packet);
        let decoder = FrameDecoder::default();
        for cut in 0..out.len() {
            prop_assert_eq!(decoder.check(&out[..cut]), Ok(None));
        }
        prop_assert_eq!(decoder.check(&out), Ok(Some(out.len())));
    }
}

#[test]
fn hostile_lengths_allocate_nothing_big() {
    // A create whose path claims 2 GiB, a vector of 2^31-1 ACLs, a huge data buffer, and a
    // multi with a header stream that never ends.
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let head = |op: i32| {
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_be_bytes());
        v.extend_from_slice(&op.to_be_bytes());
        v
    };
    let mut c = head(1);
    c.extend_from_slice(&i32::MAX.to_be_bytes());
    cases.push(c);
    let mut c = head(1);
    c.extend_from_slice(&[0, 0, 0, 1, b'/', 0xff, 0xff, 0xff, 0xff]);
    c.extend_from_slice(&i32::MAX.to_be_bytes());
    cases.push(c);
    let mut c = head(5);
    c.extend_from_slice(&[0, 0, 0, 1, b'/']);
    c.extend_from_slice(&0x7fff_fff0i32.to_be_bytes());
    cases.push(c);
    let mut c = head(14);
    for _ in 0..50 {
        c.extend_from_slice(&[0, 0, 0, 13, 0, 0xff, 0xff, 0xff, 0xff]);
        c.extend_from_slice(&[0, 0, 0, 1, b'/', 0, 0, 0, 0]);
    }
    cases.push(c);
    let mut c = head(101);
    c.extend_from_slice(&[0; 8]);
    c.extend_from_slice(&i32::MAX.to_be_bytes());
    cases.push(c);
    for case in cases {
        let peak = peak_allocation(|| {
            let r = RequestPacket::decode(&mut &case[..]);
            assert!(r.is_err() || matches!(r, Ok(ref p) if p.header.op == 14));
        });
        assert!(peak <= allowance(case.len()), "peak {peak} for {case:?}");
        let mut framed = BytesMut::new();
        framed.extend_from_slice(&i32::MAX.to_be_bytes());
        framed.extend_from_slice(&case);
        assert!(FrameDecoder::default().decode(&mut framed).is_err());
        assert_eq!(framed.remaining(), 4 + case.len(), "nothing consumed");
    }
}

#[test]
fn the_tracker_sees_allocations() {
    let peak = peak_allocation(|| {
        std::hint::black_box(vec![0u8; 100_000]);
    });
    assert!(peak >= 100_000);
}
