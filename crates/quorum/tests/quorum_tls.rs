//! TLS between servers (`sslQuorum=true`) on real processes, with the committed stores of
//! crates/server/tests/tls-fixtures (see its README for how they were made): a 3-server
//! ensemble whose servers hold the JKS and the PEM key store elects a leader and replicates a
//! write over TLS links; a server whose certificate another CA signed (made here with rcgen)
//! is refused by the others and never joins; plain-TCP strangers on a peer port, silent or
//! sending garbage or a peer handshake in the clear, are dropped within
//! `ssl.quorum.handshakeDetectionTimeoutMillis` while the ensemble keeps committing and a
//! restarted follower rejoins.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client::zk;
use launch::{Ensemble, EnsembleSpec};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");
const FIXTURE_PASSWORD: &str = "quorum-test";
/// `ssl.quorum.handshakeDetectionTimeoutMillis` in these tests.
const TLS_HANDSHAKE_MS: u64 = 1000;
/// Plain-TCP strangers opened at once on a peer port: more than the places for connections in
/// their handshake (`MAX_UNIDENTIFIED_PEER_CONNECTIONS`, 64).
const STRANGERS: usize = 80;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/tls-fixtures")
}

/// An ensemble of 3 with quorum TLS, every server on the JKS stores; not started.
fn tls_ensemble(prefix: &str) -> Ensemble {
    let f = fixtures();
    EnsembleSpec::new(3, QUORUM)
        .temp_prefix(prefix)
        .set("sslQuorum", "true")
        .set(
            "ssl.quorum.keyStore.location",
            f.join("server.jks").display(),
        )
        .set("ssl.quorum.keyStore.password", FIXTURE_PASSWORD)
        .set(
            "ssl.quorum.trustStore.location",
            f.join("truststore.jks").display(),
        )
        .set("ssl.quorum.trustStore.password", FIXTURE_PASSWORD)
        .set(
            "ssl.quorum.handshakeDetectionTimeoutMillis",
            TLS_HANDSHAKE_MS,
        )
        .write()
        .expect("write the ensemble")
}

/// Replaces server `id`'s quorum stores with PEM files (a key store and a trust store).
fn use_pem_stores(ens: &Ensemble, id: usize, key_store: &Path, trust_store: &Path) {
    let path = ens.config_path(id);
    let config = std::fs::read_to_string(&path).expect("read zoo.cfg");
    let mut lines: Vec<String> = config
        .lines()
        .filter(|l| {
            !l.starts_with("ssl.quorum.keyStore.") && !l.starts_with("ssl.quorum.trustStore.")
        })
        .map(String::from)
        .collect();
    lines.push(format!(
        "ssl.quorum.keyStore.location={}",
        key_store.display()
    ));
    lines.push(format!(
        "ssl.quorum.trustStore.location={}",
        trust_store.display()
    ));
    std::fs::write(&path, lines.join("\n") + "\n").expect("write zoo.cfg");
}

async fn connect(ens: &Ensemble, id: usize) -> zk::Client {
    client::connect(&ens.address(id), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("connect to server {id}: {e}\n{}", ens.log(id)))
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Creates `path` through server `via` and reads it back on server `on` after a sync.
async fn write_and_read(ens: &Ensemble, via: usize, on: usize, path: &str) {
    let writer = connect(ens, via).await;
    writer
        .create(path, b"over TLS", &persistent())
        .await
        .unwrap_or_else(|e| panic!("create {path} through server {via}: {e}"));
    let reader = connect(ens, on).await;
    reader.sync(path).await.unwrap();
    assert_eq!(
        reader.get_data(path).await.unwrap().0,
        b"over TLS",
        "{path} on {on}"
    );
}

fn followers(ens: &Ensemble, leader: usize) -> Vec<usize> {
    ens.ids().filter(|&id| id != leader).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensemble_over_quorum_tls_elects_and_replicates() {
    let mut ens = tls_ensemble("quorum-tls-");
    // One server on the PEM stores, the others on JKS: the formats meet on the wire.
    let f = fixtures();
    use_pem_stores(&ens, 2, &f.join("server.pem"), &f.join("ca.pem"));
    let leader = ens
        .launch(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    for id in followers(&ens, leader) {
        write_and_read(&ens, id, leader, &format!("/tls-{id}")).await;
        write_and_read(&ens, leader, id, &format!("/tls-from-leader-to-{id}")).await;
    }
    for id in ens.ids() {
        let log = plain_text(&ens.log(id));
        assert!(
            log.contains("listening for peers") && log.contains("tls=true"),
            "server {id} did not use TLS:\n{log}"
        );
        assert!(log.contains("peer connected"), "server {id}:\n{log}");
    }
}

/// A log without its terminal colours.
fn plain_text(log: &str) -> String {
    let mut text = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence runs to its final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            text.push(c);
        }
    }
    text
}

/// A PEM key store (key, certificate) for `localhost`/127.0.0.1 signed by a fresh CA no
/// fixture trusts, and that CA as a PEM trust store; written into `dir`.
fn foreign_stores(dir: &Path) -> (PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "another CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "impostor");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let key_store = dir.join("impostor.pem");
    let trust_store = dir.join("another-ca.pem");
    let pem = format!("{}{}{}", key.serialize_pem(), cert.pem(), ca.pem());
    std::fs::write(&key_store, pem).unwrap();
    std::fs::write(&trust_store, ca.pem()).unwrap();
    (key_store, trust_store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_certificate_another_ca_signed_cannot_join() {
    let mut ens = tls_ensemble("quorum-tls-foreign-");
    let dir = tempfile::tempdir().unwrap();
    let (key_store, _) = foreign_stores(dir.path());
    // Server 3 trusts the ensemble's CA, so only its own certificate stands in its way.
    use_pem_stores(&ens, 3, &key_store, &fixtures().join("ca.pem"));
    ens.start_all().unwrap();
    let leader = ens
        .wait_for_leader(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("servers 1 and 2 elect no leader: {e}"));
    assert_ne!(leader, 3, "the impostor leads");
    let other = if leader == 1 { 2 } else { 1 };
    write_and_read(&ens, other, leader, "/without-the-impostor").await;
    // Long enough for server 3 to have dialled both several times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mode = ens.mode(3);
    assert!(
        !matches!(mode.as_deref(), Some("leader" | "follower")),
        "server 3 joined as {mode:?}\n{}",
        ens.log(3)
    );
    let refusals = ens.log(1) + &ens.log(2);
    assert!(
        refusals.contains("refused a peer connection") && refusals.contains("TLS handshake failed"),
        "no refusal logged:\n{refusals}"
    );
    assert!(ens.running(3), "server 3 should keep trying, not exit");
}

/// What a stranger does once connected.
#[derive(Clone, Copy, Debug)]
enum Stranger {
    Silent,
    Garbage,
    /// The first frame of the peer handshake, in the clear: a server of a plain ensemble.
    PlainPeer,
}

/// Opens a connection to `port` and does what `kind` says; `None` if refused at once.
fn stranger(port: u16, kind: Stranger) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let sent = match kind {
        Stranger::Silent => Ok(()),
        Stranger::Garbage => stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        // A length prefix and a few bytes of a frame, as a plain server would start.
        Stranger::PlainPeer => stream.write_all(&[0, 0, 0, 17, 1, 0, 0, 0, 0, 0, 0, 0, 3]),
    };
    sent.ok()?;
    Some(stream)
}

/// Whether the server closed `stream` by `deadline` (a TLS alert before the close is fine).
/// A close that came before an already-passed deadline is still seen: the socket is read at
/// least once.
fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // An alert, then the close; a server still talking past the deadline has not closed.
            Ok(_) if left.is_zero() => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_strangers_on_a_peer_port_are_dropped_without_stalling_the_ensemble() {
    let mut ens = tls_ensemble("quorum-tls-strangers-");
    let leader = ens
        .launch(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    let port = ens.peer_port(leader);
    let kinds = [Stranger::Silent, Stranger::Garbage, Stranger::PlainPeer];
    let opened = Instant::now();
    let mut strangers: Vec<(Stranger, TcpStream)> = (0..STRANGERS)
        .filter_map(|k| {
            let kind = kinds[k % kinds.len()];
            stranger(port, kind).map(|s| (kind, s))
        })
        .collect();
    // The ensemble commits while they hold their sockets.
    let follower = followers(&ens, leader)[0];
    write_and_read(&ens, follower, leader, "/among-strangers").await;
    // Every stranger is closed within the TLS handshake deadline (plus scheduling slack);
    // those beyond the places for connections in their handshake at once.
    let deadline = opened + Duration::from_millis(TLS_HANDSHAKE_MS) + Duration::from_secs(5);
    for (k, (kind, stream)) in strangers.iter_mut().enumerate() {
        assert!(
            closed_by(stream, deadline),
            "stranger {k} ({kind:?}) still open"
        );
    }
    // A new wave of strangers on every other server's peer port does not keep a restarted
    // follower out, whichever way its links are dialled.
    let mut second: Vec<TcpStream> = ens
        .ids()
        .filter(|&id| id != follower)
        .flat_map(|id| {
            let port = ens.peer_port(id);
            (0..STRANGERS).filter_map(move |_| stranger(port, Stranger::Silent))
        })
        .collect();
    ens.kill(follower);
    ens.start(follower).unwrap();
    ens.wait_serving(follower, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("the restarted follower did not rejoin: {e}"));
    write_and_read(&ens, leader, follower, "/after-the-strangers").await;
    second.clear();
    let log = ens.log(leader);
    assert!(log.contains("refused a peer connection"), "{log}");
}
