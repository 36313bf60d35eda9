//! Client TLS on `secureClientPort`: the rustls server configuration built from ZooKeeper's
//! `ssl.*` settings, and the handshake of one accepted connection.
//!
//! Everything that can be wrong with the stores is found when the server starts, so a server
//! that runs has a usable certificate; the error names the key and the file.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use server_core::config::tls::{ClientAuth, TlsConfig, TlsVersion};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub mod stores;

use stores::Store;

/// What the secure port needs to take a connection: the acceptor and how long a handshake may
/// take.
#[derive(Clone)]
pub struct SecurePort {
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl SecurePort {
    /// Opens the stores and builds the TLS configuration; an error names the key at fault.
    pub fn new(config: &TlsConfig) -> Result<SecurePort, String> {
        Ok(SecurePort {
            acceptor: TlsAcceptor::from(Arc::new(server_config(config)?)),
            handshake_timeout: config.handshake_timeout,
        })
    }

    /// Runs the TLS handshake of an accepted connection; a peer that does not finish it in
    /// time, or fails it, is dropped with the reason.
    pub async fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let _ = stream.set_nodelay(true);
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
            Err(_) => Err(format!(
                "TLS handshake not done within {} ms",
                self.handshake_timeout.as_millis()
            )),
        }
    }
}

/// The rustls configuration for `config`.
pub fn server_config(config: &TlsConfig) -> Result<ServerConfig, String> {
    let provider = Arc::new(provider(config));
    let versions: Vec<&'static SupportedProtocolVersion> = config
        .versions()
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("ssl.enabledProtocols and ssl.ciphersuites do not fit: {e}"))?;
    let builder = match config.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => builder.with_client_cert_verifier(client_verifier(config, auth, provider)?),
    };
    let key_store = Store {
        key: "ssl.keyStore",
        settings: &config.key_store,
    };
    let identity = key_store.identity()?;
    let location = config
        .key_store
        .location
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| format!("ssl.keyStore.location={location}: unusable key or certificate: {e}"))
}

/// The ring provider with only the cipher suites `ssl.ciphersuites` names, in its order.
fn provider(config: &TlsConfig) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &config.cipher_suites {
        let all = std::mem::take(&mut provider.cipher_suites);
        provider.cipher_suites = names
            .iter()
            .filter_map(|name| {
                all.iter()
                    .find(|s| rustls_name(s.suite()).as_deref() == Some(*name))
                    .copied()
            })
            .collect();
    }
    provider
}

/// A rustls suite by its Java/IANA name: TLS 1.3 suites are `TLS13_…` in rustls, `TLS_…` in
/// Java.
fn rustls_name(suite: rustls::CipherSuite) -> Option<String> {
    let name = suite.as_str()?;
    Some(match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    })
}

/// Verifies client certificates against the trust store; `want` lets clients without one in.
fn client_verifier(
    config: &TlsConfig,
    auth: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let trust_store = Store {
        key: "ssl.trustStore",
        settings: &config.trust_store,
    };
    let mut roots = RootCertStore::empty();
    for cert in trust_store.certificates()? {
        roots
            .add(cert)
            .map_err(|e| format!("ssl.trustStore: unusable certificate: {e}"))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match auth {
        ClientAuth::Want => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| format!("ssl.trustStore: cannot verify clients: {e}"))
}
