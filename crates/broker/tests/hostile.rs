//! The broker's front door under hostile and careless clients (no Quorum is needed for this:
//! without a session the broker holds no replica and answers NOT_LEADER, but its connections
//! are served and bounded all the same).

use std::net::SocketAddr;
use std::time::Duration;

use broker::server::{BrokerServer, Config};
use broker::wire::{self, BrokerRequest, BrokerResponse};
use partition::{ErrorCode, Request, Response, TopicPartition};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(dir: &std::path::Path) -> Config {
    // Nobody listens on port 1: the session never starts, which these tests do not need.
    let mut c = Config::new(
        1,
        dir.to_path_buf(),
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:1".into(),
    );
    c.limits.hello_timeout = Duration::from_millis(300);
    c
}

async fn hello(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut frame = Vec::new();
    wire::encode_hello(&mut frame, wire::PROTOCOL_VERSION);
    s.write_all(&frame).await.unwrap();
    wire::read_frame(&mut s, wire::MAX_HELLO_BYTES)
        .await
        .unwrap()
        .unwrap();
    s
}

async fn expect_closed(stream: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("connection still open"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

fn produce(tag: u64) -> Vec<u8> {
    let mut frame = Vec::new();
    let request = Request::Produce {
        acks: partition::Acks::All,
        producer: None,
        records: vec![vec![7; 100]],
    };
    let tp = TopicPartition::new("t", 0);
    wire::encode_request(&mut frame, &BrokerRequest::Partition { tag, tp, request });
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_first_frames_and_silent_clients_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let server = BrokerServer::start(config(tmp.path())).await.unwrap();
    let addr = server.local_addr();

    // A 1 GiB length as the first frame: closed at once, nothing read or allocated.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // Not a hello (an HTTP request): closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // Nothing at all: closed after the hello timeout.
    let mut s = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // A frame over the cap after the hello, then garbage that does not decode: closed.
    let mut s = hello(addr).await;
    s.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;
    let mut s = hello(addr).await;
    s.write_all(&[0, 0, 0, 3, 99, 1, 2]).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // The broker still answers, pipelined, by tag.
    let mut s = hello(addr).await;
    let mut frames = Vec::new();
    for tag in 1..=50 {
        frames.extend(produce(tag));
    }
    s.write_all(&frames).await.unwrap();
    let mut tags = Vec::new();
    for _ in 1..=50 {
        let body = wire::read_frame(&mut s, 1 << 20).await.unwrap().unwrap();
        match wire::decode_response(&body).unwrap() {
            BrokerResponse::Partition {
                tag,
                response: Response::Error(ErrorCode::NotLeader),
            } => tags.push(tag),
            other => panic!("unexpected {other:?}"),
        }
    }
    tags.sort_unstable();
    assert_eq!(tags, (1..=50).collect::<Vec<_>>());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_paused_then_closed_and_others_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.connection_outbound_bytes = 64 << 10;
    cfg.limits.connection_inflight_requests = 100_000;
    let server = BrokerServer::start(cfg).await.unwrap();
    let addr = server.local_addr();
    // Pipelines a million requests (130 MB) and never reads an answer.
    let mut greedy = hello(addr).await;
    let writer = tokio::spawn(async move {
        let mut frames = Vec::new();
        for tag in 0..10_000u64 {
            frames.extend(produce(tag));
        }
        for _ in 0..100 {
            if greedy.write_all(&frames).await.is_err() {
                return false;
            }
        }
        true
    });
    // Meanwhile another client is answered promptly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut s = hello(addr).await;
    s.write_all(&produce(1)).await.unwrap();
    let body = tokio::time::timeout(Duration::from_secs(5), wire::read_frame(&mut s, 1 << 20))
        .await
        .expect("answered while another client does not read")
        .unwrap()
        .unwrap();
    assert!(matches!(
        wire::decode_response(&body).unwrap(),
        BrokerResponse::Partition { tag: 1, .. }
    ));
    // The greedy writer is stopped: paused (its writes block) or closed; it never gets all its
    // requests read while it reads no answer.
    match tokio::time::timeout(Duration::from_secs(3), writer).await {
        Err(_) => {}
        Ok(wrote_everything) => assert!(!wrote_everything.unwrap(), "read without bound"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.max_connections = 4;
    let server = BrokerServer::start(cfg).await.unwrap();
    let addr = server.local_addr();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(hello(addr).await);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut extra, Duration::from_secs(5)).await;
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = hello(addr).await;
    again.write_all(&produce(3)).await.unwrap();
    assert!(wire::read_frame(&mut again, 1 << 20)
        .await
        .unwrap()
        .is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_that_cannot_work_are_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.connection_inflight_requests = 0;
    assert!(BrokerServer::start(cfg).await.is_err());
}
