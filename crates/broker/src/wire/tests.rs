use super::codes::ERROR_CODES;
use super::*;
use partition::{Acks, Batch, BatchHeader};
use proptest::prelude::*;

fn topic() -> impl Strategy<Value = TopicPartition> {
    ("[A-Za-z0-9._-]{1,20}", any::<u32>()).prop_map(|(t, p)| TopicPartition::new(&t, p))
}

fn producer() -> impl Strategy<Value = Option<Producer>> {
    proptest::option::of(
        (any::<u64>(), any::<u64>()).prop_map(|(id, first_seq)| Producer { id, first_seq }),
    )
}

fn records(min: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), min..4)
}

fn partition_request() -> impl Strategy<Value = Request> {
    let acks = prop_oneof![Just(Acks::None), Just(Acks::Leader), Just(Acks::All)];
    let replica = proptest::option::of((any::<u32>(), any::<u64>(), any::<u32>()).prop_map(
        |(broker, broker_epoch, leader_epoch)| ReplicaFetch {
            broker,
            broker_epoch,
            leader_epoch,
        },
    ));
    prop_oneof![
        (acks, producer(), records(0)).prop_map(|(acks, producer, records)| Request::Produce {
            acks,
            producer,
            records
        }),
        (any::<u64>(), any::<u32>(), replica).prop_map(|(offset, max_bytes, replica)| {
            Request::Fetch {
                offset,
                max_bytes,
                replica,
            }
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(epoch, leader_epoch)| Request::OffsetForEpoch {
            epoch,
            leader_epoch
        }),
    ]
}

fn request() -> impl Strategy<Value = BrokerRequest> {
    prop_oneof![
        (any::<u64>(), topic(), partition_request())
            .prop_map(|(tag, tp, request)| BrokerRequest::Partition { tag, tp, request }),
        (any::<u64>(), topic()).prop_map(|(tag, tp)| BrokerRequest::Describe { tag, tp }),
    ]
}

fn batch() -> impl Strategy<Value = Batch> {
    (0..u64::MAX / 2, any::<u32>(), producer(), records(1)).prop_map(
        |(base_offset, epoch, producer, records)| Batch {
            header: BatchHeader {
                base_offset,
                count: records.len() as u32,
                epoch,
                producer,
            },
            records,
        },
    )
}

fn partition_response() -> impl Strategy<Value = Response> {
    prop_oneof![
        any::<u64>().prop_map(|base_offset| Response::Produced { base_offset }),
        (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(batch(), 0..3)
        )
            .prop_map(|(high_watermark, log_end, batches)| Response::Fetched {
                high_watermark,
                log_end,
                batches
            }),
        proptest::option::of((any::<u32>(), any::<u64>()))
            .prop_map(|end| Response::EpochEnd { end }),
        (0..ERROR_CODES.len()).prop_map(|i| Response::Error(ERROR_CODES[i].0)),
    ]
}

fn response() -> impl Strategy<Value = BrokerResponse> {
    let role = prop_oneof![
        Just(Role::Leader),
        Just(Role::Follower),
        Just(Role::Idle),
        Just(Role::NoReplica)
    ];
    prop_oneof![
        (any::<u64>(), partition_response())
            .prop_map(|(tag, response)| BrokerResponse::Partition { tag, response }),
        (
            any::<u64>(),
            role,
            proptest::option::of(any::<u32>()),
            any::<u64>(),
            any::<u64>()
        )
            .prop_map(|(tag, role, leader_epoch, high_watermark, log_end)| {
                BrokerResponse::Described {
                    tag,
                    role,
                    leader_epoch,
                    high_watermark,
                    log_end,
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

fn request_body(r: &BrokerRequest) -> Vec<u8> {
    let mut out = Vec::new();
    encode_request(&mut out, r);
    body(&out).to_vec()
}

fn response_body(r: &BrokerResponse) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response(&mut out, r);
    body(&out).to_vec()
}

proptest! {
    #[test]
    fn requests_round_trip(r in request()) {
        prop_assert_eq!(decode_request(&request_body(&r)), Ok(r));
    }

    #[test]
    fn responses_round_trip(r in response()) {
        prop_assert_eq!(decode_response(&response_body(&r)), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
        let _ = decode_hello(&bytes);
    }

    /// Every proper prefix is an error, trailing bytes are an error, and every single-byte
    /// change either fails or decodes to a message that re-encodes to the changed bytes (the
    /// encoding is canonical: no ignored bytes).
    #[test]
    fn cuts_and_trailers_fail_and_flips_are_canonical(r in request(), s in response()) {
        let (a, b) = (request_body(&r), response_body(&s));
        for cut in 0..a.len() {
            prop_assert!(decode_request(&a[..cut]).is_err());
        }
        for cut in 0..b.len() {
            prop_assert!(decode_response(&b[..cut]).is_err());
        }
        let (mut a2, mut b2) = (a.clone(), b.clone());
        a2.push(0);
        b2.push(0);
        prop_assert_eq!(decode_request(&a2), Err(WireError::Trailing(1)));
        prop_assert_eq!(decode_response(&b2), Err(WireError::Trailing(1)));
        for i in 0..a.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = a.clone();
                d[i] ^= x;
                if let Ok(m) = decode_request(&d) {
                    prop_assert_eq!(request_body(&m), d);
                }
            }
        }
        for i in 0..b.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut d = b.clone();
                d[i] ^= x;
                if let Ok(m) = decode_response(&d) {
                    prop_assert_eq!(response_body(&m), d);
                }
            }
        }
    }
}

#[test]
fn error_codes_are_stable_and_distinct() {
    for (code, byte) in ERROR_CODES {
        assert_eq!(codes::error_to(code), byte);
        assert_eq!(codes::error_from(byte), Ok(code));
    }
    assert_eq!(codes::error_from(0), Err(WireError::UnknownErrorCode(0)));
    assert_eq!(codes::error_from(10), Err(WireError::UnknownErrorCode(10)));
}

#[test]
fn bad_topics_and_hostile_counts_are_errors_not_allocations() {
    let tp = TopicPartition::new("orders", 3);
    let produce = BrokerRequest::Partition {
        tag: 1,
        tp,
        request: Request::Produce {
            acks: Acks::All,
            producer: None,
            records: vec![b"abc".to_vec()],
        },
    };
    let good = request_body(&produce);
    // kind 1, tag 8, topic length 2 + "orders" 6, partition 4, acks 1, producer 17.
    let count_at = 1 + 8 + 2 + 6 + 4 + 1 + 17;
    let mut huge = good.clone();
    huge[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode_request(&huge),
        Err(WireError::BadCount { .. })
    ));
    let mut long = good.clone();
    long[count_at + 4..count_at + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode_request(&long),
        Err(WireError::Short { .. })
    ));
    let mut slash = good.clone();
    slash[11] = b'/';
    assert_eq!(decode_request(&slash), Err(WireError::BadTopic { at: 9 }));
    let mut empty = good;
    empty[9..11].copy_from_slice(&0u16.to_be_bytes());
    assert_eq!(decode_request(&empty), Err(WireError::BadTopic { at: 9 }));
    let mut acks = request_body(&produce);
    acks[count_at - 18] = 3;
    assert_eq!(decode_request(&acks), Err(WireError::UnknownAcks(3)));
}

#[test]
fn hello_round_trips_and_rejects_strangers() {
    let mut out = Vec::new();
    encode_hello(&mut out, PROTOCOL_VERSION);
    assert_eq!(out.len(), 10);
    assert_eq!(decode_hello(body(&out)), Ok(PROTOCOL_VERSION));
    assert_eq!(decode_hello(b"GET /"), Err(WireError::BadMagic));
    assert_eq!(decode_hello(b"QLDG\0\x01"), Err(WireError::BadMagic));
    assert!(decode_hello(b"QLOG").is_err());
    assert_eq!(decode_hello(b"QLOG\0\x01\0"), Err(WireError::Trailing(1)));
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
    let mut short_body: &[u8] = &[0, 0, 0, 9, 1, 2];
    assert!(read_frame(&mut short_body, 64).await.is_err());
}

#[tokio::test]
async fn frames_arrive_whole_in_small_pieces_and_never_overallocate() {
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
}

#[test]
fn a_frame_holding_the_largest_batch_fits_the_default_cap() {
    let max_batch = 8 << 20;
    let record = vec![0u8; max_batch - crate::batch_codec::BATCH_HEADER_BYTES - 4];
    let tp = TopicPartition::new(&"t".repeat(200), u32::MAX);
    let produce = BrokerRequest::Partition {
        tag: 1,
        tp,
        request: Request::Produce {
            acks: Acks::All,
            producer: Some(Producer {
                id: 1,
                first_seq: 2,
            }),
            records: vec![record.clone()],
        },
    };
    assert!(request_body(&produce).len() <= DEFAULT_MAX_FRAME_BYTES as usize);
    let batch = Batch {
        header: BatchHeader {
            base_offset: 0,
            count: 1,
            epoch: 1,
            producer: None,
        },
        records: vec![record],
    };
    assert_eq!(crate::batch_codec::encoded_len(&batch), max_batch);
    let fetched = BrokerResponse::Partition {
        tag: 1,
        response: Response::Fetched {
            high_watermark: 1,
            log_end: 1,
            batches: vec![batch],
        },
    };
    assert!(response_body(&fetched).len() <= DEFAULT_MAX_FRAME_BYTES as usize);
}

#[test]
fn the_fetched_bound_holds_for_the_smallest_batches() {
    let tiny = Batch {
        header: BatchHeader {
            base_offset: 0,
            count: 1,
            epoch: 1,
            producer: None,
        },
        records: vec![Vec::new()],
    };
    let size = crate::batch_codec::encoded_len(&tiny) as u32;
    assert_eq!(size, 37);
    for (max_bytes, n) in [(0u32, 1usize), (37 * 100, 101), (1000, 28)] {
        // What the store may return: batches until their sizes reach max_bytes.
        assert!(n as u32 * size <= max_bytes + size);
        let fetched = BrokerResponse::Partition {
            tag: 1,
            response: Response::Fetched {
                high_watermark: 0,
                log_end: 0,
                batches: vec![tiny.clone(); n],
            },
        };
        let len = response_body(&fetched).len() as u64;
        assert!(
            len <= fetched_body_bound(max_bytes, size),
            "{max_bytes}: {len}"
        );
    }
}

#[test]
fn isr_requests_and_answers_round_trip_and_truncations_fail() {
    use partition::{IsrRequest, Member};
    let request = BrokerRequest::AlterIsr {
        tag: 9,
        tp: TopicPartition::new("orders", 2),
        request: IsrRequest {
            leader: 1,
            leader_epoch: 4,
            state_version: 17,
            isr: vec![
                Member {
                    broker: 1,
                    epoch: 5,
                },
                Member {
                    broker: 3,
                    epoch: 8,
                },
            ],
        },
    };
    let mut out = Vec::new();
    encode_request(&mut out, &request);
    let body = &out[LENGTH_BYTES..];
    assert_eq!(decode_request(body).unwrap(), request);
    for cut in 0..body.len() {
        assert!(decode_request(&body[..cut]).is_err());
    }
    for refused in [
        None,
        Some(IsrRefusal {
            leader_epoch: 4,
            deposed: true,
            state_version: 18,
        }),
    ] {
        let answer = BrokerResponse::IsrAnswer { tag: 9, refused };
        let mut out = Vec::new();
        encode_response(&mut out, &answer);
        let body = &out[LENGTH_BYTES..];
        assert_eq!(decode_response(body).unwrap(), answer);
        for cut in 0..body.len() {
            assert!(decode_response(&body[..cut]).is_err());
        }
    }
}
