//! The keys Quorum reads or knows of, and the zoo.cfg line syntax.

use super::ConfigError;

/// The other keys Quorum reads (for "did you mean" hints).
pub(super) const KNOWN_KEYS: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "tickTime",
    "initLimit",
    "syncLimit",
    "clientPort",
    "clientPortAddress",
    "jute.maxbuffer",
    "minSessionTimeout",
    "maxSessionTimeout",
    "4lw.commands.whitelist",
    "metricsProvider.httpPort",
    "snapCount",
    "fsync.warningthresholdms",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "peerType",
    "quorum.peerSecretFile",
    "quorum.maxPeerSendQueueBytes",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.idleTimeout",
    "readonlymode.enabled",
    "reconfigEnabled",
    "standaloneEnabled",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
];

/// Settings of ZooKeeper 3.8 that Quorum accepts and does not use.
pub(super) fn is_zookeeper_key(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "dynamicConfigFile",
        "quorumListenOnAllIPs",
        "electionAlg",
        "electionPortBindRetry",
        "cnxTimeout",
        "syncEnabled",
        "forceSync",
        "preAllocSize",
        "leaderServes",
        "skipACL",
        "clientPortListenBacklog",
        "connectToLearnerMasterLimit",
        "txnLogSizeLimitInKb",
        "snapSizeLimitInKb",
        "commitLogCount",
        "initLimit.extra",
        "audit.enable",
        "multiAddress.enabled",
        "multiAddress.reachabilityCheckEnabled",
    ];
    const PREFIXES: &[&str] = &[
        "metricsProvider.",
        "zookeeper.",
        "quorum.cnxn.",
        "group.",
        "weight.",
    ];
    KEYS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The `(line, key, value)` of every setting, in order.
pub(super) fn key_values(text: &str) -> Result<Vec<(usize, String, String)>, ConfigError> {
    let mut values = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ConfigError::Line {
                line: index + 1,
                message: format!("expected key=value, found {line:?}"),
            });
        };
        values.push((index + 1, key.trim().to_string(), value.trim().to_string()));
    }
    Ok(values)
}

/// A decimal number, or hexadecimal with `0x` (jute.maxbuffer is often written so).
pub(super) fn parse_number(value: &str) -> Option<u64> {
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}
