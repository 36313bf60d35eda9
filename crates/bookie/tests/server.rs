//! The bookie server end to end over TCP: pipelined adds, reads and fences answered by tag;
//! acknowledged entries and fences survive a restart; hostile clients cost bounded memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bookie::server::{BookieServer, Config};
use bookie::wire;
use ledger::{Refusal, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal client: the hello, then frames.
struct Client {
    stream: TcpStream,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut hello = Vec::new();
        wire::encode_hello(&mut hello, wire::PROTOCOL_VERSION);
        stream.write_all(&hello).await.unwrap();
        let body = wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(wire::decode_hello(&body), Ok(wire::PROTOCOL_VERSION));
        Client { stream }
    }

    async fn send_all(&mut self, requests: &[Request]) {
        let mut out = Vec::new();
        for r in requests {
            wire::encode_request(&mut out, r);
        }
        self.stream.write_all(&out).await.unwrap();
    }

    async fn recv(&mut self) -> Response {
        let body = tokio::time::timeout(
            Duration::from_secs(20),
            wire::read_frame(&mut self.stream, wire::DEFAULT_MAX_FRAME_BYTES),
        )
        .await
        .expect("an answer in time")
        .unwrap()
        .expect("an answer, not the end of the stream");
        wire::decode_response(&body).unwrap()
    }

    async fn call_all(&mut self, requests: &[Request]) -> HashMap<u64, Response> {
        self.send_all(requests).await;
        let mut answers = HashMap::new();
        for _ in requests {
            let r = self.recv().await;
            assert!(answers.insert(r.tag(), r).is_none(), "one answer per tag");
        }
        answers
    }
}

fn config(dir: &std::path::Path) -> Config {
    Config::new(1, dir.to_path_buf(), "127.0.0.1:0".parse().unwrap())
}

fn add(tag: u64, ledger: u64, entry: u64) -> Request {
    Request::Add {
        tag,
        ledger,
        entry,
        lac: entry.checked_sub(1),
        payload: format!("{ledger}:{entry}").into_bytes(),
        recovery: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_by_tag_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    // Checkpoints every few KiB of journal, so the restart below recovers from a checkpoint, a
    // purged journal and a replayed tail.
    let mut cfg = config(tmp.path());
    cfg.limits.checkpoint_journal_bytes = 2048;
    let server = BookieServer::start(cfg).await.unwrap();
    let mut client = Client::connect(server.local_addr()).await;

    // 300 adds over three ledgers, with reads of earlier entries and a fence of ledger 3 half
    // way, all in one pipelined burst.
    let mut requests = Vec::new();
    let mut tag = 0;
    for entry in 0..100u64 {
        for ledger in 1..=3u64 {
            tag += 1;
            requests.push(add(tag, ledger, entry));
        }
        if entry == 50 {
            tag += 1;
            requests.push(Request::ReadLac {
                tag,
                ledger: 3,
                fence: true,
            });
        }
        if entry > 0 {
            tag += 1;
            requests.push(Request::Read {
                tag,
                ledger: 1,
                entry: entry - 1,
                fence: false,
            });
        }
    }
    let answers = client.call_all(&requests).await;
    let mut fenced_seen = false;
    for r in &requests {
        let answer = &answers[&r.tag()];
        match r {
            Request::Add { ledger: 3, .. } if fenced_seen => assert!(
                matches!(
                    answer,
                    Response::Refused {
                        why: Refusal::Fenced,
                        ..
                    }
                ),
                "{r:?} → {answer:?}"
            ),
            Request::Add { ledger, entry, .. } => assert_eq!(
                answer,
                &Response::Added {
                    tag: r.tag(),
                    ledger: *ledger,
                    entry: *entry
                }
            ),
            Request::ReadLac { .. } => {
                fenced_seen = true;
                assert!(
                    matches!(
                        answer,
                        Response::Lac {
                            lac: Some(49),
                            last_entry: Some(50),
                            ..
                        }
                    ),
                    "{answer:?}"
                );
            }
            Request::Read { entry, .. } => match answer {
                Response::Entry { payload, lac, .. } => {
                    assert_eq!(payload, format!("1:{entry}").as_bytes());
                    assert_eq!(*lac, entry.checked_sub(1));
                }
                other => panic!("{r:?} → {other:?}"),
            },
        }
    }
    let stats = server.stats().clone();
    let (syncs, records) = (
        stats.journal_syncs.load(Ordering::Relaxed),
        stats.journal_records.load(Ordering::Relaxed),
    );
    assert_eq!(
        records,
        300 - 49 + 1,
        "every accepted add and the fence journaled"
    );
    eprintln!("group commit: {records} records in {syncs} syncs");
    assert!(syncs < records, "pipelined records share syncs");
    // Checkpoints run on their own thread; the first was started early in the burst.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stats.checkpoints.load(Ordering::Relaxed) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    server.shutdown().await;
    let server = BookieServer::start(config(tmp.path())).await.unwrap();
    let mut client = Client::connect(server.local_addr()).await;
    let mut requests = Vec::new();
    for entry in 0..100u64 {
        for ledger in 1..=3u64 {
            requests.push(Request::Read {
                tag: requests.len() as u64,
                ledger,
                entry,
                fence: false,
            });
        }
    }
    requests.push(add(10_000, 3, 100));
    requests.push(Request::ReadLac {
        tag: 10_001,
        ledger: 2,
        fence: false,
    });
    let answers = client.call_all(&requests).await;
    for r in &requests {
        let answer = &answers[&r.tag()];
        match r {
            Request::Read {
                ledger: 3, entry, ..
            } if *entry > 50 => assert!(
                matches!(
                    answer,
                    Response::Refused {
                        why: Refusal::NoEntry,
                        ..
                    }
                ),
                "{r:?} → {answer:?}"
            ),
            Request::Read { ledger, entry, .. } => assert!(
                matches!(answer, Response::Entry { payload, .. } if payload == format!("{ledger}:{entry}").as_bytes()),
                "{r:?} → {answer:?}"
            ),
            Request::Add { .. } => assert!(
                matches!(
                    answer,
                    Response::Refused {
                        why: Refusal::Fenced,
                        ..
                    }
                ),
                "the fence survived the restart: {answer:?}"
            ),
            Request::ReadLac { .. } => assert!(
                matches!(
                    answer,
                    Response::Lac {
                        lac: Some(98),
                        last_entry: Some(99),
                        ..
                    }
                ),
                "{answer:?}"
            ),
        }
    }
    server.shutdown().await;
}

/// Reads until the peer closes; panics if it stays open past the deadline.
async fn expect_closed(stream: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => panic!("connection still open"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_first_frames_and_silent_clients_are_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.hello_timeout = Duration::from_millis(300);
    let server = BookieServer::start(cfg).await.unwrap();

    // A 1 GiB length as the first frame: closed at once, nothing read or allocated.
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // Not a hello (an HTTP request): closed.
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // Nothing at all: closed after the hello timeout.
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    expect_closed(&mut s, Duration::from_secs(5)).await;

    // A frame over the cap after the hello: closed.
    let mut c = Client::connect(server.local_addr()).await;
    c.stream.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    expect_closed(&mut c.stream, Duration::from_secs(5)).await;

    // The server still serves.
    let mut c = Client::connect(server.local_addr()).await;
    let answers = c.call_all(&[add(1, 5, 0)]).await;
    assert!(matches!(answers[&1], Response::Added { .. }));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_costs_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    let budget = 256 << 10;
    cfg.limits.connection_outbound_bytes = budget;
    cfg.limits.connection_inflight_requests = 64;
    cfg.fsync = false;
    let server = BookieServer::start(cfg).await.unwrap();
    let mut writer = Client::connect(server.local_addr()).await;
    let big = Request::Add {
        tag: 0,
        ledger: 1,
        entry: 0,
        lac: None,
        payload: vec![7; 16 << 10],
        recovery: false,
    };
    let answers = writer.call_all(&[big]).await;
    assert!(matches!(answers[&0], Response::Added { .. }));

    // Ask for the 16 KiB entry over and over (about 1.6 GB of replies) and never read.
    let mut hostile = Client::connect(server.local_addr()).await;
    let reads: Vec<Request> = (0..1000)
        .map(|tag| Request::Read {
            tag,
            ledger: 1,
            entry: 0,
            fence: false,
        })
        .collect();
    let mut frames = Vec::new();
    for r in &reads {
        wire::encode_request(&mut frames, r);
    }
    let sending = tokio::spawn(async move {
        for _ in 0..100 {
            if hostile.stream.write_all(&frames).await.is_err() {
                return hostile;
            }
        }
        hostile
    });
    // Its 64 requests in flight ask for 1 MiB of replies, more than its budget: once the socket
    // buffers are full the bookie closes it, and its queued replies stayed within the budget.
    let _ = tokio::time::timeout(Duration::from_secs(5), sending).await;
    let stats = server.stats();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stats.connections.load(Ordering::Relaxed) > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hostile connection is still open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peak = stats.out_bytes_peak.load(Ordering::Relaxed);
    assert!(
        peak <= budget,
        "queued replies peaked at {peak} bytes, over the {budget} budget"
    );
    assert!(peak > 0);

    // Others are still served.
    let answers = writer
        .call_all(&[Request::Read {
            tag: 9,
            ledger: 1,
            entry: 0,
            fence: false,
        }])
        .await;
    assert!(matches!(answers[&9], Response::Entry { .. }));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_within_its_budget_is_paused_not_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.connection_outbound_bytes = 256 << 10;
    cfg.limits.connection_inflight_requests = 4;
    cfg.fsync = false;
    let server = BookieServer::start(cfg).await.unwrap();
    let mut client = Client::connect(server.local_addr()).await;
    let big = Request::Add {
        tag: 0,
        ledger: 1,
        entry: 0,
        lac: None,
        payload: vec![7; 16 << 10],
        recovery: false,
    };
    client.call_all(&[big]).await;
    // 4 × 16 KiB in flight fit in the budget: the bookie stops reading instead of closing, and
    // once the client reads again every answer arrives.
    let reads: Vec<Request> = (1..=2000)
        .map(|tag| Request::Read {
            tag,
            ledger: 1,
            entry: 0,
            fence: false,
        })
        .collect();
    let mut frames = Vec::new();
    for r in &reads {
        wire::encode_request(&mut frames, r);
    }
    let (mut rd, mut wr) = client.stream.into_split();
    let sender = tokio::spawn(async move { wr.write_all(&frames).await.map(|()| wr) });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = server.stats();
    assert!(stats.out_bytes_peak.load(Ordering::Relaxed) <= 256 << 10);
    assert_eq!(
        stats.connections.load(Ordering::Relaxed),
        1,
        "paused, not closed"
    );
    let mut answered = 0;
    while answered < reads.len() {
        let body = wire::read_frame(&mut rd, wire::DEFAULT_MAX_FRAME_BYTES)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            wire::decode_response(&body).unwrap(),
            Response::Entry { .. }
        ));
        answered += 1;
    }
    let _wr = sender.await.unwrap().unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn limits_that_cannot_work_are_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.connection_inflight_requests = 0;
    assert!(BookieServer::start(cfg).await.is_err());
    let mut cfg = config(tmp.path());
    cfg.limits.checkpoint_interval = Duration::ZERO;
    assert!(BookieServer::start(cfg).await.is_err());
    let mut cfg = config(tmp.path());
    cfg.limits.max_frame_bytes = 10;
    assert!(BookieServer::start(cfg).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed_and_a_freed_slot_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.limits.max_connections = 2;
    let server = BookieServer::start(cfg).await.unwrap();
    let first = Client::connect(server.local_addr()).await;
    let _second = Client::connect(server.local_addr()).await;
    let mut third = TcpStream::connect(server.local_addr()).await.unwrap();
    expect_closed(&mut third, Duration::from_secs(5)).await;
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.stats().connections.load(Ordering::Relaxed) > 1 {
        assert!(tokio::time::Instant::now() < deadline, "slot not freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut fourth = Client::connect(server.local_addr()).await;
    let answers = fourth.call_all(&[add(1, 1, 0)]).await;
    assert!(matches!(answers[&1], Response::Added { .. }));
    server.shutdown().await;
}
