//! TLS between the servers of an ensemble: ZooKeeper 3.8's `sslQuorum` and its `ssl.quorum.*`
//! keys (also spelled `zookeeper.ssl.quorum.*`), parsed by the same code as the client port's
//! `ssl.*` keys.
//!
//! Every peer link is mutual TLS: both ends present a certificate from `ssl.quorum.keyStore`
//! and check the other's against `ssl.quorum.trustStore`, so a server always needs both
//! stores; `ssl.quorum.clientAuth` cannot loosen that (a listener that let a peer in without a
//! certificate would authenticate only one side of the link).

use super::keys::parse_bool;
use super::tls_settings::{ClientAuth, TlsSettings, SETTING_SUFFIXES};

/// What `sslQuorum` and `ssl.quorum.*` say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumTlsConfig {
    /// `sslQuorum`: peer links are TLS when true (ZooKeeper's default is false).
    pub enabled: bool,
    /// The `ssl.quorum.*` stores, protocols and cipher suites.
    pub settings: TlsSettings,
    /// Whether any `ssl.quorum.*` key was set, for the warning when `sslQuorum` is not.
    configured: bool,
}

impl Default for QuorumTlsConfig {
    fn default() -> Self {
        QuorumTlsConfig {
            enabled: false,
            settings: TlsSettings::new("ssl.quorum"),
            configured: false,
        }
    }
}

/// The quorum TLS keys Quorum reads (for "did you mean" hints).
pub(super) fn quorum_tls_keys() -> impl Iterator<Item = String> {
    std::iter::once("sslQuorum".to_string())
        .chain(SETTING_SUFFIXES.iter().map(|s| format!("ssl.quorum.{s}")))
}

/// ZooKeeper's quorum TLS switches Quorum does not implement, with why; set to true they
/// are warned about (false is their default and ZooKeeper's own behaviour here).
const UNSUPPORTED_SWITCHES: &[(&str, &str)] = &[
    (
        "sslQuorumReloadCertFiles",
        "the quorum key and trust stores are read once, at start: restart a server to load \
         new certificates",
    ),
    (
        "portUnification",
        "the peer port takes TLS only when sslQuorum=true and plain TCP only otherwise; \
         moving an ensemble to TLS means restarting every server with sslQuorum=true",
    ),
];

/// Whether `key` is one of the keys [`QuorumTlsConfig::apply`] reads.
pub(super) fn is_quorum_tls_key(key: &str) -> bool {
    let name = key.strip_prefix("zookeeper.").unwrap_or(key);
    name == "sslQuorum"
        || UNSUPPORTED_SWITCHES.iter().any(|(k, _)| *k == name)
        || name
            .strip_prefix("ssl.quorum.")
            .is_some_and(|suffix| SETTING_SUFFIXES.contains(&suffix))
}

impl QuorumTlsConfig {
    /// Applies one quorum TLS key; warnings go to `warnings`.
    pub(super) fn apply(
        &mut self,
        key: &str,
        value: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        let name = key.strip_prefix("zookeeper.").unwrap_or(key);
        if name == "sslQuorum" {
            self.enabled = parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?;
            return Ok(());
        }
        if let Some((_, why)) = UNSUPPORTED_SWITCHES.iter().find(|(k, _)| *k == name) {
            if parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))? {
                warnings.push(format!("{key}={value} is not supported: {why}"));
            }
            return Ok(());
        }
        let suffix = name
            .strip_prefix("ssl.quorum.")
            .ok_or_else(|| format!("{key}: not a quorum TLS key"))?;
        self.configured = true;
        self.settings.apply(suffix, key, value, warnings)?;
        if suffix == "clientAuth" && self.settings.client_auth != ClientAuth::Need {
            warnings.push(format!(
                "{key}={value} is ignored: between servers both ends always present a \
                 certificate the quorum trust store must vouch for"
            ));
            self.settings.client_auth = ClientAuth::Need;
        }
        Ok(())
    }

    /// Checks what depends on several keys, once all are read; `replicated` is whether there
    /// are peers at all.
    pub(super) fn finish(
        &self,
        replicated: bool,
        warnings: &mut Vec<String>,
    ) -> Result<(), String> {
        if !self.enabled {
            if self.configured && replicated {
                warnings.push(
                    "ssl.quorum.* is set but sslQuorum is not true: peer links are not \
                     encrypted"
                        .into(),
                );
            }
            return Ok(());
        }
        if self.settings.key_store.location.is_none() {
            return Err("sslQuorum=true but ssl.quorum.keyStore.location is not set".into());
        }
        if self.settings.trust_store.location.is_none() {
            return Err("sslQuorum=true but ssl.quorum.trustStore.location is not set".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tls_settings::{StoreType, TlsVersion};
    use crate::config::Config;

    const MEMBERS: &str = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n";

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("dataDir=/d\n{MEMBERS}{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn zookeeper_quorum_tls_settings_parse_apart_from_the_client_ones() {
        let cfg = parse(
            "sslQuorum=true\nssl.quorum.keyStore.location=/k/quorum.jks\n\
             ssl.quorum.keyStore.password=q\nzookeeper.ssl.quorum.trustStore.location=/k/t.pem\n\
             ssl.quorum.trustStore.type=PEM\nssl.quorum.enabledProtocols=TLSv1.3\n\
             ssl.quorum.ciphersuites=TLS_AES_256_GCM_SHA384\n\
             ssl.quorum.hostnameVerification=false\n\
             ssl.quorum.handshakeDetectionTimeoutMillis=2500\n\
             ssl.keyStore.location=/k/client.p12\n",
        )
        .unwrap();
        let quorum = &cfg.quorum_tls.settings;
        assert!(cfg.quorum_tls.enabled);
        assert_eq!(quorum.prefix, "ssl.quorum");
        assert_eq!(quorum.key_store.store_type(), Some(StoreType::Jks));
        assert_eq!(quorum.key_store.password.as_deref(), Some("q"));
        assert_eq!(quorum.trust_store.store_type(), Some(StoreType::Pem));
        assert_eq!(quorum.versions(), [TlsVersion::Tls13]);
        assert_eq!(quorum.cipher_suites, Some(vec!["TLS_AES_256_GCM_SHA384"]));
        assert!(!quorum.hostname_verification);
        assert_eq!(quorum.handshake_timeout.as_millis(), 2500);
        // The client port's settings are their own.
        let client = &cfg.tls.settings;
        assert_eq!(client.key_store.store_type(), Some(StoreType::Pkcs12));
        assert!(client.hostname_verification);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn quorum_tls_needs_both_stores_and_always_asks_for_certificates() {
        for (text, wanted) in [
            ("sslQuorum=true", "ssl.quorum.keyStore.location"),
            (
                "sslQuorum=true\nssl.quorum.keyStore.location=/k.pem",
                "ssl.quorum.trustStore.location",
            ),
            ("sslQuorum=maybe", "sslQuorum"),
            ("ssl.quorum.enabledProtocols=SSLv3", "no supported protocol"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(wanted), "{text}: {error}");
        }
        let cfg = parse(
            "sslQuorum=true\nssl.quorum.keyStore.location=/k.pem\n\
             ssl.quorum.trustStore.location=/t.pem\nssl.quorum.clientAuth=none\n",
        )
        .unwrap();
        assert_eq!(cfg.quorum_tls.settings.client_auth, ClientAuth::Need);
        assert!(cfg.warnings[0].starts_with("ssl.quorum.clientAuth=none is ignored"));
    }

    #[test]
    fn quorum_stores_without_ssl_quorum_are_warned_about() {
        let cfg = parse("ssl.quorum.keyStore.location=/k.pem\n").unwrap();
        assert!(!cfg.quorum_tls.enabled);
        assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
        assert!(cfg.warnings[0].contains("not encrypted"));
    }
}
