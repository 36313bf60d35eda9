//! ZooKeeper settings that select or configure Java machinery Quorum does not have. Quorum
//! starts with them set, as ZooKeeper would, but says once at start that it ignores each, so an
//! operator does not believe, say, SASL is being enforced when it is not.

use super::Config;

/// Exact keys, with why Quorum ignores them.
const JAVA_ONLY_KEYS: &[(&str, &str)] = &[
    (
        "serverCnxnFactory",
        "it picks ZooKeeper's Java network layer (NIO or Netty); Quorum has its own",
    ),
    (
        "metricsProvider.className",
        "it names a Java metrics class; Quorum's Prometheus endpoint is built in \
         (metricsProvider.httpPort)",
    ),
];

/// Key prefixes, with why Quorum ignores them.
const JAVA_ONLY_PREFIXES: &[(&str, &str)] = &[
    (
        "authProvider.",
        "it loads a Java authentication provider class (SASL, Kerberos, x509); Quorum \
         supports digest and world authentication only, SASL is not implemented yet",
    ),
    (
        "quorum.auth.",
        "SASL authentication between servers is not implemented; quorum.peerSecretFile \
         authenticates peers",
    ),
];

/// Why `key` is a Java-only setting Quorum ignores, if it is one.
pub(super) fn java_only_reason(key: &str) -> Option<&'static str> {
    JAVA_ONLY_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .or_else(|| JAVA_ONLY_PREFIXES.iter().find(|(p, _)| key.starts_with(p)))
        .map(|(_, why)| *why)
}

impl Config {
    /// Accepts a Java-only setting with one warning for the key (however often it is set).
    pub(super) fn java_only(&mut self, key: &str, value: &str, why: &str) {
        let head = format!("{key}=");
        if self.warnings.iter().any(|w| w.starts_with(&head)) {
            return;
        }
        self.warnings
            .push(format!("{key}={value} is ignored: {why}"));
    }
}
