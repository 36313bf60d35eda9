//! Server configuration, read from a zoo.cfg-compatible file so an existing ZooKeeper
//! configuration works unchanged.
//!
//! Keys of ZooKeeper that Quorum has no use for are accepted and ignored; any other unknown key
//! is kept and reported as a warning at start (a typo such as `clientport=` must not pass
//! silently), and so is every value Quorum had to raise or lower into its range. Known keys
//! with bad values are errors that name the key and the line.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::limits::Limits;

/// A configuration error, naming what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Smallest `quorum.maxPeerSendQueueBytes` taken: a queue must hold a few frames.
pub const MIN_PEER_SEND_QUEUE_BYTES: usize = 1 << 20;

/// One voting member of the ensemble (`server.N=host:peerPort:electionPort`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub host: String,
    pub peer_port: u16,
    pub election_port: u16,
}

/// The server's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub tick_time: Duration,
    pub init_limit: u64,
    pub sync_limit: u64,
    pub data_dir: PathBuf,
    /// Where the transaction log lives (ZooKeeper's dataLogDir); defaults to `data_dir`.
    pub data_log_dir: PathBuf,
    pub client_port: u16,
    pub client_port_address: IpAddr,
    /// Largest packet accepted from a client (jute.maxbuffer).
    pub max_packet_bytes: usize,
    /// What clients may make the server hold (see [`crate::limits`]).
    pub limits: Limits,
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    /// Four-letter words answered; `*` allows all.
    pub four_letter_words: Vec<String>,
    /// Port of the Prometheus /metrics endpoint (0: off).
    pub metrics_port: u16,
    pub extended_types_enabled: bool,
    /// `user:base64(sha1(user:password))` of the super user, who passes every ACL check
    /// (zookeeper.DigestAuthenticationProvider.superDigest).
    pub super_digest: Option<String>,
    /// Snapshots kept by the purge task (autopurge.snapRetainCount).
    pub snap_retain_count: usize,
    /// Hours between purges; 0 disables (autopurge.purgeInterval).
    pub purge_interval_hours: u64,
    /// Transactions between snapshots (snapCount).
    pub snap_count: u64,
    /// Voting members; empty in standalone mode.
    pub members: Vec<Member>,
    /// This server's id (from `myid` in dataDir); 1 in standalone mode.
    pub my_id: u64,
    /// Keys the file set that Quorum does not know (not even as ZooKeeper keys it ignores).
    pub ignored: BTreeMap<String, String>,
    /// What the server should warn about at start: unknown keys, values moved into range.
    pub warnings: Vec<String>,
    /// A deliberately broken variant of the Zab core, for tests that must show their checker
    /// catches an unsafe server (`quorum server --unsafe-bug`). Only in builds with the `bugs`
    /// feature, and never read from zoo.cfg.
    #[cfg(feature = "bugs")]
    pub unsafe_bug: Option<zab::Bug>,
    /// The file holding the ensemble's shared peer secret (`quorum.peerSecretFile`).
    pub peer_secret_file: Option<PathBuf>,
    /// The secret read from `peer_secret_file` by [`Config::load`]; `None` means the peer port
    /// trusts anyone who can reach it.
    pub peer_secret: Option<crate::peers::PeerSecret>,
    /// Bound on the bytes queued for one peer and not yet written
    /// (`quorum.maxPeerSendQueueBytes`); a link that would pass it is dropped.
    pub max_peer_send_queue_bytes: usize,
}

impl Config {
    /// Defaults as ZooKeeper's, for a server with its data in `data_dir`.
    pub fn standalone(data_dir: PathBuf, client_port: u16) -> Config {
        let tick_time = Duration::from_millis(2000);
        Config {
            tick_time,
            init_limit: 10,
            sync_limit: 5,
            data_log_dir: data_dir.clone(),
            data_dir,
            client_port,
            client_port_address: IpAddr::from([0, 0, 0, 0]),
            max_packet_bytes: 1024 * 1024,
            limits: Limits::defaults(1024 * 1024),
            min_session_timeout: tick_time * 2,
            max_session_timeout: tick_time * 20,
            four_letter_words: vec!["srvr".into()],
            metrics_port: 0,
            extended_types_enabled: false,
            super_digest: None,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            snap_count: 100_000,
            members: Vec::new(),
            my_id: 1,
            ignored: BTreeMap::new(),
            warnings: Vec::new(),
            #[cfg(feature = "bugs")]
            unsafe_bug: None,
            peer_secret_file: None,
            peer_secret: None,
            max_peer_send_queue_bytes: crate::peers::DEFAULT_MAX_PEER_SEND_QUEUE_BYTES,
        }
    }

    /// Reads a zoo.cfg file (and `myid` from its dataDir when servers are listed).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Config::parse(&text)?;
        config.read_peer_secret()?;
        if !config.members.is_empty() {
            let myid_path = config.data_dir.join("myid");
            let myid = std::fs::read_to_string(&myid_path).map_err(|source| ConfigError::Read {
                path: myid_path.display().to_string(),
                source,
            })?;
            config.my_id = myid.trim().parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "{}: not a server id: {myid:?}",
                    myid_path.display()
                ))
            })?;
            if !config.members.iter().any(|m| m.id == config.my_id) {
                return Err(ConfigError::Invalid(format!(
                    "myid {} is not among the server.N lines",
                    config.my_id
                )));
            }
        }
        Ok(config)
    }

    /// Reads the secret named by `quorum.peerSecretFile`, if any: an unreadable or empty file
    /// is an error, so a server never starts unauthenticated by mistake.
    pub fn read_peer_secret(&mut self) -> Result<(), ConfigError> {
        if let Some(path) = &self.peer_secret_file {
            let secret = crate::peers::PeerSecret::read(path).map_err(ConfigError::Invalid)?;
            self.peer_secret = Some(secret);
        }
        Ok(())
    }

    /// Parses the text of a zoo.cfg file.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let values = key_values(text)?;
        let data_dir = values
            .iter()
            .find(|(_, k, _)| k == "dataDir")
            .map(|(_, _, v)| PathBuf::from(v))
            .ok_or_else(|| ConfigError::Invalid("dataDir is not set".into()))?;
        let mut config = Config::standalone(data_dir, 2181);
        let mut later = Deferred::default();
        for (line, key, value) in values {
            config
                .apply(&key, &value, &mut later)
                .map_err(|message| ConfigError::Line { line, message })?;
        }
        config.finish(later)?;
        Ok(config)
    }

    /// Applies one `key=value`; an error is the message for its line.
    fn apply(&mut self, key: &str, value: &str, later: &mut Deferred) -> Result<(), String> {
        let number = |v: &str| -> Result<u64, String> {
            parse_number(v).ok_or_else(|| format!("{key}: not a number: {v:?}"))
        };
        match key {
            "dataDir" => {}
            "tickTime" => {
                let ms = number(value)?;
                if ms == 0 {
                    return Err("tickTime must be positive".into());
                }
                self.tick_time = Duration::from_millis(ms);
            }
            "initLimit" => self.init_limit = self.at_least(key, number(value)?, 1),
            "syncLimit" => self.sync_limit = self.at_least(key, number(value)?, 1),
            "dataLogDir" => later.data_log_dir = Some(PathBuf::from(value)),
            "clientPort" => {
                self.client_port = u16::try_from(number(value)?)
                    .map_err(|_| format!("clientPort out of range: {value}"))?
            }
            "clientPortAddress" => {
                self.client_port_address = value
                    .parse()
                    .map_err(|_| format!("clientPortAddress: not an IP address: {value:?}"))?
            }
            "jute.maxbuffer" => {
                let bytes = self.at_least(key, number(value)?, 1024);
                self.max_packet_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            "minSessionTimeout" => later.min_timeout = Some(Duration::from_millis(number(value)?)),
            "maxSessionTimeout" => later.max_timeout = Some(Duration::from_millis(number(value)?)),
            "4lw.commands.whitelist" => {
                self.four_letter_words = value
                    .split(',')
                    .map(|w| w.trim().to_string())
                    .filter(|w| !w.is_empty())
                    .collect()
            }
            "metricsProvider.httpPort" => {
                self.metrics_port = u16::try_from(number(value)?)
                    .map_err(|_| format!("metricsProvider.httpPort out of range: {value}"))?
            }
            "zookeeper.extendedTypesEnabled" | "extendedTypesEnabled" => {
                self.extended_types_enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "zookeeper.DigestAuthenticationProvider.superDigest"
            | "DigestAuthenticationProvider.superDigest" => {
                self.super_digest = Some(value.to_string())
            }
            "autopurge.snapRetainCount" => {
                self.snap_retain_count = self.at_least(key, number(value)?, 3) as usize
            }
            "autopurge.purgeInterval" => self.purge_interval_hours = number(value)?,
            "snapCount" => self.snap_count = self.at_least(key, number(value)?, 2),
            "quorum.peerSecretFile" => self.peer_secret_file = Some(PathBuf::from(value)),
            "quorum.maxPeerSendQueueBytes" => {
                let bytes = self.at_least(key, number(value)?, MIN_PEER_SEND_QUEUE_BYTES as u64);
                self.max_peer_send_queue_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            _ if key.starts_with("server.") => {
                let id = key["server.".len()..]
                    .parse::<u64>()
                    .map_err(|_| format!("{key}: not a server id"))?;
                self.members.push(parse_member(id, value)?);
            }
            _ if LIMIT_KEYS.contains(&key) => {
                later.limits.push((key.to_string(), number(value)?));
            }
            _ => self.unknown(key, value),
        }
        Ok(())
    }

    /// `value`, raised to `min` with a warning if it is below.
    fn at_least(&mut self, key: &str, value: u64, min: u64) -> u64 {
        if value < min {
            self.warnings.push(format!(
                "{key}={value} is below the least allowed; using {min}"
            ));
        }
        value.max(min)
    }

    /// A key Quorum does not use: silently accepted if ZooKeeper knows it, kept and warned
    /// about otherwise.
    fn unknown(&mut self, key: &str, value: &str) {
        if is_zookeeper_key(key) {
            tracing::debug!(key, "a ZooKeeper setting Quorum does not use");
            return;
        }
        let hint = KNOWN_KEYS
            .iter()
            .chain(LIMIT_KEYS)
            .find(|k| k.eq_ignore_ascii_case(key))
            .map(|k| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        self.warnings
            .push(format!("unknown setting {key}={value} ignored{hint}"));
        self.ignored.insert(key.to_string(), value.to_string());
    }

    /// What depends on several keys, once all are read.
    fn finish(&mut self, later: Deferred) -> Result<(), ConfigError> {
        self.data_log_dir = later.data_log_dir.unwrap_or_else(|| self.data_dir.clone());
        self.min_session_timeout = later.min_timeout.unwrap_or(self.tick_time * 2);
        self.max_session_timeout = later.max_timeout.unwrap_or(self.tick_time * 20);
        if self.min_session_timeout > self.max_session_timeout {
            return Err(ConfigError::Invalid(format!(
                "minSessionTimeout {:?} is above maxSessionTimeout {:?}",
                self.min_session_timeout, self.max_session_timeout
            )));
        }
        self.members.sort_by_key(|m| m.id);
        if self.members.windows(2).any(|w| w[0].id == w[1].id) {
            return Err(ConfigError::Invalid("a server id is listed twice".into()));
        }
        self.limits = Limits::defaults(self.max_packet_bytes);
        for (key, value) in later.limits {
            self.apply_limit(&key, value);
        }
        Ok(())
    }

    /// One of the limits' keys (after jute.maxbuffer, which some depend on).
    fn apply_limit(&mut self, key: &str, value: u64) {
        let least_request_bytes = u64::from(Limits::min_request_bytes(self.max_packet_bytes));
        let limits = &mut self.limits;
        match key {
            "maxClientCnxns" => limits.max_connections_per_ip = value as usize,
            "maxCnxns" if value > 0 => limits.max_connections = value as usize,
            "maxCnxns" => {}
            "globalOutstandingLimit" => limits.global_outstanding_requests = value.max(1),
            "zookeeper.nio.sessionlessCnxnTimeout" | "sessionlessCnxnTimeout" => {
                limits.sessionless_connection_timeout_ms = value
            }
            "quorum.maxRequestsPerConnection" => {
                limits.max_requests_per_connection = value.clamp(1, u64::from(u32::MAX)) as u32
            }
            "quorum.maxRequestBytesPerConnection" => {
                let bytes = value.clamp(least_request_bytes, u64::from(u32::MAX));
                if bytes != value {
                    self.warnings.push(format!(
                        "{key}={value} cannot hold one jute.maxbuffer packet; using {bytes}"
                    ));
                }
                self.limits.max_request_bytes_per_connection = bytes as u32;
            }
            "quorum.maxOutboundBytesPerConnection" => {
                let least = 2 * self.max_packet_bytes as u64;
                if value < least {
                    self.warnings.push(format!(
                        "{key}={value} cannot hold two jute.maxbuffer answers; using {least}"
                    ));
                }
                self.limits.max_outbound_bytes_per_connection = value.max(least);
            }
            "quorum.maxOutboundBytesTotal" => {
                let least = self.limits.max_outbound_bytes_per_connection;
                if value < least {
                    self.warnings.push(format!(
                        "{key}={value} is below one connection's bound; using {least}"
                    ));
                }
                self.limits.max_outbound_bytes_total = value.max(least);
            }
            _ => unreachable!("{key} is in LIMIT_KEYS"),
        }
    }

    /// The address clients connect to.
    pub fn client_address(&self) -> SocketAddr {
        SocketAddr::new(self.client_port_address, self.client_port)
    }

    /// Whether the four-letter word `word` may be answered.
    pub fn allows_four_letter_word(&self, word: &str) -> bool {
        self.four_letter_words.iter().any(|w| w == "*" || w == word)
    }

    pub fn is_standalone(&self) -> bool {
        self.members.len() <= 1
    }
}

/// Values that depend on other keys, applied once every line is read.
#[derive(Default)]
struct Deferred {
    data_log_dir: Option<PathBuf>,
    min_timeout: Option<Duration>,
    max_timeout: Option<Duration>,
    limits: Vec<(String, u64)>,
}

/// The keys of [`crate::limits::Limits`].
const LIMIT_KEYS: &[&str] = &[
    "maxClientCnxns",
    "maxCnxns",
    "globalOutstandingLimit",
    "zookeeper.nio.sessionlessCnxnTimeout",
    "sessionlessCnxnTimeout",
    "quorum.maxRequestsPerConnection",
    "quorum.maxRequestBytesPerConnection",
    "quorum.maxOutboundBytesPerConnection",
    "quorum.maxOutboundBytesTotal",
];

/// The other keys Quorum reads (for "did you mean" hints).
const KNOWN_KEYS: &[&str] = &[
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
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "quorum.peerSecretFile",
    "quorum.maxPeerSendQueueBytes",
];

/// Settings of ZooKeeper 3.8 that Quorum accepts and does not use.
fn is_zookeeper_key(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "standaloneEnabled",
        "reconfigEnabled",
        "dynamicConfigFile",
        "quorumListenOnAllIPs",
        "electionAlg",
        "electionPortBindRetry",
        "cnxTimeout",
        "syncEnabled",
        "forceSync",
        "preAllocSize",
        "leaderServes",
        "peerType",
        "secureClientPort",
        "secureClientPortAddress",
        "sslQuorum",
        "portUnification",
        "serverCnxnFactory",
        "skipACL",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "clientPortListenBacklog",
        "connectToLearnerMasterLimit",
        "txnLogSizeLimitInKb",
        "snapSizeLimitInKb",
        "commitLogCount",
        "fsync.warningthresholdms",
        "initLimit.extra",
        "audit.enable",
        "multiAddress.enabled",
        "multiAddress.reachabilityCheckEnabled",
    ];
    const PREFIXES: &[&str] = &[
        "ssl.",
        "authProvider.",
        "metricsProvider.",
        "admin.",
        "zookeeper.",
        "quorum.auth.",
        "quorum.cnxn.",
        "group.",
        "weight.",
    ];
    KEYS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The `(line, key, value)` of every setting, in order.
fn key_values(text: &str) -> Result<Vec<(usize, String, String)>, ConfigError> {
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
fn parse_number(value: &str) -> Option<u64> {
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// `host:peerPort:electionPort[:role][;clientAddress]`
fn parse_member(id: u64, value: &str) -> Result<Member, String> {
    let address = value.split(';').next().unwrap_or_default();
    let parts: Vec<&str> = address.split(':').collect();
    if parts.len() < 3 {
        return Err(format!(
            "server.{id}: expected host:peerPort:electionPort, found {value:?}"
        ));
    }
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("server.{id}: bad port {s:?}"))
    };
    Ok(Member {
        id,
        host: parts[0].to_string(),
        peer_port: port(parts[1])?,
        election_port: port(parts[2])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zookeeper_zoo_cfg_parses() {
        let cfg = Config::parse(
            "# comment\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\n\
             clientPort=2181\n4lw.commands.whitelist=ruok, srvr,mntr\nautopurge.purgeInterval=1\n\
             server.1=a:2888:3888\nserver.2=b:2888:3888;0.0.0.0:2181\nserver.3=c:2888:3888:participant\n\
             admin.enableServer=false\n",
        )
        .unwrap();
        assert_eq!(cfg.tick_time, Duration::from_millis(2000));
        assert_eq!(cfg.min_session_timeout, Duration::from_millis(4000));
        assert_eq!(cfg.max_session_timeout, Duration::from_millis(40000));
        assert_eq!(cfg.data_log_dir, PathBuf::from("/var/lib/zk"));
        assert_eq!(cfg.members.len(), 3);
        assert_eq!(
            cfg.members[1],
            Member {
                id: 2,
                host: "b".into(),
                peer_port: 2888,
                election_port: 3888
            }
        );
        assert!(cfg.allows_four_letter_word("srvr") && !cfg.allows_four_letter_word("dump"));
        assert!(cfg.ignored.is_empty() && cfg.warnings.is_empty(), "{cfg:?}");
    }

    #[test]
    fn the_example_configurations_parse() {
        for text in [
            include_str!("../../../examples/ensemble-3/server1.cfg"),
            include_str!("../../../examples/ensemble-5/server5.cfg"),
        ] {
            let cfg = Config::parse(text).unwrap();
            assert!(cfg.members.len() == 3 || cfg.members.len() == 5);
            assert!(cfg.ignored.is_empty(), "unknown keys: {:?}", cfg.ignored);
        }
    }

    #[test]
    fn the_peer_secret_is_read_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peer.secret");
        let cfg_text = format!(
            "dataDir=/x\nquorum.peerSecretFile={}\nquorum.maxPeerSendQueueBytes=5000000\n",
            path.display()
        );
        let mut cfg = Config::parse(&cfg_text).unwrap();
        assert_eq!(cfg.max_peer_send_queue_bytes, 5_000_000);
        assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
        let err = cfg.read_peer_secret().unwrap_err().to_string();
        assert!(err.contains("cannot read the peer secret file"), "{err}");
        std::fs::write(&path, " \n").unwrap();
        let err = cfg.read_peer_secret().unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        std::fs::write(&path, "s3cret\n").unwrap();
        cfg.read_peer_secret().unwrap();
        assert_eq!(
            cfg.peer_secret,
            crate::peers::PeerSecret::from_text("s3cret")
        );
    }

    #[test]
    fn bad_values_name_the_line() {
        let err = Config::parse("dataDir=/x\ntickTime=fast\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("tickTime"), "{err}");
        let err = Config::parse("tickTime=2000\n").unwrap_err().to_string();
        assert!(err.contains("dataDir"), "{err}");
        let err = Config::parse("dataDir=/x\nserver.1=a:1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.1"), "{err}");
        let err = Config::parse("dataDir=/x\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("minSessionTimeout"), "{err}");
    }

    /// A typo must not pass silently: `clientport=2182` used to leave the server on 2181
    /// without a word.
    #[test]
    fn unknown_keys_and_clamped_values_are_warned_about() {
        let cfg = Config::parse(
            "dataDir=/x\nclientport=2182\nsyncLimit=0\nadmin.enableServer=false\nfoo=bar\n",
        )
        .unwrap();
        assert_eq!(cfg.client_port, 2181);
        assert_eq!(cfg.sync_limit, 1);
        let text = cfg.warnings.join("\n");
        assert!(
            text.contains("clientport=2182") && text.contains("did you mean clientPort?"),
            "{text}"
        );
        assert!(text.contains("syncLimit=0"), "{text}");
        assert!(text.contains("foo=bar"), "{text}");
        assert!(
            !text.contains("admin.enableServer"),
            "a ZooKeeper key is not a typo: {text}"
        );
        assert_eq!(cfg.warnings.len(), 3, "{text}");
    }

    #[test]
    fn limits_are_read_and_kept_consistent_with_jute_maxbuffer() {
        let cfg = Config::parse(
            "dataDir=/x\nmaxClientCnxns=5\nmaxCnxns=100\nglobalOutstandingLimit=50\n\
             quorum.maxRequestBytesPerConnection=10\njute.maxbuffer=0x200000\n",
        )
        .unwrap();
        assert_eq!(cfg.limits.max_connections_per_ip, 5);
        assert_eq!(cfg.limits.max_connections, 100);
        assert_eq!(cfg.limits.global_outstanding_requests, 50);
        assert_eq!(cfg.max_packet_bytes, 0x200000);
        assert_eq!(cfg.limits.max_request_bytes_per_connection, 0x200000 + 4);
        assert!(cfg
            .warnings
            .iter()
            .any(|w| w.contains("maxRequestBytesPerConnection")));
        assert!(cfg.limits.max_outbound_bytes_per_connection >= 2 * 0x200000);
    }
}
