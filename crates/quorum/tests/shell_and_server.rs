//! End-to-end tests of the real `quorum` binary: the server as a ZooKeeper client sees it
//! (through the `zookeeper-client` crate, not a client of our own, so the test cannot share a
//! misreading of the protocol with the server), the shell in script mode, durability across a
//! SIGKILL, and hostile input on the wire.
//!
//! Each test starts its own server on a free loopback port with a temporary dataDir, so the
//! tests run in parallel and leave nothing behind; the `Server` guard kills the process when the
//! test ends, panics included.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::zk;

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

/// A standalone `quorum server` process on loopback, launched by the `launch` crate (free port,
/// temporary folder); killed (SIGKILL) when dropped.
struct Server {
    ens: launch::Ensemble,
    port: u16,
}

impl Server {
    fn start() -> Server {
        // A short tick keeps session timeouts (2..20 ticks) short, so a test never waits on them.
        let ens = launch::EnsembleSpec::new(1, QUORUM)
            .tick_ms(500)
            .write()
            .expect("write the server's folder");
        let port = ens.client_port(1);
        let mut server = Server { ens, port };
        server.spawn();
        server
    }

    fn address(&self) -> String {
        self.ens.address(1)
    }

    /// Starts the process and waits until `srvr` says it serves: listening alone is not
    /// enough, the request path must be up.
    fn spawn(&mut self) {
        self.ens.start(1).expect("start quorum server");
        if let Err(e) = self.ens.wait_serving(1, Duration::from_secs(15)) {
            panic!("server not ready: {e}");
        }
    }

    fn pid(&self) -> u32 {
        self.ens.pid(1).expect("the server runs")
    }

    /// SIGKILL: no chance to flush or clean up, as in a power cut of the process.
    fn kill(&mut self) {
        self.ens.kill(1);
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn log(&self) -> String {
        self.ens.log(1)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

async fn connect(server: &Server) -> zk::Client {
    client::connect(&server.address(), Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", server.log()))
}

/// Waits at most a few seconds for something that should happen at once: a hung server fails
/// the test instead of hanging the suite.
async fn soon<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_through_the_zookeeper_client_crate() {
    let server = Server::start();
    let zk = connect(&server).await;
    let other = connect(&server).await;
    let before = client::now_millis();

    // Persistent create: a fresh node's Stat.
    let (created, _) = zk.create("/a", b"one", &persistent()).await.unwrap();
    assert!(created.czxid > 0);
    assert_eq!(created.mzxid, created.czxid);
    assert_eq!(created.pzxid, created.czxid);
    assert_eq!(created.ctime, created.mtime);
    assert!((before - 5_000..=client::now_millis() + 5_000).contains(&created.ctime));
    assert_eq!(
        (created.version, created.cversion, created.aversion),
        (0, 0, 0)
    );
    assert_eq!(created.ephemeral_owner, 0);
    assert_eq!((created.data_length, created.num_children), (3, 0));
    assert_eq!(
        zk.create("/a", b"again", &persistent()).await,
        Err(zk::Error::NodeExists)
    );
    assert_eq!(
        zk.create("/nope/child", b"", &persistent()).await,
        Err(zk::Error::NoNode)
    );

    let (data, stat) = zk.get_data("/a").await.unwrap();
    assert_eq!(data, b"one");
    assert_eq!(stat, created);

    // Ephemeral: owned by this session, no children allowed.
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let (e_stat, _) = zk.create("/a/e", b"", &ephemeral).await.unwrap();
    assert_eq!(e_stat.ephemeral_owner, zk.session_id().0);
    assert_eq!(e_stat.data_length, 0);
    assert_eq!(
        zk.create("/a/e/x", b"", &persistent()).await,
        Err(zk::Error::NoChildrenForEphemerals)
    );

    // Sequential: the suffix is the parent's cversion, ten digits.
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, first) = zk.create("/a/s-", b"1", &sequential).await.unwrap();
    let (_, second) = zk.create("/a/s-", b"2", &sequential).await.unwrap();
    // /a/e took cversion 0 -> 1 and the failed create did not count.
    assert_eq!(first.into_i64(), 1);
    assert_eq!(second.into_i64(), 2);
    assert_eq!(first.to_string(), "0000000001");
    let (mut children, parent) = zk.get_children("/a").await.unwrap();
    children.sort();
    assert_eq!(children, ["e", "s-0000000001", "s-0000000002"]);
    assert_eq!(parent.num_children, 3);
    assert_eq!(parent.cversion, 3);
    assert_eq!(parent.version, 0, "children do not change the data version");

    // setData with a version, and BadVersion.
    let set = zk.set_data("/a", b"two", Some(0)).await.unwrap();
    assert_eq!(set.version, 1);
    assert_eq!(set.czxid, created.czxid);
    assert!(set.mzxid > created.czxid);
    assert_eq!(set.data_length, 3);
    assert_eq!(
        zk.set_data("/a", b"three", Some(0)).await,
        Err(zk::Error::BadVersion)
    );
    assert_eq!(zk.get_data("/a").await.unwrap().0, b"two");

    // exists.
    assert_eq!(zk.check_stat("/missing").await.unwrap(), None);
    assert_eq!(zk.check_stat("/a").await.unwrap().unwrap().version, 1);

    // delete: version checked, children refused.
    assert_eq!(
        zk.delete("/a/s-0000000001", Some(3)).await,
        Err(zk::Error::BadVersion)
    );
    zk.delete("/a/s-0000000001", Some(0)).await.unwrap();
    assert_eq!(zk.delete("/a", None).await, Err(zk::Error::NotEmpty));
    assert_eq!(zk.delete("/missing", None).await, Err(zk::Error::NoNode));
    assert_eq!(zk.get_children("/a").await.unwrap().1.cversion, 4);

    // multi: all of it or none of it.
    let mut multi = zk.new_multi_writer();
    multi.add_create("/m", b"m", &persistent()).unwrap();
    multi.add_set_data("/a", b"from multi", Some(1)).unwrap();
    multi.add_check_version("/a/e", 0).unwrap();
    multi.add_delete("/a/s-0000000002", None).unwrap();
    let results = multi.commit().await.unwrap();
    assert_eq!(results.len(), 4);
    assert!(
        matches!(&results[0], zk::MultiWriteResult::Create { path, stat } if path == "/m" && stat.data_length == 1)
    );
    assert!(matches!(&results[1], zk::MultiWriteResult::SetData { stat } if stat.version == 2));
    assert_eq!(results[2], zk::MultiWriteResult::Check);
    assert_eq!(results[3], zk::MultiWriteResult::Delete);

    let mut failing = zk.new_multi_writer();
    failing.add_create("/m2", b"", &persistent()).unwrap();
    failing.add_check_version("/a", 0).unwrap();
    match failing.commit().await {
        Err(zk::MultiWriteError::OperationFailed { index, source }) => {
            assert_eq!((index, source), (1, zk::Error::BadVersion));
        }
        other => panic!("expected the multi to fail at its check: {other:?}"),
    }
    assert_eq!(zk.check_stat("/m2").await.unwrap(), None);
    assert_eq!(zk.get_data("/a").await.unwrap().0, b"from multi");

    // A data watch fires on another session's write, with the node's path.
    let (_, _, watcher) = zk.get_and_watch_data("/a").await.unwrap();
    other.set_data("/a", b"changed", None).await.unwrap();
    let event = soon("data watch", watcher.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDataChanged);
    assert_eq!(event.path, "/a");

    // An exists watch on a missing node fires when another session creates it.
    let (none, watcher) = zk.check_and_watch_stat("/later").await.unwrap();
    assert!(none.is_none());
    other.create("/later", b"", &persistent()).await.unwrap();
    let event = soon("exists watch", watcher.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeCreated);
    assert_eq!(event.path, "/later");

    // Helpers of the client crate: recursive listing and deletion.
    assert_eq!(
        client::list_recursive(&zk, "/a").await.unwrap(),
        ["/a", "/a/e"]
    );
    assert_eq!(client::delete_all(&zk, "/a").await.unwrap(), 2);
    assert_eq!(zk.check_stat("/a").await.unwrap(), None);
}

/// Runs `quorum shell` with `args`, feeding `stdin`; returns (success, stdout, stderr).
fn shell(server: &Server, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(QUORUM)
        .args(["shell", "--server", &server.address()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start quorum shell");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn shell_runs_commands_and_scripts() {
    let server = Server::start();

    let (ok, out, err) = shell(&server, &["-c", "create /s hi"], "");
    assert!(ok, "stderr: {err}");
    assert_eq!(out, "Created /s\n");

    // The same again fails: the exit status says so, stderr says why in zkCli's words.
    let (ok, out, err) = shell(&server, &["-c", "create /s hi"], "");
    assert!(!ok);
    assert_eq!(out, "");
    assert!(err.contains("Node already exists: /s"), "stderr: {err}");

    let script = "\
# a comment, then blank lines are skipped

get /s
create /t first
create -s /t/q- x
create -e /t/eph
get /t
set /t second 0
get /t
ls /
ls /t
stat /t
watch /t
set /t \"third one\"
ls -R /t
delete /t/q-0000000000
deleteall /t
ls /
sync /
";
    let (ok, out, err) = shell(&server, &[], script);
    assert!(ok, "stdout: {out}\nstderr: {err}");
    assert_eq!(err, "");
    let mut lines = out.lines();
    macro_rules! expect {
        ($want:expr) => {
            assert_eq!(lines.next(), Some($want), "output:\n{out}")
        };
    }
    expect!("hi");
    expect!("Created /t");
    expect!("Created /t/q-0000000000");
    expect!("Created /t/eph");
    expect!("first");
    expect!("second");
    expect!("[s, t, zookeeper]");
    expect!("[eph, q-0000000000]");
    let stat: Vec<&str> = (0..11).map(|_| lines.next().unwrap_or_default()).collect();
    let field = |name: &str| {
        stat.iter()
            .find_map(|l| l.strip_prefix(&format!("{name} = ")))
            .unwrap_or_else(|| panic!("no {name} in stat output:\n{out}"))
    };
    assert_eq!(field("dataVersion"), "1");
    assert_eq!(field("cversion"), "2");
    assert_eq!(field("numChildren"), "2");
    assert_eq!(field("dataLength"), "6");
    assert_eq!(field("ephemeralOwner"), "0x0");
    assert_eq!(field("aclVersion"), "0");
    assert!(field("cZxid").starts_with("0x"));
    assert!(field("ctime").contains(" UTC "));
    // The watch set by `watch /t` fires on the next set, printed as zkCli prints it.
    expect!("");
    expect!("WATCHER::");
    expect!("");
    expect!("WatchedEvent state:SyncConnected type:NodeDataChanged path:/t");
    expect!("/t");
    expect!("/t/eph");
    expect!("/t/q-0000000000");
    expect!("[s, zookeeper]");
    expect!("Sync is OK");
    assert_eq!(lines.next(), None, "output:\n{out}");

    // A failing command in the middle: the rest runs, the status is non-zero.
    let (ok, out, err) = shell(
        &server,
        &[],
        "get /missing\nset /s x 7\ndelete /s\nfrobnicate\nget /s\n",
    );
    assert!(!ok);
    assert!(err.contains("Node does not exist: /missing"), "{err}");
    assert!(err.contains("version No is not valid : /s"), "{err}");
    assert!(err.contains("Unknown command: frobnicate"), "{err}");
    assert!(err.contains("4 of 5 commands failed"), "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("Node does not exist: /s"),
        "deleted, then read: {err}"
    );

    // No server there: a clear error, not a hang.
    let dead = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let output = Command::new(QUORUM)
        .args(["shell", "--server", &dead, "--timeout", "2", "-c", "ls /"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot connect"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// What the load learned the server acknowledged.
#[derive(Default)]
struct Acked {
    /// Sequential nodes created, with their data.
    created: Vec<(String, Vec<u8>)>,
    /// Per counter node: the last setData version acknowledged.
    counters: Vec<(String, i32)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_writes_loses_nothing_acknowledged() {
    let mut server = Server::start();
    let zk = connect(&server).await;
    zk.create("/load", b"", &persistent()).await.unwrap();
    const WRITERS: usize = 4;
    for w in 0..WRITERS {
        zk.create(&format!("/load/w{w}"), b"", &persistent())
            .await
            .unwrap();
        zk.create(&format!("/load/c{w}"), b"0", &persistent())
            .await
            .unwrap();
    }
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (zk, acked, stop) = (zk.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
            let counter = format!("/load/c{w}");
            let mut version = 0;
            for i in 0u32.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let data = format!("writer {w} item {i}").into_bytes();
                let prefix = format!("/load/w{w}/n-");
                let Ok((_, seq)) = zk.create(&prefix, &data, &sequential).await else {
                    break;
                };
                acked
                    .lock()
                    .unwrap()
                    .created
                    .push((format!("{prefix}{seq}"), data));
                // setData number k writes "k" expecting version k-1, so a node's data names
                // its own version whatever happened after the last acknowledgement.
                let next = version + 1;
                let write = zk.set_data(&counter, next.to_string().as_bytes(), Some(version));
                if write.await.is_err() {
                    break;
                }
                version = next;
                acked
                    .lock()
                    .unwrap()
                    .counters
                    .push((counter.clone(), version));
            }
        }));
    }
    // Let the load run, then kill the server under it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while acked.lock().unwrap().created.len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    // A request in flight when the server died fails once the client gives up on the
    // connection, which can take up to the session timeout (10 s here): allow for it.
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("writers stop after the kill")
            .unwrap();
    }
    drop(zk);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.created.len() >= 20,
        "too few writes before the kill ({}) to test anything",
        acked.created.len()
    );

    eprintln!(
        "killed after {} acknowledged creates and {} acknowledged setData",
        acked.created.len(),
        acked.counters.len()
    );
    server.restart();
    let zk = connect(&server).await;
    for (path, data) in &acked.created {
        match zk.get_data(path).await {
            Ok((stored, _)) => assert_eq!(&stored, data, "{path}"),
            Err(e) => panic!(
                "acknowledged create of {path} lost ({e}); {} creates acknowledged\n{}",
                acked.created.len(),
                server.log()
            ),
        }
    }
    for w in 0..WRITERS {
        let counter = format!("/load/c{w}");
        let last = acked
            .counters
            .iter()
            .filter(|(c, _)| *c == counter)
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0);
        let (data, stat) = zk.get_data(&counter).await.unwrap();
        // One write may have been applied without its answer reaching us; no more.
        assert!(
            stat.version == last || stat.version == last + 1,
            "{counter}: version {} after {last} acknowledged",
            stat.version
        );
        assert_eq!(
            String::from_utf8_lossy(&data),
            stat.version.to_string(),
            "{counter}"
        );
        // Nothing beyond one unacknowledged create either.
        let acked_here = acked
            .created
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("/load/w{w}/")))
            .count();
        let stored = zk
            .list_children(&format!("/load/w{w}"))
            .await
            .unwrap()
            .len();
        assert!(
            stored == acked_here || stored == acked_here + 1,
            "/load/w{w}: {stored} children after {acked_here} acknowledged creates"
        );
    }

    // The restarted server takes new writes, and sequence numbers go on from where they were.
    let sequential = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    let (_, seq) = zk
        .create("/load/w0/n-", b"after", &sequential)
        .await
        .unwrap();
    let highest = acked
        .created
        .iter()
        .filter_map(|(p, _)| p.strip_prefix("/load/w0/n-"))
        .map(|s| s.parse::<i64>().unwrap())
        .max()
        .unwrap_or(-1);
    assert!(seq.into_i64() > highest);
    zk.create("/after", b"x", &persistent()).await.unwrap();
    let stat = zk.set_data("/after", b"y", Some(0)).await.unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(zk.get_data("/after").await.unwrap().0, b"y");
}

/// Reads until the server closes the connection, or fails after a few seconds.
fn assert_closed(mut stream: TcpStream, what: &str) {
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: connection still open ({e})"),
        }
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    stream.read_exact(&mut length)?;
    let mut body = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut body)?;
    Ok(body)
}

/// A connection with a session: a valid ConnectRequest sent and its answer read.
fn handshaken(server: &Server) -> TcpStream {
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut request = Vec::new();
    request.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
    request.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
    request.extend_from_slice(&4000i32.to_be_bytes()); // timeOut
    request.extend_from_slice(&0i64.to_be_bytes()); // sessionId
    request.extend_from_slice(&16i32.to_be_bytes()); // passwd
    request.extend_from_slice(&[0u8; 16]);
    request.push(0); // readOnly
    stream.write_all(&frame(&request)).unwrap();
    let answer = read_frame(&mut stream).expect("ConnectResponse");
    let session = i64::from_be_bytes(answer[8..16].try_into().unwrap());
    assert_ne!(session, 0, "no session in the ConnectResponse");
    stream
}

/// Request header (xid, type) and the reply header's err for `xid`, if the server answers.
fn reply_error(stream: &mut TcpStream, xid: i32) -> Option<i32> {
    loop {
        let body = read_frame(stream).ok()?;
        let got = i32::from_be_bytes(body[0..4].try_into().unwrap());
        if got == xid {
            return Some(i32::from_be_bytes(body[12..16].try_into().unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_that_connection_only() {
    let server = Server::start();
    let zk = connect(&server).await;
    zk.create("/kept", b"before", &persistent()).await.unwrap();

    // Random bytes (a fixed seed, so a failure replays) behind a small length: no
    // ConnectRequest decodes from them.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..200)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    let mut stream = TcpStream::connect(server.address()).unwrap();
    let mut bytes = 60u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&noise);
    stream.write_all(&bytes).unwrap();
    assert_closed(stream, "random bytes");

    // Random bytes, then the client stops sending: no frame ever completes.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.write_all(&[0, 0, 0x10]).unwrap();
    stream.write_all(&noise[..150]).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    assert_closed(stream, "random bytes then EOF");

    // A length above jute.maxbuffer (1 MiB): refused before any of it is buffered.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.write_all(&(64u32 << 20).to_be_bytes()).unwrap();
    let _ = stream.write_all(&[0u8; 1024]);
    assert_closed(stream, "a 64 MiB frame");

    // Same after the handshake.
    let mut stream = handshaken(&server);
    stream.write_all(&((1u32 << 20) + 1).to_be_bytes()).unwrap();
    let _ = stream.write_all(&[0u8; 1024]);
    assert_closed(stream, "a frame of 1 MiB + 1 after the handshake");

    // A request too short to hold its header.
    let mut stream = handshaken(&server);
    stream.write_all(&frame(&[0, 0, 1])).unwrap();
    assert_closed(stream, "a 3-byte request");

    // A request whose header decodes but whose body does not (getData with a path length
    // running past the frame): ZooKeeper answers MarshallingError (-5) or drops the
    // connection; either way no harm is done.
    let mut stream = handshaken(&server);
    let mut request = Vec::new();
    request.extend_from_slice(&7i32.to_be_bytes()); // xid
    request.extend_from_slice(&4i32.to_be_bytes()); // getData
    request.extend_from_slice(&1000i32.to_be_bytes()); // path length
    request.extend_from_slice(b"/k");
    stream.write_all(&frame(&request)).unwrap();
    if let Some(err) = reply_error(&mut stream, 7) {
        assert_eq!(err, -5, "malformed getData");
    }

    // An opcode that does not exist: Unimplemented (-6), as ZooKeeper answers.
    let mut stream = handshaken(&server);
    let mut request = Vec::new();
    request.extend_from_slice(&9i32.to_be_bytes());
    request.extend_from_slice(&4242i32.to_be_bytes());
    stream.write_all(&frame(&request)).unwrap();
    if let Some(err) = reply_error(&mut stream, 9) {
        assert_eq!(err, -6, "unknown opcode");
    }

    // Everyone else is still served: the old session and a new one.
    assert_eq!(zk.get_data("/kept").await.unwrap().0, b"before");
    let fresh = connect(&server).await;
    fresh.set_data("/kept", b"after", Some(0)).await.unwrap();
    assert_eq!(zk.get_data("/kept").await.unwrap().0, b"after");
    assert_eq!(
        four_letter_word(server.port, "ruok").as_deref(),
        Some("imok")
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_client_that_does_not_read_is_throttled() {
    let server = Server::start();
    let pid = server.pid();
    let mut greedy = handshaken(&server);
    greedy
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    // exists("/zookeeper") requests, sent as fast as possible, answers never read.
    let mut one = Vec::new();
    one.extend_from_slice(&3i32.to_be_bytes()); // type: exists
    one.extend_from_slice(&10i32.to_be_bytes());
    one.extend_from_slice(b"/zookeeper");
    one.push(0); // watch
    let batch_len = 1000;
    let total_batches = 2000; // two million requests, ~54 MB
    let mut sent = 0usize;
    let mut blocked = false;
    for b in 0..total_batches {
        let mut bytes = Vec::with_capacity(batch_len * 32);
        for i in 0..batch_len {
            let xid = (b * batch_len + i + 1) as i32;
            let mut body = xid.to_be_bytes().to_vec();
            body.extend_from_slice(&one);
            bytes.extend_from_slice(&frame(&body));
        }
        if greedy.write_all(&bytes).is_err() {
            blocked = true;
            break;
        }
        sent += batch_len;
    }
    assert!(
        blocked,
        "the server read all {sent} requests without the client reading anything"
    );
    // Memory stays bounded and everyone else is served.
    let rss = rss_kib(pid);
    assert!(rss < 256 * 1024, "server resident memory {rss} KiB");
    assert_eq!(
        four_letter_word(server.port, "ruok").as_deref(),
        Some("imok")
    );
    let mut other = handshaken(&server);
    let mut body = 7i32.to_be_bytes().to_vec();
    body.extend_from_slice(&one);
    other.write_all(&frame(&body)).unwrap();
    assert_eq!(
        reply_error(&mut other, 7),
        Some(0),
        "another client is answered"
    );
    eprintln!("throttled after {sent} requests sent without reading; server RSS {rss} KiB");
}
