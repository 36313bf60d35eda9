//! The client TLS keys of ZooKeeper 3.8: `secureClientPort`, `secureClientPortAddress` and the
//! `ssl.*` keys (also spelled `zookeeper.ssl.*`, as ZooKeeper turns unknown zoo.cfg keys into
//! `zookeeper.`-prefixed system properties and reads those).
//!
//! Only the settings are read here; the key and trust stores are opened by the server when it
//! starts, so a bad store is a startup error there that names the key and the file.

use std::net::IpAddr;
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

/// The client TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// `secureClientPort`; no TLS listener when unset.
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress`; the plain `clientPortAddress` (or any) when unset.
    pub secure_client_port_address: Option<IpAddr>,
    pub key_store: StoreSettings,
    pub trust_store: StoreSettings,
    /// ZooKeeper's default is `need`.
    pub client_auth: ClientAuth,
    /// `ssl.protocol`: the only version enabled when `ssl.enabledProtocols` is unset (TLSv1.2 by
    /// default in ZooKeeper 3.8); `TLS` enables both.
    pub protocol: Vec<TlsVersion>,
    /// `ssl.enabledProtocols`; `None` means what `ssl.protocol` says.
    pub enabled_protocols: Option<Vec<TlsVersion>>,
    /// `ssl.ciphersuites`, the supported ones in the order given; `None` means rustls's
    /// defaults.
    pub cipher_suites: Option<Vec<&'static str>>,
    /// `ssl.hostnameVerification`: accepted; ZooKeeper checks no host name of a client's
    /// certificate on the client port either way.
    pub hostname_verification: bool,
    /// `ssl.handshakeDetectionTimeoutMillis`.
    pub handshake_timeout: Duration,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            secure_client_port: None,
            secure_client_port_address: None,
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
}

/// The TLS keys Quorum reads (for "did you mean" hints), without the `zookeeper.` prefix.
pub(super) const TLS_KEYS: &[&str] = &[
    "secureClientPort",
    "secureClientPortAddress",
    "ssl.keyStore.location",
    "ssl.keyStore.password",
    "ssl.keyStore.type",
    "ssl.trustStore.location",
    "ssl.trustStore.password",
    "ssl.trustStore.type",
    "ssl.clientAuth",
    "ssl.protocol",
    "ssl.enabledProtocols",
    "ssl.ciphersuites",
    "ssl.hostnameVerification",
    "ssl.handshakeDetectionTimeoutMillis",
    "ssl.crl",
    "ssl.ocsp",
];

/// Whether `key` is one of the keys [`TlsConfig::apply`] reads.
pub(super) fn is_tls_key(key: &str) -> bool {
    TLS_KEYS.contains(&key.strip_prefix("zookeeper.").unwrap_or(key))
}

impl TlsConfig {
    /// Applies one TLS key; warnings (unsupported protocol or cipher names) go to `warnings`.
    pub(super) fn apply(
        &mut self,
        key: &str,
        value: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let name = key.strip_prefix("zookeeper.").unwrap_or(key);
        match name {
            "secureClientPort" => {
                let port = parse_number(value)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| format!("{key}: not a port: {value:?}"))?;
                self.secure_client_port = Some(port);
            }
            "secureClientPortAddress" => {
                let address = value
                    .parse()
                    .map_err(|_| format!("{key}: not an IP address: {value:?}"))?;
                self.secure_client_port_address = Some(address);
            }
            "ssl.keyStore.location" => self.key_store.location = Some(PathBuf::from(value)),
            "ssl.keyStore.password" => self.key_store.password = Some(value.to_string()),
            "ssl.keyStore.type" => self.key_store.kind = store_type(key, value)?,
            "ssl.trustStore.location" => self.trust_store.location = Some(PathBuf::from(value)),
            "ssl.trustStore.password" => self.trust_store.password = Some(value.to_string()),
            "ssl.trustStore.type" => self.trust_store.kind = store_type(key, value)?,
            "ssl.clientAuth" => self.client_auth = client_auth(key, value)?,
            "ssl.protocol" => self.protocol = protocols(key, value, warnings)?,
            "ssl.enabledProtocols" => {
                self.enabled_protocols = Some(protocols(key, value, warnings)?)
            }
            "ssl.ciphersuites" => self.cipher_suites = Some(cipher_suites(key, value, warnings)?),
            "ssl.hostnameVerification" => {
                self.hostname_verification =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "ssl.handshakeDetectionTimeoutMillis" => {
                let ms = parse_number(value)
                    .filter(|&ms| ms > 0)
                    .ok_or_else(|| format!("{key}: not a positive number: {value:?}"))?;
                self.handshake_timeout = Duration::from_millis(ms);
            }
            "ssl.crl" | "ssl.ocsp" => {
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

    /// The versions the secure port accepts.
    pub fn versions(&self) -> &[TlsVersion] {
        self.enabled_protocols.as_deref().unwrap_or(&self.protocol)
    }

    /// Checks what depends on several keys, once all are read.
    pub(super) fn finish(&self) -> Result<(), String> {
        if self.secure_client_port.is_none() {
            if self.secure_client_port_address.is_some() {
                return Err("secureClientPortAddress is set but secureClientPort is not".into());
            }
            return Ok(());
        }
        if self.key_store.location.is_none() {
            return Err("secureClientPort is set but ssl.keyStore.location is not".into());
        }
        if self.client_auth != ClientAuth::None && self.trust_store.location.is_none() {
            return Err("ssl.clientAuth is want or need (need is the default) but \
                 ssl.trustStore.location is not set"
                .into());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("dataDir=/d\n{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn zookeeper_tls_settings_parse() {
        let cfg = parse(
            "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
             ssl.keyStore.location=/k/server.jks\nssl.keyStore.password=secret\n\
             zookeeper.ssl.trustStore.location=/k/trust.p12\nssl.trustStore.password=t\n\
             ssl.clientAuth=want\nssl.enabledProtocols=TLSv1.3,TLSv1.2\n\
             ssl.ciphersuites=TLS_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA\n\
             ssl.hostnameVerification=false\nssl.crl=false\nzookeeper.ssl.ocsp=true\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n",
        )
        .unwrap();
        let tls = &cfg.tls;
        assert_eq!(tls.secure_client_port, Some(2281));
        assert_eq!(tls.key_store.store_type(), Some(StoreType::Jks));
        assert_eq!(tls.trust_store.store_type(), Some(StoreType::Pkcs12));
        assert_eq!(tls.client_auth, ClientAuth::Want);
        assert_eq!(tls.versions(), [TlsVersion::Tls13, TlsVersion::Tls12]);
        assert_eq!(tls.cipher_suites, Some(vec!["TLS_AES_128_GCM_SHA256"]));
        // The Java-only serverCnxnFactory (which ZooKeeper needs for TLS) is warned about too.
        assert_eq!(cfg.warnings.len(), 3, "{:?}", cfg.warnings);
        assert!(cfg.warnings[0].contains("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert!(cfg.warnings[1].contains("revocation"));
        assert!(cfg.warnings[2].starts_with("serverCnxnFactory="));
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
        // ZooKeeper listens on no plain port when only secureClientPort is set.
        assert_eq!(cfg.plain_client_port(), None);
    }

    #[test]
    fn defaults_are_zookeepers() {
        let cfg = parse("clientPort=2181\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.trustStore.location=/t.pem\n").unwrap();
        assert_eq!(cfg.tls.client_auth, ClientAuth::Need);
        assert_eq!(cfg.tls.versions(), [TlsVersion::Tls12]);
        assert_eq!(cfg.tls.handshake_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(cfg.plain_client_port(), Some(2181));
        let plain = parse("").unwrap();
        assert_eq!(plain.plain_client_port(), Some(2181));
    }

    #[test]
    fn bad_tls_settings_are_errors() {
        for (text, wanted) in [
            ("ssl.keyStore.type=BKS", "ssl.keyStore.type"),
            ("ssl.clientAuth=maybe", "ssl.clientAuth"),
            ("ssl.enabledProtocols=TLSv1,SSLv3", "no supported protocol"),
            (
                "ssl.ciphersuites=TLS_RSA_WITH_RC4_128_MD5",
                "no supported cipher",
            ),
            ("secureClientPort=99999", "secureClientPort"),
            (
                "secureClientPortAddress=127.0.0.1",
                "secureClientPort is not",
            ),
            ("secureClientPort=2281", "ssl.keyStore.location"),
            (
                "secureClientPort=2281\nssl.keyStore.location=/k.pem",
                "ssl.trustStore.location",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
        let none = "secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=none";
        assert!(parse(none).is_ok());
    }

    #[test]
    fn store_types_follow_extensions_as_zookeeper() {
        for (file, kind) in [
            ("a.pem", Some(StoreType::Pem)),
            ("a.P12", Some(StoreType::Pkcs12)),
            ("a.pfx", Some(StoreType::Pkcs12)),
            ("a.jks", Some(StoreType::Jks)),
            ("a.keystore", None),
        ] {
            assert_eq!(StoreType::from_extension(file.as_ref()), kind, "{file}");
        }
    }
}
