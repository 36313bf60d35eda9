//! Tests of the peer wire format: every frame round-trips, garbage is an error.

use super::*;

fn roundtrip(frame: PeerFrame) {
    let bytes = encode(&frame);
    // The pieces a SNAP is sent in (sharing the snapshot) are the same bytes.
    assert_eq!(encode_parts(&frame).concat(), bytes[..]);
    assert_eq!(
        u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
        bytes.len() - 4
    );
    assert_eq!(decode(&bytes[4..]).unwrap(), frame);
    let payload = Bytes::copy_from_slice(&bytes[4..]);
    assert_eq!(decode_shared(&payload).unwrap(), frame);
    // Every cut of it is an error, never a panic.
    for cut in 0..bytes.len() - 4 {
        assert!(decode(&bytes[4..4 + cut]).is_err());
    }
}

#[test]
fn every_frame_roundtrips() {
    let txn = Txn {
        zxid: Zxid::new(3, 9),
        data: Bytes::from_static(b"abc"),
    };
    let e = Epoch(3);
    let vote = Vote {
        leader: ServerId(2),
        epoch: e,
        zxid: Zxid::new(2, 5),
    };
    let messages = vec![
        Message::Vote(Notification {
            round: 7,
            state: PeerState::Following,
            vote,
            membership: zab::Membership::new(vec![ServerId(1), ServerId(2), ServerId(3)], vec![]),
        }),
        Message::CEpoch {
            link: 1,
            accepted_epoch: e,
        },
        Message::NewEpoch {
            link: 1,
            seq: 2,
            epoch: e,
        },
        Message::AckEpoch {
            link: 1,
            epoch: e,
            current_epoch: Epoch(2),
            last_zxid: Zxid::new(2, 5),
            promised: true,
        },
        Message::Diff {
            link: 1,
            seq: 3,
            epoch: e,
            txns: vec![txn.clone(), txn.clone()],
        },
        Message::Trunc {
            link: 1,
            seq: 4,
            epoch: e,
            zxid: Zxid::new(2, 1),
        },
        Message::Snap {
            link: 1,
            seq: 5,
            epoch: e,
            snapshot: Snapshot {
                zxid: Zxid::new(2, 4),
                data: Bytes::from_static(b"state"),
            },
            membership: zab::Membership {
                version: Zxid::new(2, 3),
                ..zab::Membership::new(vec![ServerId(1), ServerId(2)], vec![ServerId(7)])
            },
        },
        Message::NewLeader {
            link: 1,
            seq: 6,
            epoch: e,
            last_zxid: Zxid::new(3, 0),
        },
        Message::AckNewLeader {
            link: 1,
            epoch: e,
            zxid: Zxid::new(3, 0),
        },
        Message::CommitNewLeader {
            link: 1,
            seq: 7,
            epoch: e,
            committed: Zxid::new(3, 0),
        },
        Message::Propose {
            link: 1,
            seq: 8,
            epoch: e,
            txn,
        },
        Message::Ack {
            link: 1,
            epoch: e,
            zxid: Zxid::new(3, 9),
        },
        Message::Commit {
            link: 1,
            seq: 9,
            epoch: e,
            zxid: Zxid::new(3, 9),
        },
        Message::Ping {
            link: 1,
            seq: 10,
            epoch: e,
            round: 4,
        },
        Message::PingAck {
            link: 1,
            epoch: e,
            round: 4,
        },
    ];
    for m in messages {
        roundtrip(PeerFrame::Zab(m));
    }
    roundtrip(PeerFrame::Hello {
        version: PROTOCOL_VERSION,
        id: 3,
        nonce: [7; NONCE_BYTES],
    });
    roundtrip(PeerFrame::Challenge {
        version: PROTOCOL_VERSION,
        id: 1,
        nonce: [8; NONCE_BYTES],
        mac: [9; MAC_BYTES],
    });
    roundtrip(PeerFrame::Proof {
        mac: [10; MAC_BYTES],
    });
    roundtrip(PeerFrame::Keepalive);
    roundtrip(PeerFrame::Forward {
        session: -5,
        cxid: 9,
        auth: vec![Id {
            scheme: "digest".into(),
            id: "u:h".into(),
        }],
        request: Bytes::from_static(b"\0\0\0\x01"),
    });
    roundtrip(PeerFrame::CreateSession {
        session: 77,
        timeout_ms: 4000,
    });
    roundtrip(PeerFrame::Touch {
        sessions: vec![1, 2, 3],
    });
    roundtrip(PeerFrame::Sync { token: 5 });
    roundtrip(PeerFrame::SyncDone {
        token: 5,
        zxid: zab::Zxid::from_u64(99),
    });
}

/// Every handshake frame fits the cap put on a stranger's first frames.
#[test]
fn handshake_frames_fit_the_handshake_cap() {
    let frames = [
        PeerFrame::Hello {
            version: PROTOCOL_VERSION,
            id: u64::MAX,
            nonce: [0; NONCE_BYTES],
        },
        PeerFrame::Challenge {
            version: PROTOCOL_VERSION,
            id: u64::MAX,
            nonce: [0; NONCE_BYTES],
            mac: [0; MAC_BYTES],
        },
        PeerFrame::Proof {
            mac: [0; MAC_BYTES],
        },
    ];
    for frame in frames {
        assert!(encode(&frame).len() - 4 <= MAX_HANDSHAKE_FRAME, "{frame:?}");
    }
}

#[test]
fn garbage_is_an_error() {
    assert!(decode(&[]).is_err());
    assert!(decode(&[99]).is_err());
    assert!(decode(&[5, 0xff, 0xff, 0xff, 0xff]).is_err());
    assert!(decode(&[
        2, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0x7f, 0xff, 0xff, 0xff
    ])
    .is_err());
}

#[test]
fn a_snapshot_decoded_from_shared_bytes_is_not_copied() {
    let frame = PeerFrame::Zab(Message::Snap {
        link: 1,
        seq: 5,
        epoch: Epoch(2),
        snapshot: Snapshot {
            zxid: Zxid::new(2, 4),
            data: Bytes::from(vec![7u8; 100_000]),
        },
        membership: zab::Membership::new(vec![ServerId(1), ServerId(2)], vec![]),
    });
    let payload = encode(&frame).slice(4..);
    let within = |data: &Bytes| {
        let range = payload.as_ptr_range();
        range.contains(&data.as_ptr()) && data.len() == 100_000
    };
    let Ok(PeerFrame::Zab(Message::Snap { snapshot, .. })) = decode_shared(&payload) else {
        panic!("not a SNAP");
    };
    assert!(within(&snapshot.data), "the snapshot shares the payload");
    let Ok(PeerFrame::Zab(Message::Snap { snapshot, .. })) = decode(&payload) else {
        panic!("not a SNAP");
    };
    assert!(!within(&snapshot.data), "decode copies");
    // A small byte string is copied even from shared bytes: it must not hold the frame.
    let frame = PeerFrame::Zab(Message::Propose {
        link: 1,
        seq: 6,
        epoch: Epoch(2),
        txn: Txn {
            zxid: Zxid::new(2, 5),
            data: Bytes::from(vec![1u8; 200]),
        },
    });
    let payload = encode(&frame).slice(4..);
    let Ok(PeerFrame::Zab(Message::Propose { txn, .. })) = decode_shared(&payload) else {
        panic!("not a PROPOSE");
    };
    assert!(!payload.as_ptr_range().contains(&txn.data.as_ptr()));
}
