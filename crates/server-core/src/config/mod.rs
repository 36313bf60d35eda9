//! Server configuration, read from a zoo.cfg-compatible file so an existing ZooKeeper
//! configuration works unchanged.
//!
//! Keys of ZooKeeper that Quorum has no use for are accepted and ignored, with one warning each
//! for those that configure Java machinery Quorum lacks (SASL, the network layer); any other
//! unknown key is kept and reported as a warning at start (a typo such as `clientport=` must not pass
//! silently), and so is every value Quorum had to raise or lower into its range. Known keys
//! with bad values are errors that name the key and the line.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::limits::Limits;

mod admin;
#[cfg(test)]
mod admin_tests;
pub mod dynamic;
pub mod dynamic_file;
mod java_only;
mod keys;
mod limit_keys;
mod members;
mod membership;
pub mod quorum_tls;
#[cfg(test)]
mod tests;
pub mod tls;
pub mod tls_settings;

pub use admin::AdminConfig;
pub use dynamic::{ClientAddress, DynamicConfig, DynamicConfigError, ServerSpec};
use java_only::java_only_reason;
use keys::{is_zookeeper_key, key_values, parse_bool, parse_number, KNOWN_KEYS};
use limit_keys::LIMIT_KEYS;
pub use members::Member;
use quorum_tls::{is_quorum_tls_key, quorum_tls_keys, QuorumTlsConfig};
use tls::{is_tls_key, tls_keys, TlsConfig};

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

/// Most `quorum.ioThreads` taken: sockets are cheap next to the core, which is one thread.
pub const MAX_IO_THREADS: u64 = 64;
/// `quorum.ioThreads` when unset and TLS is on.
pub const TLS_IO_THREADS: usize = 2;

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
    /// Whether the plain client port listens: not when only `secureClientPort` is set, as in
    /// ZooKeeper.
    pub plain_client_port_listens: bool,
    /// Whether zoo.cfg set `clientPort`; without it this server's `server.N` line may give
    /// the client address (`;host:port`), as in ZooKeeper 3.5+.
    pub client_port_key_set: bool,
    /// Client TLS: `secureClientPort` and the `ssl.*` keys.
    pub tls: TlsConfig,
    /// TLS between servers: `sslQuorum` and the `ssl.quorum.*` keys.
    pub quorum_tls: QuorumTlsConfig,
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
    /// Serve read-only clients while cut off from the quorum (ZooKeeper's system property
    /// `readonlymode.enabled`, read here from zoo.cfg).
    pub read_only_enabled: bool,
    /// ZooKeeper's `localSessionsEnabled`: sessions may live on one server only. Here it is
    /// what lets a read-only server open sessions (ZooKeeper 3.8 refuses a new session on a
    /// read-only server unless it can be local); elsewhere sessions stay global.
    pub local_sessions_enabled: bool,
    /// ZooKeeper's `localSessionsUpgradingEnabled` (default false, as in ZooKeeper 3.8): a
    /// local session's first ephemeral create upgrades it to a global session; without it the
    /// create fails with EPHEMERALONLOCALSESSION.
    pub local_sessions_upgrading_enabled: bool,
    /// ZooKeeper's `reconfigEnabled` (default false): whether `reconfig` is served.
    pub reconfig_enabled: bool,
    /// ZooKeeper's `standaloneEnabled` (default true): a reconfiguration must then leave at
    /// least two voters (ZooKeeper would fall back to standalone mode below that).
    pub standalone_enabled: bool,
    /// The zoo.cfg this configuration was loaded from ([`Config::load`]): a reconfiguration
    /// rewrites it to name the new dynamic file, as ZooKeeper does.
    pub static_file: Option<PathBuf>,
    /// `user:base64(sha1(user:password))` of the super user, who passes every ACL check
    /// (zookeeper.DigestAuthenticationProvider.superDigest).
    pub super_digest: Option<String>,
    /// Snapshots kept by the purge task (autopurge.snapRetainCount).
    pub snap_retain_count: usize,
    /// Hours between purges; 0 disables (autopurge.purgeInterval).
    pub purge_interval_hours: u64,
    /// Transactions between snapshots (snapCount).
    pub snap_count: u64,
    /// A log fdatasync at least this long is logged as a warning (fsync.warningthresholdms).
    pub fsync_warning_ms: u64,
    /// The ensemble's members, voters and observers; empty in standalone mode.
    pub members: Vec<Member>,
    /// The client addresses the `server.N` lines gave (after `;`), by server id.
    pub client_addresses: BTreeMap<u64, ClientAddress>,
    /// The version of the membership: 0 for `server.N` lines of zoo.cfg, the suffix of the
    /// dynamic file's name (`….dynamic.<hex>`) when they come from `dynamicConfigFile`.
    pub config_version: u64,
    /// `dynamicConfigFile`: where the server lines are kept instead of zoo.cfg; read by
    /// [`Config::load`].
    pub dynamic_config_file: Option<PathBuf>,
    /// `peerType` (ZooKeeper's own-role key): `Some(true)` for observer. It must agree with
    /// this server's `server.N` line, which is what the other servers go by.
    pub peer_type_observer: Option<bool>,
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
    /// `quorum.ioThreads` as set; see [`Config::io_threads`].
    pub io_threads_set: Option<usize>,
    /// The HTTP AdminServer (`admin.*`).
    pub admin: AdminConfig,
}

impl Config {
    /// Defaults as ZooKeeper's, for a server with its data in `data_dir`, except that the
    /// AdminServer is off: only a zoo.cfg ([`Config::parse`]) gets ZooKeeper's default of on.
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
            plain_client_port_listens: true,
            client_port_key_set: false,
            tls: TlsConfig::default(),
            quorum_tls: QuorumTlsConfig::default(),
            max_packet_bytes: 1024 * 1024,
            limits: Limits::defaults(1024 * 1024),
            min_session_timeout: tick_time * 2,
            max_session_timeout: tick_time * 20,
            four_letter_words: vec!["srvr".into()],
            metrics_port: 0,
            extended_types_enabled: false,
            read_only_enabled: false,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            reconfig_enabled: false,
            standalone_enabled: true,
            static_file: None,
            super_digest: None,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            snap_count: 100_000,
            fsync_warning_ms: 1000,
            members: Vec::new(),
            client_addresses: BTreeMap::new(),
            config_version: 0,
            dynamic_config_file: None,
            peer_type_observer: None,
            my_id: 1,
            ignored: BTreeMap::new(),
            warnings: Vec::new(),
            #[cfg(feature = "bugs")]
            unsafe_bug: None,
            peer_secret_file: None,
            peer_secret: None,
            max_peer_send_queue_bytes: crate::peers::DEFAULT_MAX_PEER_SEND_QUEUE_BYTES,
            io_threads_set: None,
            admin: AdminConfig::disabled(),
        }
    }

    /// Reads a zoo.cfg file (and `myid` from its dataDir when servers are listed).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = dynamic_file::read_bounded(path).map_err(ConfigError::Invalid)?;
        let mut config = Config::parse(&text)?;
        // Absolute, so the dynamicConfigFile line a reconfiguration writes names the file
        // whatever the working directory of the next start.
        config.static_file =
            Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        config.read_peer_secret()?;
        config.read_dynamic_file()?;
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
            config.check_peer_type()?;
            config.client_address_from_server_line()?;
        }
        Ok(config)
    }

    /// `peerType` must say what this server's `server.N` line says: a server that thought
    /// itself an observer while the others counted its vote (or the reverse) would break the
    /// quorum arithmetic they share.
    fn check_peer_type(&self) -> Result<(), ConfigError> {
        match self.peer_type_observer {
            Some(observer) if observer != self.is_observer() => Err(ConfigError::Invalid(format!(
                "peerType={} but server.{} is listed as {}",
                role_name(observer),
                self.my_id,
                role_name(self.is_observer())
            ))),
            _ => Ok(()),
        }
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
        config.admin = AdminConfig::zookeeper_default();
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
                    .map_err(|_| format!("clientPort out of range: {value}"))?;
                later.client_port_set = true;
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
            "readonlymode.enabled" | "zookeeper.readonlymode.enabled" => {
                self.read_only_enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "localSessionsEnabled" => {
                self.local_sessions_enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "reconfigEnabled" => {
                self.reconfig_enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "standaloneEnabled" => {
                self.standalone_enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: {value:?}"))?
            }
            "localSessionsUpgradingEnabled" => {
                self.local_sessions_upgrading_enabled =
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
            "fsync.warningthresholdms" => self.fsync_warning_ms = number(value)?,
            "peerType" => {
                self.peer_type_observer = Some(match value {
                    "observer" => true,
                    "participant" => false,
                    _ => {
                        return Err(format!(
                            "peerType: {value:?} is neither participant nor observer"
                        ))
                    }
                })
            }
            "quorum.peerSecretFile" => self.peer_secret_file = Some(PathBuf::from(value)),
            "quorum.maxPeerSendQueueBytes" => {
                let bytes = self.at_least(key, number(value)?, MIN_PEER_SEND_QUEUE_BYTES as u64);
                self.max_peer_send_queue_bytes = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            "quorum.ioThreads" => {
                self.io_threads_set =
                    Some(self.at_most(key, number(value)?, MAX_IO_THREADS) as usize)
            }
            _ if key.starts_with("admin.") => self.apply_admin(key, value)?,
            _ if is_quorum_tls_key(key) => self.quorum_tls.apply(key, value, &mut self.warnings)?,
            _ if is_tls_key(key) => self.tls.apply(key, value, &mut self.warnings)?,
            "dynamicConfigFile" => self.dynamic_config_file = Some(PathBuf::from(value)),
            _ if key.starts_with("server.") => {
                let id = key["server.".len()..]
                    .parse::<u64>()
                    .map_err(|_| format!("{key}: not a server id"))?;
                let spec = dynamic::parse_server(id, value)?;
                if let Some(client) = spec.client {
                    self.client_addresses.insert(id, client);
                }
                self.members.push(spec.member);
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

    fn at_most(&mut self, key: &str, value: u64, max: u64) -> u64 {
        if value > max {
            self.warnings.push(format!(
                "{key}={value} is above the most allowed; using {max}"
            ));
        }
        value.min(max)
    }

    /// A key Quorum does not use: silently accepted if ZooKeeper knows it, kept and warned
    /// about otherwise.
    fn unknown(&mut self, key: &str, value: &str) {
        if let Some(why) = java_only_reason(key) {
            self.java_only(key, value, why);
            return;
        }
        if is_zookeeper_key(key) {
            tracing::debug!(key, "a ZooKeeper setting Quorum does not use");
            return;
        }
        let hint = KNOWN_KEYS
            .iter()
            .chain(LIMIT_KEYS)
            .map(|k| k.to_string())
            .chain(tls_keys())
            .chain(quorum_tls_keys())
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
        self.check_members()?;
        self.limits = Limits::defaults(self.max_packet_bytes);
        for (key, value) in later.limits {
            self.apply_limit(&key, value);
        }
        self.tls.finish().map_err(ConfigError::Invalid)?;
        let replicated = !self.is_standalone();
        self.quorum_tls
            .finish(replicated, &mut self.warnings)
            .map_err(ConfigError::Invalid)?;
        self.client_port_key_set = later.client_port_set;
        self.plain_client_port_listens =
            later.client_port_set || self.tls.secure_client_port.is_none();
        Ok(())
    }

    /// Sorts the members and refuses a repeated id or an ensemble without a voter.
    fn check_members(&mut self) -> Result<(), ConfigError> {
        self.members.sort_by_key(|m| m.id);
        if self.members.windows(2).any(|w| w[0].id == w[1].id) {
            return Err(ConfigError::Invalid("a server id is listed twice".into()));
        }
        if !self.members.is_empty() && self.members.iter().all(|m| m.observer) {
            return Err(ConfigError::Invalid(
                "every server.N is an observer: at least one must vote".into(),
            ));
        }
        Ok(())
    }

    /// The address clients connect to.
    pub fn client_address(&self) -> SocketAddr {
        SocketAddr::new(self.client_port_address, self.client_port)
    }

    /// The plain client port, if it listens.
    pub fn plain_client_port(&self) -> Option<u16> {
        self.plain_client_port_listens.then_some(self.client_port)
    }

    /// The address TLS clients connect to, if the secure port listens.
    pub fn secure_client_address(&self) -> Option<SocketAddr> {
        let port = self.tls.secure_client_port?;
        let ip = self
            .tls
            .secure_client_port_address
            .unwrap_or(self.client_port_address);
        Some(SocketAddr::new(ip, port))
    }

    /// Whether the four-letter word `word` may be answered.
    pub fn allows_four_letter_word(&self, word: &str) -> bool {
        self.four_letter_words.iter().any(|w| w == "*" || w == word)
    }

    /// Threads that serve client and peer connections (`quorum.ioThreads`). 0: the thread
    /// that runs the core serves them too, so a request reaches the core and its answer the
    /// socket without waking another thread (the 1 × 1 latency floor on small machines); N:
    /// N threads serve the sockets while the core has a thread of its own. Unset, it is 0,
    /// or [`TLS_IO_THREADS`] with TLS on the client or the peer port: handshakes and
    /// encryption, which any client can ask for, then do not take the core's thread.
    pub fn io_threads(&self) -> usize {
        let tls = self.tls.secure_client_port.is_some() || self.quorum_tls.enabled;
        self.io_threads_set
            .unwrap_or(if tls { TLS_IO_THREADS } else { 0 })
    }

    pub fn is_standalone(&self) -> bool {
        self.members.len() <= 1
    }

    /// The Zab core's configuration: who votes and who observes (a standalone server is a
    /// one-voter ensemble) and the timeouts in ticks. The server and the simulator's server
    /// world both take it from here.
    pub fn zab_config(&self) -> zab::Config {
        let voters = if self.is_standalone() {
            vec![zab::ServerId(self.my_id)]
        } else {
            self.voter_ids().map(zab::ServerId).collect()
        };
        let mut zab = zab::Config::new(zab::ServerId(self.my_id), voters);
        zab.observers = self.observer_ids().map(zab::ServerId).collect();
        zab.decoder = crate::reconfig::decode_membership;
        zab.init_limit = self.init_limit;
        zab.sync_limit = self.sync_limit;
        #[cfg(feature = "bugs")]
        {
            zab.bug = self.unsafe_bug;
        }
        zab
    }

    /// Whether this server observes (its `server.N` line says `:observer`).
    pub fn is_observer(&self) -> bool {
        self.members
            .iter()
            .any(|m| m.id == self.my_id && m.observer)
    }

    /// The ids of the voting members.
    pub fn voter_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.members.iter().filter(|m| !m.observer).map(|m| m.id)
    }

    /// The ids of the observers.
    pub fn observer_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.members.iter().filter(|m| m.observer).map(|m| m.id)
    }
}

fn role_name(observer: bool) -> &'static str {
    if observer {
        "observer"
    } else {
        "participant"
    }
}

/// Values that depend on other keys, applied once every line is read.
#[derive(Default)]
struct Deferred {
    data_log_dir: Option<PathBuf>,
    min_timeout: Option<Duration>,
    max_timeout: Option<Duration>,
    limits: Vec<(String, u64)>,
    client_port_set: bool,
}
