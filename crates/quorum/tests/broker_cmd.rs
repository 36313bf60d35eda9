//! `quorum broker` on real processes, spoken to over the raw wire protocol: a Quorum server and
//! three brokers; a topic created in Quorum gets a leader; acks=all produces are answered with
//! consecutive offsets and read back from the leader; a retried batch is not written twice; a
//! killed leader is replaced by an ISR member that still has every acknowledged record.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker::wire::{self, BrokerRequest, BrokerResponse};
use partition::{Acks, Assignment, Producer, Request, Response, TopicPartition};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

fn start_broker(id: u32, dir: &Path, connect: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let data = dir.join(format!("broker{id}"));
    let log = std::fs::File::create(dir.join(format!("broker{id}.log"))).unwrap();
    let child = Command::new(QUORUM)
        .args([
            "broker",
            "--id",
            &id.to_string(),
            "--listen",
            &address,
            "--quorum",
            connect,
        ])
        .args([
            "--replica-lag-time-max-ms",
            "3000",
            "--session-timeout-ms",
            "4000",
        ])
        .arg("--data")
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start broker");
    (child, address)
}

/// A connection speaking the broker protocol, one request at a time.
struct Conn {
    stream: TcpStream,
    tag: u64,
}

impl Conn {
    async fn open(address: &str) -> Option<Conn> {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let mut hello = Vec::new();
        wire::encode_hello(&mut hello, wire::PROTOCOL_VERSION);
        stream.write_all(&hello).await.ok()?;
        wire::read_frame(&mut stream, wire::MAX_HELLO_BYTES)
            .await
            .ok()??;
        Some(Conn { stream, tag: 0 })
    }

    async fn ask(&mut self, tp: &TopicPartition, request: Request) -> Option<Response> {
        self.tag += 1;
        let mut frame = Vec::new();
        let tp = tp.clone();
        wire::encode_request(
            &mut frame,
            &BrokerRequest::Partition {
                tag: self.tag,
                tp,
                request,
            },
        );
        self.stream.write_all(&frame).await.ok()?;
        let body = tokio::time::timeout(
            Duration::from_secs(10),
            wire::read_frame(&mut self.stream, wire::DEFAULT_MAX_FRAME_BYTES),
        )
        .await
        .ok()?
        .ok()??;
        match wire::decode_response(&body).ok()? {
            BrokerResponse::Partition { response, .. } => Some(response),
            _ => None,
        }
    }
}

async fn leader(zk: &client::zk::Client, tp: &TopicPartition) -> Option<(u32, String)> {
    let (state, _) = broker::meta::read_state(zk, tp).await.ok()??;
    let id = state.leader?;
    let address = broker::meta::broker_address(zk, id).await.ok()??;
    Some((id, address))
}

/// Produces `records` with acks=all as producer `pid` from `seq`, retrying on the current
/// leader until answered; returns the base offset.
async fn produce(
    zk: &client::zk::Client,
    tp: &TopicPartition,
    pid: u64,
    seq: u64,
    records: &[&str],
) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "produce never acknowledged");
        if let Some((_, address)) = leader(zk, tp).await {
            if let Some(mut conn) = Conn::open(&address).await {
                let request = Request::Produce {
                    acks: Acks::All,
                    producer: Some(Producer {
                        id: pid,
                        first_seq: seq,
                    }),
                    records: records.iter().map(|r| r.as_bytes().to_vec()).collect(),
                };
                if let Some(Response::Produced { base_offset }) = conn.ask(tp, request).await {
                    return base_offset;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn read_all(zk: &client::zk::Client, tp: &TopicPartition) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "could not read the partition back"
        );
        if let Some((_, address)) = leader(zk, tp).await {
            if let Some(mut conn) = Conn::open(&address).await {
                let mut out = Vec::new();
                let mut offset = 0;
                loop {
                    let request = Request::Fetch {
                        offset,
                        max_bytes: 1 << 20,
                        replica: None,
                    };
                    match conn.ask(tp, request).await {
                        Some(Response::Fetched { batches, .. }) if !batches.is_empty() => {
                            for b in batches {
                                for (i, r) in b.records.iter().enumerate() {
                                    if b.header.base_offset + i as u64 >= offset {
                                        out.push(String::from_utf8_lossy(r).into_owned());
                                    }
                                }
                                offset = b.end_offset();
                            }
                        }
                        Some(Response::Fetched { .. }) => return out,
                        _ => break,
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_read_back_and_fail_over() {
    let mut ens = launch::EnsembleSpec::new(1, QUORUM)
        .temp_prefix("quorum-broker-")
        .write()
        .expect("write server");
    ens.launch(Duration::from_secs(30)).expect("server up");
    let connect = ens.connect_string();
    let dir = tempfile::tempdir().unwrap();
    let mut brokers: Vec<Option<Child>> = (1..=3)
        .map(|id| Some(start_broker(id, dir.path(), &connect).0))
        .collect();
    let zk = client::connect(&connect, Duration::from_secs(10))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while broker::meta::live_brokers(&zk).await.unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "brokers did not register");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut assignment = Assignment::round_robin(&[1, 2, 3], 1, 3);
    assignment.min_insync = Some(2);
    broker::meta::create_topic(&zk, "orders", &assignment)
        .await
        .unwrap();
    let tp = TopicPartition::new("orders", 0);

    assert_eq!(produce(&zk, &tp, 7, 0, &["a", "b"]).await, 0);
    assert_eq!(produce(&zk, &tp, 7, 2, &["c"]).await, 2);
    // The same batch again (a retry after a lost answer): the original offset, not a copy.
    assert_eq!(produce(&zk, &tp, 7, 2, &["c"]).await, 2);
    assert_eq!(read_all(&zk, &tp).await, ["a", "b", "c"]);

    let (old, _) = leader(&zk, &tp).await.expect("a leader");
    let mut child = brokers[old as usize - 1].take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(produce(&zk, &tp, 7, 3, &["d"]).await, 3);
    let (new, _) = leader(&zk, &tp).await.expect("a new leader");
    assert_ne!(new, old, "the killed broker cannot lead");
    assert_eq!(read_all(&zk, &tp).await, ["a", "b", "c", "d"]);
    for b in brokers.iter_mut().flatten() {
        let _ = b.kill();
        let _ = b.wait();
    }
}
