//! Connections: pipelining, the in-flight bound, timeouts, broken connections, the frame cap.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use broker::wire::{self, BrokerRequest, BrokerResponse};
use partition::{Request, Response, TopicPartition};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::fake::{quick_config, FakeBroker};
use crate::conn::{Conn, ConnConfig, Pool, MAX_IN_FLIGHT_REQUESTS};
use crate::LogError;

fn fetch(tag: u64, offset: u64) -> BrokerRequest {
    BrokerRequest::Partition {
        tag,
        tp: TopicPartition::new("t", 0),
        request: Request::Fetch {
            offset,
            max_bytes: 1000,
            replica: None,
        },
    }
}

fn fetch_offset(request: &BrokerRequest) -> u64 {
    match request {
        BrokerRequest::Partition {
            request: Request::Fetch { offset, .. },
            ..
        } => *offset,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

/// Each request's answer names the offset it asked for.
fn expect_own_answer(offset: u64, answer: Result<BrokerResponse, LogError>) {
    match answer {
        Ok(BrokerResponse::Partition {
            response: Response::Produced { base_offset },
            ..
        }) => assert_eq!(base_offset, offset),
        other => panic!("request {offset} got {other:?}"),
    }
}

#[tokio::test]
async fn pipelined_requests_are_matched_to_answers_given_in_reverse_order() {
    let mut broker = FakeBroker::start().await;
    let config = ConnConfig {
        request_timeout: Duration::from_secs(5),
        ..quick_config()
    };
    let conn = Conn::connect(&broker.addr, &config).await.unwrap();
    const N: u64 = 100;
    let asks = (0..N).map(|i| {
        let conn = conn.clone();
        tokio::spawn(async move { (i, conn.request(|tag| fetch(tag, i)).await) })
    });
    let asks: Vec<_> = asks.collect();
    // All N arrive before any is answered: they are in flight together.
    let mut incoming = Vec::new();
    for _ in 0..N {
        incoming.push(broker.next().await);
    }
    for request in incoming.iter().rev() {
        let base_offset = fetch_offset(&request.request);
        request.respond(Response::Produced { base_offset });
    }
    for ask in asks {
        let (i, answer) = ask.await.unwrap();
        expect_own_answer(i, answer);
    }
}

#[tokio::test]
async fn requests_in_flight_are_bounded() {
    let mut broker = FakeBroker::start().await;
    let config = ConnConfig {
        request_timeout: Duration::from_secs(5),
        ..quick_config()
    };
    let conn = Conn::connect(&broker.addr, &config).await.unwrap();
    let n = MAX_IN_FLIGHT_REQUESTS as u64 + 44;
    let asks: Vec<_> = (0..n)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { (i, conn.request(|tag| fetch(tag, i)).await) })
        })
        .collect();
    let mut seen = Vec::new();
    for _ in 0..MAX_IN_FLIGHT_REQUESTS {
        seen.push(broker.next().await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        broker.requests.try_recv().is_err(),
        "more than {MAX_IN_FLIGHT_REQUESTS} requests were sent unanswered"
    );
    // Answering frees slots for the rest.
    for request in &seen {
        let base_offset = fetch_offset(&request.request);
        request.respond(Response::Produced { base_offset });
    }
    broker.auto(|incoming| {
        let base_offset = fetch_offset(&incoming.request);
        Some(Response::Produced { base_offset })
    });
    for ask in asks {
        let (i, answer) = ask.await.unwrap();
        expect_own_answer(i, answer);
    }
}

#[tokio::test]
async fn a_broker_that_never_answers_times_out() {
    let broker = FakeBroker::start().await;
    let conn = Conn::connect(&broker.addr, &quick_config()).await.unwrap();
    broker.auto(|_| None);
    let started = Instant::now();
    let answer = conn.request(|tag| fetch(tag, 0)).await;
    assert_eq!(answer, Err(LogError::Timeout(Duration::from_millis(300))));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_broken_connection_fails_every_request_in_flight() {
    let mut broker = FakeBroker::start().await;
    let config = ConnConfig {
        request_timeout: Duration::from_secs(5),
        ..quick_config()
    };
    let conn = Conn::connect(&broker.addr, &config).await.unwrap();
    let asks: Vec<_> = (0..10)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.request(|tag| fetch(tag, i)).await })
        })
        .collect();
    let mut last = None;
    for _ in 0..10 {
        last = Some(broker.next().await);
    }
    last.unwrap().hang_up();
    for ask in asks {
        let answer = ask.await.unwrap();
        assert!(
            matches!(answer, Err(LogError::Broken { .. })),
            "got {answer:?}"
        );
    }
    assert!(conn.is_broken());
    let after = conn.request(|tag| fetch(tag, 0)).await;
    assert!(
        matches!(after, Err(LogError::Broken { .. })),
        "got {after:?}"
    );
}

#[tokio::test]
async fn a_one_gib_frame_is_refused_before_it_is_read() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _hello = wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES).await;
        let mut out = Vec::new();
        wire::encode_hello(&mut out, wire::PROTOCOL_VERSION);
        // The hello, then a frame announcing 1 GiB whose body never comes.
        out.extend_from_slice(&(1u32 << 30).to_be_bytes());
        stream.write_all(&out).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    });
    let config = ConnConfig {
        request_timeout: Duration::from_secs(10),
        ..quick_config()
    };
    let conn = Conn::connect(&addr, &config).await.unwrap();
    let started = Instant::now();
    let answer = conn.request(|tag| fetch(tag, 0)).await;
    match answer {
        Err(LogError::Broken { reason, .. }) => {
            assert!(reason.contains("exceeds the cap"), "{reason}")
        }
        other => panic!("expected the connection refused, got {other:?}"),
    }
    // Refused at the length, not after waiting for a body: well before the request timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_frame_cap_admits_a_full_fetch_answer() {
    let config = ConnConfig::for_fetch_bytes(1 << 20);
    let needed = wire::fetched_body_bound(1 << 20, wire::DEFAULT_MAX_FRAME_BYTES);
    assert!(u64::from(config.max_frame_bytes) >= needed);
    assert!(config.max_frame_bytes >= wire::DEFAULT_MAX_FRAME_BYTES);
}

#[tokio::test]
async fn the_pool_reuses_a_connection_and_replaces_a_broken_one() {
    let broker = FakeBroker::start().await;
    let accepted = broker.accepted.clone();
    let addr = broker.addr.clone();
    broker.auto(|incoming| match &incoming.request {
        BrokerRequest::Partition {
            request: Request::Fetch { offset: 99, .. },
            ..
        } => {
            incoming.hang_up();
            None
        }
        _ => Some(Response::Produced { base_offset: 0 }),
    });
    let pool = Pool::new(quick_config());
    for _ in 0..3 {
        let conn = pool.get(&addr).await.unwrap();
        conn.request(|tag| fetch(tag, 0)).await.unwrap();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let conn = pool.get(&addr).await.unwrap();
    assert!(conn.request(|tag| fetch(tag, 99)).await.is_err());
    let conn = pool.get(&addr).await.unwrap();
    conn.request(|tag| fetch(tag, 0)).await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_peer_that_is_not_a_broker_is_refused_at_the_hello() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"\x00\x00\x00\x06HTTP/1").await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let refused = Conn::connect(&addr, &quick_config()).await.err();
    assert!(
        matches!(refused, Some(LogError::Connect { .. })),
        "{refused:?}"
    );
}
