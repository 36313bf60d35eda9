//! The TLS settings ZooKeeper 3.8 reads under two prefixes: `ssl.` for the secure client port
//! and `ssl.quorum.` for the links between servers (its X509Util with a `ClientX509Util` and a
//! `QuorumX509Util` prefix). One parser serves both, so the two accept the same values and
//! say the same things about them.
//!
//! Only the settings are read here; the stores are opened by the server when it starts, so a
//! bad store is a startup error there that names the key and the file.

use std::path::PathBuf;
use std::time::Duration;

use super::keys::{parse_bool, parse_number};

/// ZooKeeper's `ssl.handshakeDetectionTimeoutMillis` default: how long a connection on the
/// secure port may take to finish its TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(5000);

/// The format of a key or trust store file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

impl StoreType {
    /// The type as `ssl.keyStore.type` spells it (case-insensitive, as ZooKeeper).
    fn parse(value: &str) -> Option<StoreType> {
        match value.to_ascii_uppercase().as_str() {
            "PEM" => Some(StoreType::Pem),
            "PKCS12" => Some(StoreType::Pkcs12),
            "JKS" => Some(StoreType::Jks),
            _ => None,
        }
    }

    /// The type ZooKeeper infers from a file's extension when none is given.
    pub fn from_extension(path: &std::path::Path) -> Option<StoreType> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pem" => Some(StoreType::Pem),
            "p12" | "pfx" => Some(StoreType::Pkcs12),
            "jks" => Some(StoreType::Jks),
            _ => None,
        }
    }
}

/// A key store or a trust store as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSettings {
    pub location: Option<PathBuf>,
    pub password: Option<String>,
    /// The configured type; [`StoreSettings::store_type`] falls back to the extension.
    pub kind: Option<StoreType>,
}

impl StoreSettings {
    /// The store's type: as configured, else from the file's extension.
    pub fn store_type(&self) -> Option<StoreType> {
        self.kind
            .or_else(|| StoreType::from_extension(self.location.as_deref()?))
    }
}

/// Whether clients must present a certificate (`ssl.clientAuth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Want,
    Need,
}

/// A TLS protocol version rustls speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The cipher suites rustls (with its ring provider) implements, by the Java/IANA name
/// ZooKeeper's `ssl.ciphersuites` uses.
pub const SUPPORTED_CIPHER_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/// The key suffixes [`TlsSettings::apply`] reads, after `ssl.` or `ssl.quorum.`.
pub(super) const SETTING_SUFFIXES: &[&str] = &[
    "keyStore.location",
    "keyStore.password",
    "keyStore.type",
    "trustStore.location",
    "trustStore.password",
    "trustStore.type",
    "clientAuth",
    "protocol",
    "enabledProtocols",
    "ciphersuites",
    "hostnameVerification",
    "handshakeDetectionTimeoutMillis",
    "crl",
    "ocsp",
];

/// The stores, protocols and cipher suites under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl` or `ssl.quorum`: what error messages about these settings name.
    pub prefix: &'static str,
    pub key_store: StoreSettings,
    pub trust_store: StoreSettings,
    /// ZooKeeper's default is `need`.
    pub client_auth: ClientAuth,
    /// `<prefix>.protocol`: the only version enabled when `<prefix>.enabledProtocols` is unset
    /// (TLSv1.2 by default in ZooKeeper 3.8); `TLS` enables both.
    pub protocol: Vec<TlsVersion>,
    /// `<prefix>.enabledProtocols`; `None` means what `<prefix>.protocol` says.
    pub enabled_protocols: Option<Vec<TlsVersion>>,
    /// `<prefix>.ciphersuites`, the supported ones in the order given; `None` means rustls's
    /// defaults.
    pub cipher_suites: Option<Vec<&'static str>>,
    /// `<prefix>.hostnameVerification`: on the client port ZooKeeper checks no host name of a
    /// client's certificate either way; between servers both ends check the other's.
    pub hostname_verification: bool,
    /// `<prefix>.handshakeDetectionTimeoutMillis`.
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// ZooKeeper's defaults, for the keys under `prefix`.
    pub fn new(prefix: &'static str) -> TlsSettings {
        TlsSettings {
            prefix,
            key_store: StoreSettings::default(),
            trust_store: StoreSettings::default(),
            client_auth: ClientAuth::Need,
            protocol: vec![TlsVersion::Tls12],
            enabled_protocols: None,
            cipher_suites: None,
            hostname_verification: true,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// The versions enabled.
    pub fn versions(&self) -> &[TlsVersion] {
        self.enabled_protocols.as_deref().unwrap_or(&self.protocol)
    }

    /// Applies the setting `suffix` (what follows the prefix) of the zoo.cfg key `key`;
    /// warnings (unsupported protocol or cipher names) go to `warnings`.
    pub(super) fn apply(
        &mut self,
        suffix: &str,
        key: &str,
        value: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        match suffix {
            "keyStore.location" => self.key_store.location = Some(PathBuf::from(value)),
            "keyStore.password" => self.key_store.password = Some(value.to_string()),
            "keyStore.type" => self.key_store.kind = store_type(key, value)?,
            "trustStore.location" => self.trust_store.location = Some(PathBuf::from(value)),
            "trustStore.password" => self.trust_store.password = Some(value.to_string()),
            "trustStore.type" => self.trust_store.kind = store_type(key, value)?,
            "clientAuth" => self.client_auth = client_auth(key, value)?,
            "protocol" => self.protocol = protocols(key, value, warnings)?,
            "enabledProtocols" => self.enabled_protocols = Some(protocols(key, value, warnings)?),
            "ciphersuites" => self.cipher_suites = Some(cipher_suites(key, value, warnings)?),
            "hostnameVerification" => {
                self.hostname_verification =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "handshakeDetectionTimeoutMillis" => {
                let ms = parse_number(value)
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| format!("{key}: not a positive number: {value:?}"))?;
                self.handshake_timeout = Duration::from_millis(ms);
            }
            "crl" | "ocsp" => {
                // Revocation checks ask the network at handshake time; a server told to make
                // them and silently not making them would be worse than saying so.
                if parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))? {
                    warnings.push(format!(
                        "{key}=true: certificate revocation is not checked by Quorum"
                    ));
                }
            }
            _ => return Err(format!("{key}: not a TLS key")),
        }
        Ok(())
    }
}

/// An `ssl.*Store.type` value; empty means "from the extension".
fn store_type(key: &str, value: &str) -> Result<Option<StoreType>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    StoreType::parse(value)
        .map(Some)
        .ok_or_else(|| format!("{key}: {value:?} is not PEM, PKCS12 or JKS"))
}

fn client_auth(key: &str, value: &str) -> Result<ClientAuth, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "need" => Ok(ClientAuth::Need),
        "want" => Ok(ClientAuth::Want),
        "none" => Ok(ClientAuth::None),
        _ => Err(format!("{key}: {value:?} is not none, want or need")),
    }
}

/// A comma-separated list of protocol names: the ones rustls does not speak are warned about
/// and left out; an error when none is left.
fn protocols(
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<TlsVersion>, String> {
    let mut versions = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let found: &[TlsVersion] = match name {
            "TLSv1.2" => &[TlsVersion::Tls12],
            "TLSv1.3" => &[TlsVersion::Tls13],
            "TLS" => &[TlsVersion::Tls12, TlsVersion::Tls13],
            _ => {
                warnings.push(format!(
                    "{key}: protocol {name} is not supported (only TLSv1.2 and TLSv1.3); left out"
                ));
                &[]
            }
        };
        for version in found {
            if !versions.contains(version) {
                versions.push(*version);
            }
        }
    }
    if versions.is_empty() {
        return Err(format!("{key}: no supported protocol in {value:?}"));
    }
    Ok(versions)
}

/// A comma-separated list of Java/IANA cipher suite names: the unsupported ones are warned
/// about and left out; an error when none is left.
fn cipher_suites(
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static str>, String> {
    let mut suites = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match SUPPORTED_CIPHER_SUITES.iter().find(|s| **s == name) {
            Some(suite) if !suites.contains(suite) => suites.push(*suite),
            Some(_) => {}
            None => warnings.push(format!(
                "{key}: cipher suite {name} is not supported; left out"
            )),
        }
    }
    if suites.is_empty() {
        return Err(format!("{key}: no supported cipher suite in {value:?}"));
    }
    Ok(suites)
}
