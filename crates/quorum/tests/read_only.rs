//! Read-only mode on real processes: a 3-server ensemble with `readonlymode.enabled` (and
//! `localSessionsEnabled`, without which ZooKeeper 3.8 opens no read-only session) commits a
//! node; two servers are killed; the survivor turns read-only (`isro` says `ro`, `srvr` says
//! `Mode: read-only`), refuses a client that does not accept read-only, and serves one that
//! does — pipelined reads answered from what was committed, writes and syncs NOT_READONLY.
//! The others restart: the survivor leaves the mode, closes the read-only connection, and a
//! normal client writes through it.
//!
//! The client is a few lines of the ZooKeeper wire protocol over a blocking socket, so the
//! bytes on the wire (the ConnectResponse's readOnly flag, the error codes) are what is checked.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");
/// ZooKeeper's NOTREADONLY.
const NOT_READONLY: i32 = -119;
/// How long a client waits for any one answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request's body in jute: strings and buffers length-prefixed, big-endian integers.
#[derive(Default)]
struct Jute(Vec<u8>);

impl Jute {
    fn int(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn long(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(self, b: &[u8]) -> Self {
        let mut s = self.int(b.len() as i32);
        s.0.extend_from_slice(b);
        s
    }
    fn boolean(mut self, v: bool) -> Self {
        self.0.push(u8::from(v));
        self
    }
}

struct Client {
    stream: TcpStream,
    read_only: bool,
}

impl Client {
    /// Opens a new session; `None` when the server closes the connection instead.
    fn connect(port: u16, can_be_read_only: bool) -> Option<Client> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
        stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
        let request = Jute::default()
            .int(0)
            .long(0)
            .int(10_000)
            .long(0)
            .bytes(&[0; 16])
            .boolean(can_be_read_only);
        send_frame(&mut stream, &request.0);
        let response = read_frame(&mut stream)?;
        // protocolVersion, timeout, sessionId, passwd (4 + 16), readOnly.
        assert!(response.len() >= 37, "a ConnectResponse: {response:?}");
        let session = i64::from_be_bytes(response[8..16].try_into().expect("8 bytes"));
        assert_ne!(session, 0, "a session");
        Some(Client {
            stream,
            read_only: response[36] == 1,
        })
    }

    fn send(&mut self, xid: i32, op: i32, body: Jute) {
        let frame = Jute::default().int(xid).int(op).0;
        send_frame(&mut self.stream, &[frame, body.0].concat());
    }

    /// The next reply: (xid, err, body).
    fn reply(&mut self) -> Option<(i32, i32, Vec<u8>)> {
        let frame = read_frame(&mut self.stream)?;
        let int = |at: usize| i32::from_be_bytes(frame[at..at + 4].try_into().expect("4 bytes"));
        Some((int(0), int(12), frame[16..].to_vec()))
    }

    fn create(&mut self, xid: i32, path: &str, data: &[u8]) {
        let acl = Jute::default()
            .int(1)
            .int(31)
            .bytes(b"world")
            .bytes(b"anyone");
        let body = Jute::default().bytes(path.as_bytes()).bytes(data);
        self.send(xid, 1, Jute([body.0, acl.0].concat()).int(0));
    }

    fn get_data(&mut self, xid: i32, path: &str) {
        self.send(xid, 4, Jute::default().bytes(path.as_bytes()).boolean(true));
    }

    fn set_data(&mut self, xid: i32, path: &str, data: &[u8]) {
        let body = Jute::default().bytes(path.as_bytes()).bytes(data).int(-1);
        self.send(xid, 5, body);
    }
}

fn send_frame(stream: &mut TcpStream, body: &[u8]) {
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    stream.write_all(&frame).expect("send");
}

/// A whole frame, or `None` once the server closed the connection.
fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut frame = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

/// getData's data: the buffer before the Stat.
fn data_of(body: &[u8]) -> Vec<u8> {
    let len = i32::from_be_bytes(body[..4].try_into().expect("4 bytes")).max(0) as usize;
    body[4..4 + len].to_vec()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn word(port: u16, w: &str) -> String {
    launch::probe::four_letter(port, w, Duration::from_secs(2)).unwrap_or_default()
}

#[test]
fn a_server_cut_off_serves_read_only_clients_until_the_quorum_returns() {
    let mut ens = launch::EnsembleSpec::new(3, QUORUM)
        .temp_prefix("quorum-read-only-")
        .tick_ms(200)
        .set("readonlymode.enabled", "true")
        .set("localSessionsEnabled", "true")
        .set("4lw.commands.whitelist", "*")
        .write()
        .expect("write ensemble");
    ens.launch(Duration::from_secs(30)).expect("ensemble up");
    let port = ens.client_port(1);
    let mut writer = Client::connect(port, false).expect("a session");
    writer.create(1, "/ro", b"committed");
    assert_eq!(writer.reply().expect("create's answer").1, 0);
    drop(writer);

    ens.kill(2);
    ens.kill(3);
    wait_until("read-only mode", Duration::from_secs(30), || {
        word(port, "isro") == "ro"
    });
    assert!(word(port, "srvr").contains("\nMode: read-only\n"));
    assert!(
        Client::connect(port, false).is_none(),
        "a client that wants to write is refused"
    );

    let mut ro = Client::connect(port, true).expect("a read-only session");
    assert!(ro.read_only, "the ConnectResponse says read-only");
    // Pipelined: every request is sent before any answer is read.
    ro.get_data(1, "/ro");
    ro.create(2, "/ro/child", b"");
    ro.send(3, 3, Jute::default().bytes(b"/ro").boolean(false)); // exists
    ro.set_data(4, "/ro", b"changed");
    ro.send(5, 9, Jute::default().bytes(b"/ro")); // sync
    ro.send(6, 8, Jute::default().bytes(b"/").boolean(false)); // getChildren
    ro.send(7, 2, Jute::default().bytes(b"/ro").int(-1)); // delete
    ro.get_data(8, "/ro");
    let answers: Vec<(i32, i32, Vec<u8>)> =
        (0..8).map(|_| ro.reply().expect("an answer")).collect();
    let codes: Vec<(i32, i32)> = answers.iter().map(|(x, e, _)| (*x, *e)).collect();
    let refused = NOT_READONLY;
    assert_eq!(
        codes,
        vec![
            (1, 0),
            (2, refused),
            (3, 0),
            (4, refused),
            (5, refused),
            (6, 0),
            (7, refused),
            (8, 0)
        ]
    );
    assert_eq!(data_of(&answers[0].2), b"committed");
    assert_eq!(
        data_of(&answers[7].2),
        b"committed",
        "refused writes changed nothing"
    );

    ens.start(2).expect("restart 2");
    ens.start(3).expect("restart 3");
    ens.wait_ready(Duration::from_secs(30))
        .expect("a quorum again");
    assert_eq!(word(port, "isro"), "rw");
    assert!(ro.reply().is_none(), "the read-only connection is closed");

    let mut writer = Client::connect(port, false).expect("a read-write session");
    assert!(!writer.read_only);
    writer.set_data(1, "/ro", b"written after");
    writer.get_data(2, "/ro");
    assert_eq!(writer.reply().expect("setData's answer").1, 0);
    let (_, err, body) = writer.reply().expect("getData's answer");
    assert_eq!((err, data_of(&body)), (0, b"written after".to_vec()));
}
