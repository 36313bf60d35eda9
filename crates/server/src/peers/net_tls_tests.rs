//! Tests of peer links over mutual TLS (`sslQuorum=true`) on loopback sockets, with the client
//! TLS test stores (crates/server/tests/tls-fixtures; their README says how they were made)
//! and, for the refusals, certificates made here with rcgen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use server_core::config::tls::TlsSettings;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::*;
use crate::peers::{PeerOptions, PeerSecret};
use crate::tls::quorum::QuorumTls;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls-fixtures")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Quorum TLS settings with a PEM key store and trust store.
fn settings(key_store: &Path, trust_store: &Path) -> TlsSettings {
    let mut settings = TlsSettings::new("ssl.quorum");
    settings.key_store.location = Some(key_store.to_path_buf());
    settings.trust_store.location = Some(trust_store.to_path_buf());
    settings.handshake_timeout = Duration::from_millis(500);
    settings
}

fn fixture_tls() -> QuorumTls {
    let f = fixtures();
    QuorumTls::new(&settings(&f.join("server.pem"), &f.join("ca.pem"))).unwrap()
}

fn options(tls: QuorumTls, secret: Option<&str>) -> PeerOptions {
    let mut options = PeerOptions::new(Duration::from_millis(100), 3);
    options.secret = secret.and_then(PeerSecret::from_text);
    options.tls = Some(tls);
    options
}

/// Starts server `me` of members 1 and 2, at `hosts` and `ports`.
async fn node(
    me: u64,
    hosts: [&str; 2],
    ports: [u16; 2],
    options: PeerOptions,
) -> (PeerNet, mpsc::UnboundedReceiver<CoreEvent>) {
    let (tx, core) = mpsc::unbounded_channel();
    let members = (1..=2)
        .map(|id: u64| {
            let i = id as usize - 1;
            (id, format!("{}:{}", hosts[i], ports[i]))
        })
        .collect();
    let listen = format!("127.0.0.1:{}", ports[me as usize - 1])
        .parse()
        .unwrap();
    (start(me, listen, members, tx, options).await.unwrap(), core)
}

/// Whether 2 and 1 link within two seconds.
async fn link_up(one: &PeerNet, two: &PeerNet) -> bool {
    for _ in 0..200 {
        if one.is_connected(2) && two.is_connected(1) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn ping(round: u64) -> PeerFrame {
    PeerFrame::Zab(zab::Message::PingAck {
        link: 1,
        epoch: zab::Epoch(1),
        round,
    })
}

#[tokio::test]
async fn members_link_over_mutual_tls_and_frames_flow_both_ways() {
    let ports = [free_port(), free_port()];
    let hosts = ["127.0.0.1", "localhost"];
    let (one, mut one_core) = node(1, hosts, ports, options(fixture_tls(), Some("s"))).await;
    let (two, mut two_core) = node(2, hosts, ports, options(fixture_tls(), Some("s"))).await;
    assert!(link_up(&one, &two).await, "no TLS link");
    two.send(1, &ping(1));
    one.send(2, &ping(2));
    for (core, from, round) in [(&mut one_core, 2, 1), (&mut two_core, 1, 2)] {
        let event = tokio::time::timeout(Duration::from_secs(2), core.recv())
            .await
            .unwrap()
            .unwrap();
        match event {
            CoreEvent::Peer { from: f, frame } => assert_eq!((f, frame), (from, ping(round))),
            _ => panic!("not a frame"),
        }
    }
}

/// A CA no store trusts and a leaf it signed for `names`, as one PEM key store, and the CA as
/// a PEM trust store, in `dir`.
fn foreign_stores(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "another CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "impostor");
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (key_store, trust_store) = (dir.join("key.pem"), dir.join("ca.pem"));
    let pem = format!("{}{}{}", key.serialize_pem(), cert.pem(), ca.pem());
    std::fs::write(&key_store, pem).unwrap();
    std::fs::write(&trust_store, ca.pem()).unwrap();
    (key_store, trust_store)
}

#[tokio::test]
async fn a_dialler_whose_certificate_another_ca_signed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key_store, _) = foreign_stores(dir.path(), &["localhost", "127.0.0.1"]);
    // The impostor trusts the ensemble's CA: only its own certificate is wrong.
    let impostor = QuorumTls::new(&settings(&key_store, &fixtures().join("ca.pem"))).unwrap();
    let ports = [free_port(), free_port()];
    let hosts = ["127.0.0.1", "127.0.0.1"];
    let (one, _one_core) = node(1, hosts, ports, options(fixture_tls(), None)).await;
    let (two, _two_core) = node(2, hosts, ports, options(impostor, None)).await;
    assert!(!link_up(&one, &two).await, "an impostor linked");
}

#[tokio::test]
async fn a_listener_whose_certificate_another_ca_signed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key_store, _) = foreign_stores(dir.path(), &["localhost", "127.0.0.1"]);
    let impostor = QuorumTls::new(&settings(&key_store, &fixtures().join("ca.pem"))).unwrap();
    let ports = [free_port(), free_port()];
    let hosts = ["127.0.0.1", "127.0.0.1"];
    let (one, _one_core) = node(1, hosts, ports, options(impostor, None)).await;
    let (two, _two_core) = node(2, hosts, ports, options(fixture_tls(), None)).await;
    assert!(!link_up(&one, &two).await, "linked to an impostor");
}

/// The fixture certificate names localhost and 127.0.0.1; a member listed at 127.0.0.2 (still
/// loopback) that presents it is refused by the listener, which checks the certificate names
/// the member the dialler claims to be — unless hostname verification is off.
#[tokio::test]
async fn a_dialler_certificate_must_name_its_members_host() {
    let ports = [free_port(), free_port()];
    let one_view = ["127.0.0.1", "127.0.0.2"];
    let two_view = ["127.0.0.1", "127.0.0.1"];
    let (one, _c1) = node(1, one_view, ports, options(fixture_tls(), Some("s"))).await;
    let (two, _c2) = node(2, two_view, ports, options(fixture_tls(), Some("s"))).await;
    assert!(
        !link_up(&one, &two).await,
        "a certificate for another host was taken"
    );

    let f = fixtures();
    let mut lax = settings(&f.join("server.pem"), &f.join("ca.pem"));
    lax.hostname_verification = false;
    let lax = || QuorumTls::new(&lax).unwrap();
    let ports = [free_port(), free_port()];
    let (one, _c1) = node(1, one_view, ports, options(lax(), Some("s"))).await;
    let (two, _c2) = node(2, two_view, ports, options(lax(), Some("s"))).await;
    assert!(
        link_up(&one, &two).await,
        "no link without hostname verification"
    );
}

/// A plain-TCP stranger (here one speaking the peer handshake in the clear, as a server
/// without sslQuorum would) is closed, and a silent one once the TLS deadline passes.
#[tokio::test]
async fn plain_tcp_strangers_are_closed() {
    let ports = [free_port(), free_port()];
    let hosts = ["127.0.0.1", "127.0.0.1"];
    let (_one, _core) = node(1, hosts, ports, options(fixture_tls(), Some("s"))).await;
    let mut plain = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    let secret = PeerSecret::from_text("s");
    let dialled = auth::dial(&mut plain, 2, 1, secret.as_ref()).await;
    assert!(dialled.is_err(), "a plain handshake went through");
    let mut silent = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "still open: {read:?}"
    );
}

/// A store that cannot be used is an error at start naming the `ssl.quorum.*` key.
#[test]
fn unusable_quorum_stores_name_their_key() {
    let f = fixtures();
    let missing = f.join("no-such-store.pem");
    let error = QuorumTls::new(&settings(&missing, &f.join("ca.pem"))).unwrap_err();
    assert!(
        error.starts_with("ssl.quorum.keyStore.location="),
        "{error}"
    );
    let error = QuorumTls::new(&settings(&f.join("server.pem"), &missing)).unwrap_err();
    assert!(
        error.starts_with("ssl.quorum.trustStore.location="),
        "{error}"
    );
    let mut wrong = settings(&f.join("server.jks"), &f.join("truststore.jks"));
    wrong.key_store.password = Some("not it".into());
    let error = QuorumTls::new(&wrong).unwrap_err();
    assert!(error.contains("ssl.quorum.keyStore"), "{error}");
}

/// Without a secret, a certificate that names the member's host is the proof: a new
/// connection of a live member (a restarted server) replaces its link at once.
#[tokio::test]
async fn a_certified_reconnection_replaces_the_old_link_without_a_secret() {
    let ports = [free_port(), free_port()];
    let hosts = ["127.0.0.1", "127.0.0.1"];
    let (one, mut one_core) = node(1, hosts, ports, options(fixture_tls(), None)).await;
    let (two, _two_core) = node(2, hosts, ports, options(fixture_tls(), None)).await;
    assert!(link_up(&one, &two).await, "no TLS link");
    let tcp = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    let mut again = fixture_tls().connect("127.0.0.1", tcp).await.unwrap();
    auth::dial(&mut again, 2, 1, None).await.unwrap();
    let replaced = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(CoreEvent::PeerDisconnected { peer: 2 }) = one_core.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(replaced.is_ok(), "the old link was not replaced");
}
