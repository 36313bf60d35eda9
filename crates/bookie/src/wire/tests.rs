use super::*;
use proptest::prelude::*;

fn opt() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), any::<u64>().prop_map(Some)]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            opt(),
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>()
        )
            .prop_map(
                |(tag, ledger, entry, lac, payload, recovery)| Request::Add {
                    tag,
                    ledger,
                    entry,
                    lac,
                    payload,
                    recovery
                }
            ),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<bool>()).prop_map(
            |(tag, ledger, entry, fence)| Request::Read {
                tag,
                ledger,
                entry,
                fence
            }
        ),
        (any::<u64>(), any::<u64>(), any::<bool>())
            .prop_map(|(tag, ledger, fence)| Request::ReadLac { tag, ledger, fence }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u64>())
            .prop_map(|(tag, ledger, entry)| Response::Added { tag, ledger, entry }),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            opt(),
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(tag, ledger, entry, lac, payload)| Response::Entry {
                tag,
                ledger,
                entry,
                lac,
                payload
            }),
        (any::<u64>(), any::<u64>(), opt(), opt()).prop_map(|(tag, ledger, lac, last_entry)| {
            Response::Lac {
                tag,
                ledger,
                lac,
                last_entry,
            }
        }),
        (any::<u64>(), any::<u64>(), 0..Refusal::ALL.len()).prop_map(|(tag, ledger, i)| {
            Response::Refused {
                tag,
                ledger,
                why: Refusal::ALL[i],
            }
        }),
    ]
}

/// The body of the single frame in `framed`, checking the length prefix.
fn body(framed: &[u8]) -> &[u8] {
    let len = u32::from_be_bytes(framed[..4].try_into().unwrap()) as usize;
    assert_eq!(len + 4, framed.len());
    &framed[4..]
}

proptest! {
    #[test]
    fn requests_round_trip(r in request()) {
        let mut out = Vec::new();
        encode_request(&mut out, &r);
        prop_assert_eq!(decode_request(body(&out)), Ok(r));
    }

    #[test]
    fn responses_round_trip(r in response()) {
        let mut out = Vec::new();
        encode_response(&mut out, &r);
        prop_assert_eq!(decode_response(body(&out)), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        let _ = decode_hello(&bytes);
    }

    /// Every proper prefix is an error (never a different message), and every single-byte
    /// change either fails or decodes to a message that re-encodes to the changed bytes (the
    /// encoding is canonical: no ignored bytes).
    #[test]
    fn cuts_fail_and_flips_are_canonical(r in request(), s in response()) {
        let mut a = Vec::new();
        encode_request(&mut a, &r);
        let mut b = Vec::new();
        encode_response(&mut b, &s);
        let (a, b) = (body(&a).to_vec(), body(&b).to_vec());
        for cut in 0..a.len() {
            prop_assert!(decode_request(&a[..cut]).is_err());
        }
        for cut in 0..b.len() {
            prop_assert!(decode_response(&b[..cut]).is_err());
        }
        for i in 0..a.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = a.clone();
                d[i] ^= x;
                if let Ok(m) = decode_request(&d) {
                    let mut again = Vec::new();
                    encode_request(&mut again, &m);
                    prop_assert_eq!(body(&again), &d[..]);
                }
            }
        }
        for i in 0..b.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = b.clone();
                d[i] ^= x;
                if let Ok(m) = decode_response(&d) {
                    let mut again = Vec::new();
                    encode_response(&mut again, &m);
                    prop_assert_eq!(body(&again), &d[..]);
                }
            }
        }
    }
}

#[test]
fn a_payload_length_past_the_body_is_an_error_not_an_allocation() {
    let mut out = Vec::new();
    encode_request(
        &mut out,
        &Request::Add {
            tag: 1,
            ledger: 2,
            entry: 3,
            lac: None,
            payload: vec![7; 3],
            recovery: false,
        },
    );
    let mut b = body(&out).to_vec();
    let at = b.len() - 3 - 4;
    b[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(decode_request(&b), Err(WireError::Short { .. })));
}

#[test]
fn hello_round_trips_and_rejects_strangers() {
    let mut out = Vec::new();
    encode_hello(&mut out, PROTOCOL_VERSION);
    assert_eq!(out.len(), 10);
    assert_eq!(decode_hello(body(&out)), Ok(PROTOCOL_VERSION));
    assert_eq!(decode_hello(b"GET /"), Err(WireError::BadMagic));
    assert!(decode_hello(b"QLDG").is_err());
}

#[tokio::test]
async fn a_frame_over_the_cap_is_refused_before_reading_its_body() {
    let huge = (1u32 << 30).to_be_bytes();
    let mut input: &[u8] = &huge;
    let err = read_frame(&mut input, MAX_HELLO_BYTES).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let mut empty: &[u8] = &[];
    assert!(read_frame(&mut empty, 64).await.unwrap().is_none());
    let mut cut: &[u8] = &[0, 0];
    assert!(read_frame(&mut cut, 64).await.is_err());
}

#[tokio::test]
async fn frames_of_every_size_arrive_whole_in_small_pieces_and_never_overallocate() {
    for len in [0usize, 1, 100, 64 << 10, (64 << 10) + 1, 300_001] {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut framed = (len as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&body);
        let (mut tx, mut rx) = tokio::io::duplex(1000);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            tx.write_all(&framed).await.unwrap();
        });
        let got = read_frame(&mut rx, 1 << 20).await.unwrap().unwrap();
        writer.await.unwrap();
        assert_eq!(got, body);
        assert!(
            got.capacity() <= len.max(1),
            "{len}: capacity {}",
            got.capacity()
        );
    }
    let mut cut: &[u8] = &[0, 0, 0, 9, 1, 2];
    assert!(read_frame(&mut cut, 64).await.is_err());
}
