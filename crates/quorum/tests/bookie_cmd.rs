//! `quorum bookie` as a real process next to a real Quorum server: it registers its ephemeral
//! znode, keeps acknowledged entries and fences across a SIGKILL, registers again after the
//! restart once the killed process's session has expired, and after its own session expired;
//! a clean stop removes the znode at once.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bookie::ledger::{Refusal, Request, Response};
use bookie::wire;
use client::zk;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

/// A `quorum bookie` process, killed (SIGKILL) when dropped.
struct BookieProcess(Child);

impl BookieProcess {
    fn start(
        id: u32,
        data: &std::path::Path,
        port: u16,
        quorum: &str,
        log: &std::path::Path,
    ) -> Self {
        let log = std::fs::File::create(log).unwrap();
        let child = Command::new(QUORUM)
            .args(["bookie", "--id", &id.to_string(), "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data")
            .arg(data)
            .args(["--quorum", quorum])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start quorum bookie");
        BookieProcess(child)
    }
}

impl Drop for BookieProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until /ledgers/bookies/<id> holds `address` under a session other than `not_owner`;
/// returns the owning session.
async fn registered(zk: &zk::Client, id: u32, address: &str, not_owner: i64) -> i64 {
    let path = format!("/ledgers/bookies/{id}");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if let Ok((data, stat)) = zk.get_data(&path).await {
            if data == address.as_bytes() && stat.ephemeral_owner != not_owner {
                return stat.ephemeral_owner;
            }
        }
        assert!(Instant::now() < deadline, "{path} not registered in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("bookie not listening: {e}"),
        }
    };
    let mut hello = Vec::new();
    wire::encode_hello(&mut hello, wire::PROTOCOL_VERSION);
    s.write_all(&hello).await.unwrap();
    let body = wire::read_frame(&mut s, 64).await.unwrap().unwrap();
    assert_eq!(wire::decode_hello(&body), Ok(wire::PROTOCOL_VERSION));
    s
}

/// Sends every request while reading the answers (writing all first could fill both socket
/// buffers once the bookie stops reading at its in-flight limit); answers sorted by tag.
async fn call(s: &mut TcpStream, requests: &[Request]) -> Vec<Response> {
    let mut out = Vec::new();
    for r in requests {
        wire::encode_request(&mut out, r);
    }
    let (mut rd, mut wr) = s.split();
    let write = async { wr.write_all(&out).await.unwrap() };
    let read = async {
        let mut answers = Vec::new();
        for _ in requests {
            let body = wire::read_frame(&mut rd, 1 << 20).await.unwrap().unwrap();
            answers.push(wire::decode_response(&body).unwrap());
        }
        answers
    };
    let ((), mut answers) = tokio::join!(write, read);
    answers.sort_by_key(|r| r.tag());
    answers
}

fn add(tag: u64, ledger: u64, entry: u64) -> Request {
    Request::Add {
        tag,
        ledger,
        entry,
        lac: entry.checked_sub(1),
        payload: format!("{ledger}/{entry}").into_bytes(),
        recovery: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bookie_registers_survives_a_sigkill_and_registers_again_after_session_expiry() {
    let mut ens = launch::EnsembleSpec::new(1, QUORUM)
        .tick_ms(500)
        .write()
        .expect("write the server's folder");
    ens.start(1).expect("start quorum server");
    ens.wait_serving(1, Duration::from_secs(15))
        .expect("server serving");
    let quorum = ens.address(1);
    let zk = client::connect(&quorum, Duration::from_secs(10))
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bookie");
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let log = tmp.path().join("bookie.log");
    let bookie = BookieProcess::start(4, &data, port, &quorum, &log);
    let first_owner = registered(&zk, 4, &address, 0).await;

    let mut s = connect(port).await;
    let mut requests: Vec<Request> = (0..50).map(|e| add(e, 1, e)).collect();
    requests.push(Request::ReadLac {
        tag: 50,
        ledger: 2,
        fence: true,
    });
    let answers = call(&mut s, &requests).await;
    for (e, a) in answers[..50].iter().enumerate() {
        assert_eq!(
            a,
            &Response::Added {
                tag: e as u64,
                ledger: 1,
                entry: e as u64
            }
        );
    }
    // A fencing LAC read of a ledger the bookie never saw: the fence is stored, nothing else.
    assert_eq!(
        answers[50],
        Response::Lac {
            tag: 50,
            ledger: 2,
            lac: None,
            last_entry: None
        }
    );

    // SIGKILL: no flush, no goodbye. Everything acknowledged must be back after the restart.
    drop(bookie);
    let bookie = BookieProcess::start(4, &data, port, &quorum, &log);
    let mut s = connect(port).await;
    let mut requests: Vec<Request> = (0..50)
        .map(|e| Request::Read {
            tag: e,
            ledger: 1,
            entry: e,
            fence: false,
        })
        .collect();
    requests.push(add(50, 2, 0));
    let answers = call(&mut s, &requests).await;
    for (e, a) in answers[..50].iter().enumerate() {
        assert!(
            matches!(a, Response::Entry { payload, .. } if payload == format!("1/{e}").as_bytes()),
            "{a:?}"
        );
    }
    assert!(
        matches!(
            answers[50],
            Response::Refused {
                why: Refusal::Fenced,
                ..
            }
        ),
        "the fence on a ledger never written survived the SIGKILL: {:?}",
        answers[50]
    );
    // The old session's znode goes when it expires; the new process then registers itself.
    let second_owner = registered(&zk, 4, &address, first_owner).await;
    assert_ne!(first_owner, second_owner);

    // Session expiry: a stopped bookie cannot heartbeat, Quorum expires its session and drops
    // the znode; once resumed, the bookie learns of the expiry and registers again.
    let pid = bookie.0.id() as i32;
    // SAFETY: signals to a child process this test started and still owns.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let path = "/ledgers/bookies/4";
    let deadline = Instant::now() + Duration::from_secs(40);
    while zk.check_stat(path).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the stopped bookie's session never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let third_owner = registered(&zk, 4, &address, second_owner).await;
    assert_ne!(third_owner, second_owner);

    // SIGTERM: the bookie closes its session, so the znode goes at once, not at expiry (10 s).
    let stopping = Instant::now();
    unsafe { libc::kill(pid, libc::SIGTERM) };
    while zk.check_stat(path).await.unwrap().is_some() {
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "the znode outlived a clean stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGKILL in the middle of a pipelined burst from several connections: after the restart every
/// acknowledged entry is there with its payload, and an unacknowledged one is either whole or
/// absent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_burst_keeps_every_acknowledged_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("bookie");
    let log = tmp.path().join("bookie.log");
    let port = free_port();
    let bookie = BookieProcess::start(5, &data, port, "", &log);
    const CONNECTIONS: u64 = 8;
    const ENTRIES: u64 = 3000;
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for ledger in 1..=CONNECTIONS {
        let acked = acked_tx.clone();
        let s = connect(port).await;
        tasks.push(tokio::spawn(async move {
            let (mut rd, mut wr) = s.into_split();
            let sender = tokio::spawn(async move {
                for e in 0..ENTRIES {
                    let mut out = Vec::new();
                    wire::encode_request(&mut out, &add(e, ledger, e));
                    if wr.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
            while let Ok(Some(body)) = wire::read_frame(&mut rd, 1 << 20).await {
                if let Ok(Response::Added { ledger, entry, .. }) = wire::decode_response(&body) {
                    let _ = acked.send((ledger, entry));
                }
            }
            sender.abort();
        }));
    }
    drop(acked_tx);
    // Kill once a good part is acknowledged, while the rest is in flight.
    let mut acked = Vec::new();
    while acked.len() < (CONNECTIONS * ENTRIES / 3) as usize {
        acked.push(acked_rx.recv().await.expect("acknowledgements"));
    }
    drop(bookie);
    while let Some(a) = acked_rx.recv().await {
        acked.push(a);
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        (acked.len() as u64) < CONNECTIONS * ENTRIES,
        "killed mid-burst"
    );

    let _bookie = BookieProcess::start(5, &data, port, "", &log);
    let mut s = connect(port).await;
    let requests: Vec<Request> = (1..=CONNECTIONS)
        .flat_map(|ledger| (0..ENTRIES).map(move |entry| (ledger, entry)))
        .enumerate()
        .map(|(tag, (ledger, entry))| Request::Read {
            tag: tag as u64,
            ledger,
            entry,
            fence: false,
        })
        .collect();
    let answers = call(&mut s, &requests).await;
    let acked: std::collections::HashSet<(u64, u64)> = acked.into_iter().collect();
    let mut present = 0;
    for (r, a) in requests.iter().zip(&answers) {
        let Request::Read { ledger, entry, .. } = r else {
            unreachable!()
        };
        match a {
            Response::Entry { payload, .. } => {
                assert_eq!(payload, format!("{ledger}/{entry}").as_bytes());
                present += 1;
            }
            other => assert!(
                !acked.contains(&(*ledger, *entry)),
                "acknowledged entry {ledger}/{entry} lost: {other:?}"
            ),
        }
    }
    assert!(present >= acked.len());
    eprintln!(
        "{} acknowledged before the kill, {present} present after the restart",
        acked.len()
    );
}
