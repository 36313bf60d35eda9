//! The AdminServer of a real server (started in this process on free loopback ports): every
//! command answers in ZooKeeper 3.8's JSON shape, and strangers cannot hold or crash it.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A started server: its client and admin addresses (and the dataDir kept alive).
struct Server {
    client: String,
    admin: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How long a silent admin connection is kept in these tests (admin.idleTimeout).
const IDLE_TIMEOUT_MS: u64 = 1000;

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port, metrics_port) = (free_port(), free_port(), free_port());
    let config = server::config::Config::parse(&format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n\
         admin.idleTimeout={IDLE_TIMEOUT_MS}\nmetricsProvider.httpPort={metrics_port}\n",
        dir.path().display()
    ))
    .unwrap();
    assert!(config.admin.enabled, "a zoo.cfg gets ZooKeeper's default");
    tokio::spawn(server::run(config));
    let server = Server {
        client: format!("127.0.0.1:{port}"),
        admin: format!("127.0.0.1:{admin_port}"),
        metrics: format!("127.0.0.1:{metrics_port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&server.admin, "/commands/ruok").await.is_none() {
        assert!(Instant::now() < deadline, "admin server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

/// Sends `request` and reads the whole answer (`None` if the connection failed).
async fn exchange(addr: &str, request: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(request).await.ok()?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

async fn get(addr: &str, path: &str) -> Option<String> {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
    )
    .await
}

/// The JSON body of `GET /commands/<name>`, after checking the status and content type.
async fn command(server: &Server, name: &str) -> serde_json::Map<String, Value> {
    let answer = get(&server.admin, &format!("/commands/{name}"))
        .await
        .unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{name}: {head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    match serde_json::from_str(body).unwrap() {
        Value::Object(map) => map,
        other => panic!("{name}: not an object: {other}"),
    }
}

fn keys(map: &serde_json::Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
    keys.sort();
    keys
}

/// Every command's top-level keys, as ZooKeeper 3.8 writes them (a standalone server, without
/// ZooKeeper's Java-only keys; tests/compat/test_admin_server.py compares with a real one).
const SHAPES: &[(&str, &[&str])] = &[
    ("ruok", &[]),
    ("is_read_only", &["read_only"]),
    ("isro", &["read_only"]),
    (
        "watch_summary",
        &["num_connections", "num_paths", "num_total_watches"],
    ),
    (
        "wchs",
        &["num_connections", "num_paths", "num_total_watches"],
    ),
    ("voting_view", &["current_config"]),
    ("cons", &["connections", "secure_connections"]),
    (
        "srvr",
        &[
            "client_response",
            "node_count",
            "read_only",
            "server_stats",
            "version",
        ],
    ),
    (
        "stat",
        &[
            "client_response",
            "connections",
            "node_count",
            "read_only",
            "secure_connections",
            "server_stats",
            "version",
        ],
    ),
    (
        "conf",
        &[
            "client_port",
            "client_port_listen_backlog",
            "data_dir",
            "data_log_dir",
            "max_client_cnxns",
            "max_session_timeout",
            "min_session_timeout",
            "server_id",
            "tick_time",
        ],
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_in_zookeepers_shape() {
    let server = start().await;
    for (name, expected) in SHAPES {
        let map = command(&server, name).await;
        assert_eq!(map["error"], Value::Null, "{name}: {map:?}");
        let mut want: Vec<&str> = expected.to_vec();
        want.extend(["command", "error"]);
        want.sort();
        assert_eq!(keys(&map), want, "{name}");
    }
    let names = [
        ("srvr", "server_stats"),
        ("stat", "stats"),
        ("mntr", "monitor"),
        ("conf", "configuration"),
        ("envi", "environment"),
        ("lead", "leader"),
        ("isro", "is_read_only"),
        ("wchs", "watch_summary"),
        ("cons", "connections"),
    ];
    for (alias, name) in names {
        assert_eq!(command(&server, alias).await["command"], name, "{alias}");
    }
    assert_eq!(command(&server, "isro").await["read_only"], false);
    assert_eq!(command(&server, "ruok").await["command"], "ruok");
    let leader = command(&server, "leader").await;
    assert_eq!(leader["error"], "server is not initialized");
    let envi = command(&server, "envi").await;
    assert!(envi["zookeeper.version"]
        .as_str()
        .unwrap()
        .starts_with("3.8."));
    let stats = command(&server, "srvr").await;
    assert_eq!(stats["server_stats"]["server_state"], "standalone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mntr_counts_a_new_znode_and_unknown_commands_are_named() {
    let server = start().await;
    let before = command(&server, "mntr").await;
    assert_eq!(before["server_state"], "standalone");
    let count = before["znode_count"].as_u64().unwrap();
    raw_create(&server.client, "/admin-test").await;
    let after = command(&server, "monitor").await;
    assert_eq!(
        after["znode_count"].as_u64().unwrap(),
        count + 1,
        "{after:?}"
    );
    let unknown = command(&server, "nosuch").await;
    assert_eq!(unknown["command"], "nosuch");
    assert_eq!(unknown["error"], "Unknown command: nosuch");
    let listing = get(&server.admin, "/commands").await.unwrap();
    assert!(listing.starts_with("HTTP/1.1 200 ") && listing.contains("/commands/monitor"));
    let not_found = get(&server.admin, "/metrics").await.unwrap();
    assert!(not_found.starts_with("HTTP/1.1 404 "), "{not_found}");
    let post = exchange(&server.admin, b"POST /commands/ruok HTTP/1.1\r\n\r\n").await;
    assert!(post.unwrap().starts_with("HTTP/1.1 405 "));
    let head = exchange(&server.admin, b"HEAD /commands/ruok HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200 ") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
}

/// A session and one create, in the client protocol's bytes.
async fn raw_create(addr: &str, path: &str) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut connect = Vec::new();
    connect.extend_from_slice(&0i32.to_be_bytes()); // protocol version
    connect.extend_from_slice(&0i64.to_be_bytes()); // last zxid seen
    connect.extend_from_slice(&10_000i32.to_be_bytes()); // timeout
    connect.extend_from_slice(&0i64.to_be_bytes()); // session id
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 16]); // password
    send_frame(&mut s, &connect).await;
    read_frame(&mut s).await;
    let mut create = Vec::new();
    create.extend_from_slice(&1i32.to_be_bytes()); // xid
    create.extend_from_slice(&1i32.to_be_bytes()); // OpCode.create
    put_string(&mut create, path);
    create.extend_from_slice(&(-1i32).to_be_bytes()); // no data
    create.extend_from_slice(&1i32.to_be_bytes()); // one ACL
    create.extend_from_slice(&31i32.to_be_bytes()); // Perms.ALL
    put_string(&mut create, "world");
    put_string(&mut create, "anyone");
    create.extend_from_slice(&0i32.to_be_bytes()); // persistent
    send_frame(&mut s, &create).await;
    let reply = read_frame(&mut s).await;
    let err = i32::from_be_bytes(reply[12..16].try_into().unwrap());
    assert_eq!(err, 0, "create failed");
}

fn put_string(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
}

async fn send_frame(s: &mut TcpStream, body: &[u8]) {
    s.write_all(&(body.len() as i32).to_be_bytes())
        .await
        .unwrap();
    s.write_all(body).await.unwrap();
}

async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).await.unwrap();
    body
}

/// A 1 MiB request head is refused once past the cap (431, or a reset if the refusal is lost
/// to the unread rest), at once: a server that read it all would wait for the end of the head
/// until admin.idleTimeout. The server still answers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_request_head_is_refused() {
    let server = start().await;
    let s = TcpStream::connect(&server.admin).await.unwrap();
    let (mut reader, mut writer) = s.into_split();
    let mut head = b"GET /commands/ruok HTTP/1.1\r\nX: ".to_vec();
    head.resize(1 << 20, b'a');
    let started = Instant::now();
    // The writer is kept open (it is the task's output) so the server never sees an end.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&head).await;
        writer
    });
    let mut out = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut out)).await;
    assert!(ended.is_ok(), "the connection must be closed");
    drop(writing);
    let closed_after = started.elapsed();
    let text = String::from_utf8_lossy(&out);
    assert!(
        out.is_empty() || text.starts_with("HTTP/1.1 431 "),
        "{text}"
    );
    assert!(
        closed_after < Duration::from_millis(IDLE_TIMEOUT_MS / 2),
        "refused only after {closed_after:?}"
    );
    assert_eq!(command(&server, "ruok").await["error"], Value::Null);
}

/// A connection that sends nothing is closed after admin.idleTimeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed() {
    let server = start().await;
    let mut s = TcpStream::connect(&server.admin).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("a silent connection must be closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(IDLE_TIMEOUT_MS / 2),
        "{held:?}"
    );
}

/// Connections beyond the bound are closed at once; those held do not stop the server once
/// they go; the client port is unaffected meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_are_bounded() {
    let server = start().await;
    let mut held = Vec::new();
    for _ in 0..server::admin::MAX_ADMIN_CONNECTIONS {
        held.push(TcpStream::connect(&server.admin).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = Vec::new();
    for _ in 0..50 {
        extra.push(TcpStream::connect(&server.admin).await.unwrap());
    }
    let started = Instant::now();
    for mut s in extra {
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("a connection beyond the bound is closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    assert!(started.elapsed() < Duration::from_millis(IDLE_TIMEOUT_MS / 2));
    raw_create(&server.client, "/while-held").await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(command(&server, "ruok").await["error"], Value::Null);
}

/// A taken admin port stops the start, and the error says which keys to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_admin_port_is_a_clear_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin_port = taken.local_addr().unwrap().port();
    let config = server::config::Config::parse(&format!(
        "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort={admin_port}\n",
        dir.path().display(),
        free_port()
    ))
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), server::run(config))
        .await
        .expect("the start must fail, not serve");
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("admin.serverPort") && err.contains(&admin_port.to_string()),
        "{err}"
    );
}

/// The metrics endpoint is served by the same HTTP module, with its own path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_beside_the_admin_server() {
    let server = start().await;
    let answer = get(&server.metrics, "/metrics").await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("zk_znode_count "), "{answer}");
    let other = get(&server.metrics, "/commands/ruok").await.unwrap();
    assert!(other.starts_with("HTTP/1.1 404 "), "{other}");
}
