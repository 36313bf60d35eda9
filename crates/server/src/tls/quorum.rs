//! Mutual TLS on the peer links (`sslQuorum=true`, the `ssl.quorum.*` stores): the listener
//! requires a certificate from every server that dials it and checks it against the quorum
//! trust store; the dialler presents its own and checks the listener's the same way. TLS
//! authenticates the machines; the shared secret of `quorum.peerSecretFile`, when set, is still
//! proven inside the TLS link and authenticates the ensemble.
//!
//! With `ssl.quorum.hostnameVerification` (ZooKeeper's default) both ends also check names:
//! the dialler that the listener's certificate names the host of its `server.N` line, the
//! listener that the dialler's names the host of the `server.N` line of the id it claims. So
//! a certificate is only good for the member whose address it names, not for any member.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use server_core::config::tls::{ClientAuth, TlsSettings};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{identity, mismatch, protocol_versions, provider, roots, unusable_key, within};

/// The TLS ends of this server's peer links.
#[derive(Clone)]
pub struct QuorumTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    /// `ssl.quorum.handshakeDetectionTimeoutMillis`.
    handshake_timeout: Duration,
    /// `ssl.quorum.hostnameVerification`.
    hostname_verification: bool,
}

impl std::fmt::Debug for QuorumTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumTls")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("hostname_verification", &self.hostname_verification)
            .finish_non_exhaustive()
    }
}

impl QuorumTls {
    /// Opens the `ssl.quorum.*` stores and builds both ends; an error names the key at fault.
    pub fn new(settings: &TlsSettings) -> Result<QuorumTls, String> {
        let listener = TlsSettings {
            client_auth: ClientAuth::Need,
            ..settings.clone()
        };
        Ok(QuorumTls {
            acceptor: TlsAcceptor::from(Arc::new(super::server_config(&listener)?)),
            connector: TlsConnector::from(Arc::new(client_config(settings)?)),
            handshake_timeout: settings.handshake_timeout,
            hostname_verification: settings.hostname_verification,
        })
    }

    /// Whether certificates are checked against the members' host names.
    pub fn checks_host_names(&self) -> bool {
        self.hostname_verification
    }

    /// The listener's side of the handshake, within `ssl.quorum.handshakeDetectionTimeoutMillis`.
    pub async fn accept(
        &self,
        stream: TcpStream,
    ) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
        within(self.handshake_timeout, self.acceptor.accept(stream)).await
    }

    /// The dialler's side of the handshake with the member at `host`, within
    /// `ssl.quorum.handshakeDetectionTimeoutMillis`.
    pub async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let name = server_name(host)?;
        within(self.handshake_timeout, self.connector.connect(name, stream)).await
    }

    /// Checks that the certificate a dialler presented names `host`, the address of the member
    /// it says it is (nothing to check without hostname verification).
    pub fn check_dialler(
        &self,
        certificates: Option<&[CertificateDer<'_>]>,
        host: &str,
    ) -> Result<(), String> {
        if !self.hostname_verification {
            return Ok(());
        }
        let leaf = certificates
            .and_then(|c| c.first())
            .ok_or("no client certificate")?;
        let parsed =
            ParsedCertificate::try_from(leaf).map_err(|e| format!("bad certificate: {e}"))?;
        rustls::client::verify_server_name(&parsed, &server_name(host)?)
            .map_err(|e| format!("its certificate is not for {host}: {e}"))
    }
}

/// A member's host as TLS names it: an IP address or a DNS name.
fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|e| format!("{host} cannot be checked against a certificate: {e}"))
}

/// The dialler's configuration: its certificate, and the listener's checked against the quorum
/// trust store (and its name, with hostname verification).
fn client_config(settings: &TlsSettings) -> Result<ClientConfig, String> {
    let provider = Arc::new(provider(settings));
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(settings)?), provider.clone())
            .build()
            .map_err(|e| format!("ssl.quorum.trustStore: cannot verify servers: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.hostname_verification {
        verifier
    } else {
        Arc::new(ChainOnly(verifier))
    };
    let identity = identity(settings)?;
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&protocol_versions(settings))
        .map_err(|e| mismatch(settings, e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(identity.chain, identity.key)
        .map_err(|e| unusable_key(settings, e))
}

/// The trust store's check without the name check, for
/// `ssl.quorum.hostnameVerification=false`: the chain must still lead to a trusted
/// certificate.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verified {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
