//! The client TLS keys of ZooKeeper 3.8: `secureClientPort`, `secureClientPortAddress` and the
//! `ssl.*` keys (also spelled `zookeeper.ssl.*`, as ZooKeeper turns unknown zoo.cfg keys into
//! `zookeeper.`-prefixed system properties and reads those). The `ssl.*` settings themselves are
//! parsed by [`super::tls_settings`], which the quorum's `ssl.quorum.*` keys share.

use std::net::IpAddr;

use super::keys::parse_number;
use super::tls_settings::SETTING_SUFFIXES;
pub use super::tls_settings::{
    ClientAuth, StoreSettings, StoreType, TlsSettings, TlsVersion, DEFAULT_HANDSHAKE_TIMEOUT,
    SUPPORTED_CIPHER_SUITES,
};

/// The client TLS settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// `secureClientPort`; no TLS listener when unset.
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress`; the plain `clientPortAddress` (or any) when unset.
    pub secure_client_port_address: Option<IpAddr>,
    /// The `ssl.*` stores, protocols and cipher suites.
    pub settings: TlsSettings,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            secure_client_port: None,
            secure_client_port_address: None,
            settings: TlsSettings::new("ssl"),
        }
    }
}

/// The TLS keys Quorum reads (for "did you mean" hints), without the `zookeeper.` prefix.
pub(super) fn tls_keys() -> impl Iterator<Item = String> {
    ["secureClientPort", "secureClientPortAddress"]
        .into_iter()
        .map(String::from)
        .chain(SETTING_SUFFIXES.iter().map(|s| format!("ssl.{s}")))
}

/// Whether `key` is one of the keys [`TlsConfig::apply`] reads.
pub(super) fn is_tls_key(key: &str) -> bool {
    let name = key.strip_prefix("zookeeper.").unwrap_or(key);
    matches!(name, "secureClientPort" | "secureClientPortAddress")
        || name
            .strip_prefix("ssl.")
            .is_some_and(|suffix| SETTING_SUFFIXES.contains(&suffix))
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
            _ => match name.strip_prefix("ssl.") {
                Some(suffix) => self.settings.apply(suffix, key, value, warnings)?,
                None => return Err(format!("{key}: not a TLS key")),
            },
        }
        Ok(())
    }

    /// The versions the secure port accepts.
    pub fn versions(&self) -> &[TlsVersion] {
        self.settings.versions()
    }

    /// Checks what depends on several keys, once all are read.
    pub(super) fn finish(&self) -> Result<(), String> {
        if self.secure_client_port.is_none() {
            if self.secure_client_port_address.is_some() {
                return Err("secureClientPortAddress is set but secureClientPort is not".into());
            }
            return Ok(());
        }
        if self.settings.key_store.location.is_none() {
            return Err("secureClientPort is set but ssl.keyStore.location is not".into());
        }
        if self.settings.client_auth != ClientAuth::None
            && self.settings.trust_store.location.is_none()
        {
            return Err("ssl.clientAuth is want or need (need is the default) but \
                 ssl.trustStore.location is not set"
                .into());
        }
        Ok(())
    }
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
        let tls = &cfg.tls.settings;
        assert_eq!(cfg.tls.secure_client_port, Some(2281));
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
        assert_eq!(cfg.tls.settings.client_auth, ClientAuth::Need);
        assert_eq!(cfg.tls.versions(), [TlsVersion::Tls12]);
        assert_eq!(
            cfg.tls.settings.handshake_timeout,
            DEFAULT_HANDSHAKE_TIMEOUT
        );
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
