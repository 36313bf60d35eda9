//! TLS: the rustls configurations built from ZooKeeper's `ssl.*` settings (client TLS on
//! `secureClientPort`, this module's [`SecurePort`]) and `ssl.quorum.*` settings (peer links,
//! [`quorum`]). Both read their stores with [`stores`] and build their protocol versions,
//! cipher suites and certificate checks with the functions here, so the two ports accept the
//! same stores and names.
//!
//! Everything that can be wrong with the stores is found when the server starts, so a server
//! that runs has a usable certificate; the error names the key and the file.

use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use server_core::config::tls::{ClientAuth, TlsConfig, TlsSettings, TlsVersion};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub mod quorum;
pub mod stores;

use stores::{Identity, Store};

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
            acceptor: TlsAcceptor::from(Arc::new(server_config(&config.settings)?)),
            handshake_timeout: config.settings.handshake_timeout,
        })
    }

    /// Runs the TLS handshake of an accepted connection; a peer that does not finish it in
    /// time, or fails it, is dropped with the reason.
    pub async fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let _ = stream.set_nodelay(true);
        within(self.handshake_timeout, self.acceptor.accept(stream)).await
    }
}

/// Runs a handshake for at most `timeout`; the error says whether it failed or ran out of time.
pub(crate) async fn within<T>(
    timeout: Duration,
    handshake: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(tls)) => Ok(tls),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err(format!(
            "TLS handshake not done within {} ms",
            timeout.as_millis()
        )),
    }
}

/// The rustls server configuration for `settings`, asking clients for certificates as
/// `settings.client_auth` says.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, String> {
    let provider = Arc::new(provider(settings));
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&protocol_versions(settings))
        .map_err(|e| mismatch(settings, e))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => builder.with_client_cert_verifier(client_verifier(settings, auth, provider)?),
    };
    let identity = identity(settings)?;
    builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(|e| unusable_key(settings, e))
}

/// The protocol versions `settings` enables, as rustls names them.
pub(crate) fn protocol_versions(settings: &TlsSettings) -> Vec<&'static SupportedProtocolVersion> {
    settings
        .versions()
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect()
}

/// The error for versions and cipher suites that have nothing in common.
pub(crate) fn mismatch(settings: &TlsSettings, e: rustls::Error) -> String {
    let prefix = settings.prefix;
    format!("{prefix}.enabledProtocols and {prefix}.ciphersuites do not fit: {e}")
}

/// The error for a key store whose key or certificate rustls cannot use.
pub(crate) fn unusable_key(settings: &TlsSettings, e: rustls::Error) -> String {
    let location = settings
        .key_store
        .location
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!(
        "{}.keyStore.location={location}: unusable key or certificate: {e}",
        settings.prefix
    )
}

/// The private key and certificate chain of `<prefix>.keyStore`.
pub(crate) fn identity(settings: &TlsSettings) -> Result<Identity, String> {
    Store {
        key: format!("{}.keyStore", settings.prefix),
        settings: &settings.key_store,
    }
    .identity()
}

/// The certificates `<prefix>.trustStore` vouches for.
pub(crate) fn roots(settings: &TlsSettings) -> Result<RootCertStore, String> {
    let key = format!("{}.trustStore", settings.prefix);
    let trust_store = Store {
        key: key.clone(),
        settings: &settings.trust_store,
    };
    let mut roots = RootCertStore::empty();
    for cert in trust_store.certificates()? {
        roots
            .add(cert)
            .map_err(|e| format!("{key}: unusable certificate: {e}"))?;
    }
    Ok(roots)
}

/// The ring provider with only the cipher suites `<prefix>.ciphersuites` names, in its order.
pub(crate) fn provider(settings: &TlsSettings) -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &settings.cipher_suites {
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
    settings: &TlsSettings,
    auth: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(settings)?), provider);
    let builder = match auth {
        ClientAuth::Want => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| format!("{}.trustStore: cannot verify clients: {e}", settings.prefix))
}
