//! Client TLS on `secureClientPort`, against a real server in this process: a TLS client
//! speaks ZooKeeper on the secure port while a plain one does on the plain port; a client
//! without a certificate is refused when `ssl.clientAuth=need`; strangers that send nothing or
//! garbage are dropped without holding anyone up; key stores load in PEM, PKCS12 and JKS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use proto::{
    Acl, ConnectRequest, ConnectResponse, CreateRequest, Decode, Encode, GetDataRequest, OpCode,
    ReplyHeader, Request, RequestPacket, Response,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use server::config::Config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long a test waits for anything the server should do at once.
const PATIENCE: Duration = Duration::from_secs(10);
/// Time given the server to notice that a client closed its connection.
const SLOT_RELEASE: Duration = Duration::from_millis(300);
const FIXTURE_PASSWORD: &str = "quorum-test";

/// A CA, and the server and client certificates it signed, made at run time.
struct Pki {
    ca: CertificateDer<'static>,
    /// Client certificate and key (PKCS8 DER).
    client: (CertificateDer<'static>, Vec<u8>),
}

/// Writes `server.pem` (key and chain) and `ca.pem` into `dir`.
fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        (params.signed_by(&key, &ca, &ca_key).unwrap(), key)
    };
    let (server_cert, server_key) = leaf("server");
    let (client_cert, client_key) = leaf("client");
    let server_pem = format!(
        "{}{}{}",
        server_key.serialize_pem(),
        server_cert.pem(),
        ca.pem()
    );
    std::fs::write(dir.join("server.pem"), server_pem).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    Pki {
        ca: ca.der().clone(),
        client: (client_cert.der().clone(), client_key.serialize_der()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server with `tls` lines in its zoo.cfg, listening on a plain and a secure port.
struct Server {
    plain: u16,
    secure: u16,
    _dir: tempfile::TempDir,
}

async fn start(dir: tempfile::TempDir, tls: &str) -> Server {
    let (plain, secure) = (free_port(), free_port());
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = Config::parse(&format!(
        "tickTime=500\ndataDir={}\nclientPort={plain}\nclientPortAddress=127.0.0.1\n\
         secureClientPort={secure}\nadmin.enableServer=false\n{tls}",
        data.display()
    ))
    .unwrap();
    tokio::spawn(server::run(config));
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", secure)).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server {
        plain,
        secure,
        _dir: dir,
    }
}

/// A client TLS configuration trusting `ca`, with a client certificate if given.
fn connector(
    ca: &CertificateDer<'static>,
    client: Option<&(CertificateDer<'static>, Vec<u8>)>,
) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![cert.clone()],
                PrivateKeyDer::try_from(key.clone()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    port: u16,
    connector: &TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

async fn write_frame<S: AsyncWrite + Unpin>(
    stream: &mut S,
    record: &impl Encode,
) -> std::io::Result<()> {
    let body = record.to_bytes();
    let mut frame = BytesMut::with_capacity(body.len() + 4);
    frame.put_u32(body.len() as u32);
    frame.put_slice(&body);
    stream.write_all(&frame).await?;
    stream.flush().await
}

async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Bytes> {
    let len = tokio::time::timeout(PATIENCE, stream.read_u32())
        .await
        .map_err(|_| std::io::Error::other("no answer"))??;
    let mut body = vec![0; len as usize];
    stream.read_exact(&mut body).await?;
    Ok(body.into())
}

/// Opens a session, creates `path` holding `data` and reads it back.
async fn create_and_get<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    path: &str,
    data: &[u8],
) -> std::io::Result<Vec<u8>> {
    let connect = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 10_000,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: false,
    };
    write_frame(stream, &connect).await?;
    let response = ConnectResponse::decode(&mut read_frame(stream).await?).unwrap();
    assert_ne!(response.session_id, 0, "a session");
    let create = Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags: 0,
    });
    write_frame(stream, &RequestPacket::new(1, create)).await?;
    let mut reply = read_frame(stream).await?;
    assert_eq!(ReplyHeader::decode(&mut reply).unwrap().err, 0, "create");
    let get = Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    });
    write_frame(stream, &RequestPacket::new(2, get)).await?;
    let mut reply = read_frame(stream).await?;
    let header = ReplyHeader::decode(&mut reply).unwrap();
    match Response::decode_body(OpCode::GetData, header.err, &mut reply).unwrap() {
        Response::GetData(r) => Ok(r.data.unwrap_or_default().to_vec()),
        other => panic!("not a getData answer: {other:?}"),
    }
}

/// Whether the server ends a TLS connection made without a client certificate: with TLS 1.2
/// the handshake fails; with TLS 1.3 the client's handshake ends first and the refusal comes
/// on the first read.
async fn refused_without_certificate(port: u16, connector: &TlsConnector) -> bool {
    let Ok(mut stream) = tls_connect(port, connector).await else {
        return true;
    };
    create_and_get(&mut stream, "/nocert", b"x").await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_plain_clients_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let tls = format!(
        "ssl.keyStore.location={0}/server.pem\nssl.trustStore.location={0}/ca.pem\n\
         ssl.enabledProtocols=TLSv1.2,TLSv1.3\nssl.handshakeDetectionTimeoutMillis=1000\n\
         maxCnxns=3\n",
        dir.path().display()
    );
    let server = start(dir, &tls).await;
    let with_cert = connector(&pki.ca, Some(&pki.client));

    let mut secure = tls_connect(server.secure, &with_cert).await.unwrap();
    let mut plain = TcpStream::connect(("127.0.0.1", server.plain))
        .await
        .unwrap();
    let got = create_and_get(&mut secure, "/secure", b"over tls").await;
    assert_eq!(got.unwrap(), b"over tls");
    let got = create_and_get(&mut plain, "/plain", b"in the clear").await;
    assert_eq!(got.unwrap(), b"in the clear");
    drop((secure, plain));

    // ssl.clientAuth defaults to need, as in ZooKeeper.
    let without_cert = connector(&pki.ca, None);
    assert!(refused_without_certificate(server.secure, &without_cert).await);
    // The server notices the closed connections and frees their slots.
    tokio::time::sleep(SLOT_RELEASE).await;

    // Two strangers hold two of the three slots (maxCnxns=3): one silent, one sending
    // garbage. A real client still gets in, and both are dropped by the handshake timeout.
    let silent = TcpStream::connect(("127.0.0.1", server.secure))
        .await
        .unwrap();
    let mut garbage = TcpStream::connect(("127.0.0.1", server.secure))
        .await
        .unwrap();
    garbage.write_all(&[0x16, 3, 3, 0, 9, 9, 9]).await.unwrap();
    let mut secure = tls_connect(server.secure, &with_cert).await.unwrap();
    let got = create_and_get(&mut secure, "/after-strangers", b"ok").await;
    assert_eq!(got.unwrap(), b"ok");
    // All three slots are taken, handshakes under way included: the plain port, which shares
    // maxCnxns with the secure one, turns the next connection away at once.
    let mut fourth = TcpStream::connect(("127.0.0.1", server.plain))
        .await
        .unwrap();
    assert!(create_and_get(&mut fourth, "/fourth", b"no").await.is_err());
    drop(secure);
    tokio::time::sleep(SLOT_RELEASE).await;
    for mut stranger in [silent, garbage] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(PATIENCE, async {
            loop {
                match stranger.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        });
        read.await.expect("a stranger is dropped");
    }
    // Their slots are free again: three clients at once fit.
    let mut three = Vec::new();
    for i in 0..3 {
        let mut stream = tls_connect(server.secure, &with_cert).await.unwrap();
        let path = format!("/again{i}");
        assert_eq!(
            create_and_get(&mut stream, &path, b"y").await.unwrap(),
            b"y"
        );
        three.push(stream);
    }
}

/// A flood of strangers that open the secure port and never start a handshake takes at most
/// `MAX_TLS_HANDSHAKES_IN_PROGRESS` slots of `maxCnxns`: the rest are closed at accept, and the
/// plain port keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_tls_strangers_does_not_lock_out_the_plain_port() {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let bound = server::accept::MAX_TLS_HANDSHAKES_IN_PROGRESS;
    let tls = format!(
        "ssl.keyStore.location={0}/server.pem\nssl.trustStore.location={0}/ca.pem\n\
         ssl.handshakeDetectionTimeoutMillis=30000\nmaxCnxns={1}\n",
        dir.path().display(),
        bound + 10
    );
    let server = start(dir, &tls).await;
    let mut strangers = Vec::new();
    for _ in 0..bound + 50 {
        strangers.push(
            TcpStream::connect(("127.0.0.1", server.secure))
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(SLOT_RELEASE).await;
    let mut closed = 0;
    for stranger in &mut strangers {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(20), stranger.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(
        closed >= 50,
        "only {closed} strangers beyond the bound were closed"
    );
    let mut plain = TcpStream::connect(("127.0.0.1", server.plain))
        .await
        .unwrap();
    let got = create_and_get(&mut plain, "/plain", b"still served").await;
    assert_eq!(got.unwrap(), b"still served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_want_lets_clients_without_a_certificate_in() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let tls = format!(
        "ssl.keyStore.location={0}/server.pem\nssl.trustStore.location={0}/ca.pem\n\
         ssl.clientAuth=want\n",
        dir.path().display()
    );
    let server = start(dir, &tls).await;
    let mut stream = tls_connect(server.secure, &connector(&pki.ca, None))
        .await
        .unwrap();
    let got = create_and_get(&mut stream, "/want", b"anonymous").await;
    assert_eq!(got.unwrap(), b"anonymous");
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls-fixtures")
}

fn fixture_cert(name: &str) -> CertificateDer<'static> {
    let path = fixtures().join(name);
    rustls::pki_types::pem::PemObject::from_pem_file(path).unwrap()
}

fn fixture_client() -> (CertificateDer<'static>, Vec<u8>) {
    let key_path = fixtures().join("client.key");
    let key: PrivateKeyDer = rustls::pki_types::pem::PemObject::from_pem_file(key_path).unwrap();
    (fixture_cert("client.crt"), key.secret_der().to_vec())
}

/// The stores made by openssl and keytool (see tests/tls-fixtures/README.md) serve TLS
/// clients, in each format, with the type given or inferred from the file's extension.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystores_in_pem_pkcs12_and_jks_serve_clients() {
    let f = fixtures();
    let ca = fixture_cert("ca.pem");
    let client = fixture_client();
    for (key_store, trust_store, kind) in [
        ("server.pem", "ca.pem", ""),
        ("server.p12", "truststore.p12", ""),
        ("server.jks", "truststore.jks", ""),
        ("server.jks", "truststore.p12", "JKS"),
        ("server.p12", "truststore.jks", "PKCS12"),
    ] {
        let tls = format!(
            "ssl.keyStore.location={k}\nssl.keyStore.password={FIXTURE_PASSWORD}\n\
             ssl.keyStore.type={kind}\nzookeeper.ssl.trustStore.location={t}\n\
             zookeeper.ssl.trustStore.password={FIXTURE_PASSWORD}\n",
            k = f.join(key_store).display(),
            t = f.join(trust_store).display(),
        );
        let server = start(tempfile::tempdir().unwrap(), &tls).await;
        let mut stream = tls_connect(server.secure, &connector(&ca, Some(&client)))
            .await
            .unwrap_or_else(|e| panic!("{key_store}: {e}"));
        let got = create_and_get(&mut stream, "/fixture", key_store.as_bytes()).await;
        assert_eq!(got.unwrap(), key_store.as_bytes(), "{key_store}");
        // A client the trust store does not know is refused.
        let stranger = (fixture_cert("stranger.crt"), {
            let path = f.join("stranger.key");
            let key: PrivateKeyDer =
                rustls::pki_types::pem::PemObject::from_pem_file(path).unwrap();
            key.secret_der().to_vec()
        });
        let untrusted = connector(&ca, Some(&stranger));
        let refused = refused_without_certificate(server.secure, &untrusted).await;
        assert!(refused, "{key_store}: an untrusted client got in");
    }
}

/// A bad store is a startup error naming the key and the file.
#[test]
fn bad_keystores_are_startup_errors_that_name_the_key_and_file() {
    use server::tls::SecurePort;
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jks");
    let no_key = f.join("ca.pem");
    let cases = [
        (missing.clone(), FIXTURE_PASSWORD, "ssl.keyStore.location"),
        (f.join("server.jks"), "wrong", "server.jks"),
        (f.join("server.p12"), "wrong", "server.p12"),
        (no_key.clone(), "", "no private key"),
    ];
    for (path, password, wanted) in cases {
        let config = Config::parse(&format!(
            "dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location={}\n\
             ssl.keyStore.password={password}\nssl.clientAuth=none\n",
            path.display()
        ))
        .unwrap();
        let error = match SecurePort::new(&config.tls) {
            Ok(_) => panic!("{} opened with password {password:?}", path.display()),
            Err(e) => e,
        };
        assert!(error.contains(wanted), "{error}");
        assert!(error.contains("ssl.keyStore"), "{error}");
        assert!(error.contains(&*path.to_string_lossy()), "{error}");
    }
    // The stores themselves are fine with the right password.
    for store in ["server.jks", "server.p12", "server.pem"] {
        let config = Config::parse(&format!(
            "dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location={}\n\
             ssl.keyStore.password={FIXTURE_PASSWORD}\nssl.trustStore.location={}\n",
            f.join(store).display(),
            f.join("truststore.jks").display()
        ))
        .unwrap();
        if let Err(e) = SecurePort::new(&config.tls) {
            panic!("{store}: {e}");
        }
    }
}
