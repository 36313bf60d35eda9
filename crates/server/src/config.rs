//! Server configuration, read from a zoo.cfg-compatible file so an existing ZooKeeper
//! configuration works unchanged.
//!
//! Unknown keys are kept and ignored with a warning (ZooKeeper accepts many keys Quorum has no
//! use for); known keys with bad values are errors that name the key and the line.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Most connections from one IP address; 0 means no limit.
    pub max_client_connections: usize,
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
    /// Keys the file set that Quorum does not use.
    pub ignored: BTreeMap<String, String>,
    /// A deliberately broken variant of the Zab core, for tests that must show their checker
    /// catches an unsafe server (`quorum server --unsafe-bug`). Never read from zoo.cfg, so a
    /// configuration file cannot turn it on.
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
            max_client_connections: 60,
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
        let mut values: Vec<(usize, String, String)> = Vec::new();
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
        let data_dir = values
            .iter()
            .find(|(_, k, _)| k == "dataDir")
            .map(|(_, _, v)| PathBuf::from(v))
            .ok_or_else(|| ConfigError::Invalid("dataDir is not set".into()))?;
        let mut config = Config::standalone(data_dir, 2181);
        let mut min_timeout = None;
        let mut max_timeout = None;
        let mut data_log_dir = None;
        for (line, key, value) in values {
            let bad = |message: String| ConfigError::Line { line, message };
            let number = |v: &str| -> Result<u64, ConfigError> {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("{key}: not a number: {v:?}")))
            };
            match key.as_str() {
                "dataDir" => {}
                "tickTime" => {
                    let ms = number(&value)?;
                    if ms == 0 {
                        return Err(bad("tickTime must be positive".into()));
                    }
                    config.tick_time = Duration::from_millis(ms);
                }
                "initLimit" => config.init_limit = number(&value)?.max(1),
                "syncLimit" => config.sync_limit = number(&value)?.max(1),
                "dataLogDir" => data_log_dir = Some(PathBuf::from(&value)),
                "clientPort" => {
                    config.client_port = u16::try_from(number(&value)?)
                        .map_err(|_| bad(format!("clientPort out of range: {value}")))?
                }
                "clientPortAddress" => {
                    config.client_port_address = value.parse().map_err(|_| {
                        bad(format!("clientPortAddress: not an IP address: {value:?}"))
                    })?
                }
                "jute.maxbuffer" => {
                    let parsed = if let Some(hex) = value.strip_prefix("0x") {
                        u64::from_str_radix(hex, 16).ok()
                    } else {
                        value.parse::<u64>().ok()
                    };
                    let bytes = parsed.ok_or_else(|| bad(format!("jute.maxbuffer: {value:?}")))?;
                    config.max_packet_bytes =
                        usize::try_from(bytes).unwrap_or(usize::MAX).max(1024);
                }
                "maxClientCnxns" => config.max_client_connections = number(&value)? as usize,
                "minSessionTimeout" => min_timeout = Some(Duration::from_millis(number(&value)?)),
                "maxSessionTimeout" => max_timeout = Some(Duration::from_millis(number(&value)?)),
                "4lw.commands.whitelist" => {
                    config.four_letter_words = value
                        .split(',')
                        .map(|w| w.trim().to_string())
                        .filter(|w| !w.is_empty())
                        .collect()
                }
                "metricsProvider.httpPort" => {
                    config.metrics_port = u16::try_from(number(&value)?).map_err(|_| {
                        bad(format!("metricsProvider.httpPort out of range: {value}"))
                    })?
                }
                "zookeeper.extendedTypesEnabled" | "extendedTypesEnabled" => {
                    config.extended_types_enabled =
                        parse_bool(&value).ok_or_else(|| bad(format!("{key}: {value:?}")))?
                }
                "zookeeper.DigestAuthenticationProvider.superDigest"
                | "DigestAuthenticationProvider.superDigest" => config.super_digest = Some(value),
                "autopurge.snapRetainCount" => {
                    config.snap_retain_count = (number(&value)? as usize).max(3)
                }
                "autopurge.purgeInterval" => config.purge_interval_hours = number(&value)?,
                "snapCount" => config.snap_count = number(&value)?.max(2),
                "quorum.peerSecretFile" => config.peer_secret_file = Some(PathBuf::from(&value)),
                "quorum.maxPeerSendQueueBytes" => {
                    let bytes = number(&value)?;
                    config.max_peer_send_queue_bytes = usize::try_from(bytes)
                        .unwrap_or(usize::MAX)
                        .max(MIN_PEER_SEND_QUEUE_BYTES)
                }
                _ if key.starts_with("server.") => {
                    let id = key["server.".len()..]
                        .parse::<u64>()
                        .map_err(|_| bad(format!("{key}: not a server id")))?;
                    config.members.push(parse_member(id, &value).map_err(bad)?);
                }
                _ => {
                    config.ignored.insert(key, value);
                }
            }
        }
        config.data_log_dir = data_log_dir.unwrap_or_else(|| config.data_dir.clone());
        config.min_session_timeout = min_timeout.unwrap_or(config.tick_time * 2);
        config.max_session_timeout = max_timeout.unwrap_or(config.tick_time * 20);
        if config.min_session_timeout > config.max_session_timeout {
            return Err(ConfigError::Invalid(format!(
                "minSessionTimeout {:?} is above maxSessionTimeout {:?}",
                config.min_session_timeout, config.max_session_timeout
            )));
        }
        config.members.sort_by_key(|m| m.id);
        if config.members.windows(2).any(|w| w[0].id == w[1].id) {
            return Err(ConfigError::Invalid("a server id is listed twice".into()));
        }
        Ok(config)
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
        assert_eq!(
            cfg.ignored.get("admin.enableServer").map(String::as_str),
            Some("false")
        );
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
}
