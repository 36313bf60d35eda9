use tokio::io::AsyncWriteExt;

use super::*;

#[tokio::test]
async fn a_length_over_the_cap_is_refused_before_anything_is_allocated() {
    // Only the length arrives: a reader that allocated the announced gigabyte, or waited for
    // its body, would not return this error.
    let huge = (1u32 << 30).to_be_bytes();
    let mut input: &[u8] = &huge;
    let err = read_frame(&mut input, MAX_HELLO_BYTES).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<TooLong>());
    assert_eq!(
        inner,
        Some(&TooLong {
            len: 1 << 30,
            cap: 64
        })
    );
    let mut at_cap: &[u8] = &[0, 0, 0, 2, 7, 8];
    assert_eq!(read_frame(&mut at_cap, 2).await.unwrap(), Some(vec![7, 8]));
}

#[tokio::test]
async fn a_clean_end_of_stream_is_none_and_an_end_inside_a_frame_is_an_error() {
    let mut empty: &[u8] = &[];
    assert!(read_frame(&mut empty, 64).await.unwrap().is_none());
    let mut cut_length: &[u8] = &[0, 0];
    let err = read_frame(&mut cut_length, 64).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    let mut cut_body: &[u8] = &[0, 0, 0, 9, 1, 2];
    let err = read_frame(&mut cut_body, 64).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    // Two whole frames, then the end: both, then None.
    let mut two: &[u8] = &[0, 0, 0, 1, 5, 0, 0, 0, 0];
    assert_eq!(read_frame(&mut two, 64).await.unwrap(), Some(vec![5]));
    assert_eq!(read_frame(&mut two, 64).await.unwrap(), Some(vec![]));
    assert!(read_frame(&mut two, 64).await.unwrap().is_none());
}

#[tokio::test]
async fn frames_split_in_small_pieces_arrive_whole_and_never_overallocate() {
    for len in [0usize, 1, 100, 64 << 10, (64 << 10) + 1, 300_001] {
        let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut framed = Vec::new();
        frame(&mut framed, |b| b.extend_from_slice(&body));
        // A small duplex hands the reader a few bytes a read (3 for the small frames, so the
        // length arrives split too).
        let (mut tx, mut rx) = tokio::io::duplex(if len <= 100 { 3 } else { 1000 });
        let writer = tokio::spawn(async move { tx.write_all(&framed).await.unwrap() });
        let got = read_frame(&mut rx, 1 << 20).await.unwrap().unwrap();
        writer.await.unwrap();
        assert_eq!(got, body);
        let cap = got.capacity();
        assert!(cap <= len.max(1), "{len}: capacity {cap}");
    }
}

#[test]
fn the_frame_helper_prefixes_the_body_length() {
    let mut out = vec![9];
    frame(&mut out, |b| b.extend_from_slice(b"abc"));
    assert_eq!(out, [9, 0, 0, 0, 3, b'a', b'b', b'c']);
}

#[test]
fn hello_round_trips_and_rejects_strangers() {
    let mut out = Vec::new();
    encode_hello(&mut out, b"QTST", 7);
    assert_eq!(out, [0, 0, 0, 6, b'Q', b'T', b'S', b'T', 0, 7]);
    assert_eq!(decode_hello(&out[LENGTH_BYTES..], b"QTST"), Ok(7));
    let bad = HelloError::BadMagic(*b"QTST");
    assert_eq!(decode_hello(b"GET /", b"QTST"), Err(bad.clone()));
    assert_eq!(decode_hello(b"QLOG\0\x01", b"QTST"), Err(bad.clone()));
    assert_eq!(bad.to_string(), "hello does not start with the magic QTST");
    let short = |at, needed| Err(HelloError::Short { at, needed });
    assert_eq!(decode_hello(b"QT", b"QTST"), short(0, 2));
    assert_eq!(decode_hello(b"QTST", b"QTST"), short(4, 2));
    assert_eq!(decode_hello(b"QTST\0", b"QTST"), short(4, 1));
    assert_eq!(
        decode_hello(b"QTST\0\x01\0", b"QTST"),
        Err(HelloError::Trailing(1))
    );
}
