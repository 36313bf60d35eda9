//! The AdminServer's keys (`admin.*`), read as ZooKeeper 3.8 reads them: monitoring tools and
//! Kubernetes probes that speak to ZooKeeper's HTTP admin endpoint find Quorum's at the same
//! address and path.

use std::net::IpAddr;
use std::time::Duration;

use super::keys::{parse_bool, parse_number};
use super::Config;

/// ZooKeeper's `admin.serverPort` default.
pub const DEFAULT_ADMIN_PORT: u16 = 8080;
/// ZooKeeper's `admin.idleTimeout` default.
pub const DEFAULT_ADMIN_IDLE_TIMEOUT_MS: u64 = 30_000;
/// Shortest `admin.idleTimeout` taken: a request must have time to arrive.
pub const MIN_ADMIN_IDLE_TIMEOUT_MS: u64 = 100;

/// Where and whether the AdminServer listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.enableServer`.
    pub enabled: bool,
    /// `admin.serverAddress`.
    pub address: IpAddr,
    /// `admin.serverPort`.
    pub port: u16,
    /// `admin.commandURL`: the path under which `/<command>` is answered.
    pub command_url: String,
    /// `admin.idleTimeout`: how long a connection may take to send its request.
    pub idle_timeout: Duration,
}

impl AdminConfig {
    /// ZooKeeper's defaults: on, on every address, port 8080. A zoo.cfg gets these, as it would
    /// with ZooKeeper.
    pub fn zookeeper_default() -> AdminConfig {
        AdminConfig {
            enabled: true,
            address: IpAddr::from([0, 0, 0, 0]),
            port: DEFAULT_ADMIN_PORT,
            command_url: "/commands".into(),
            idle_timeout: Duration::from_millis(DEFAULT_ADMIN_IDLE_TIMEOUT_MS),
        }
    }

    /// Off: a configuration built in code (tests, the simulator, embedding) opens no port that
    /// it did not ask for.
    pub fn disabled() -> AdminConfig {
        AdminConfig {
            enabled: false,
            ..AdminConfig::zookeeper_default()
        }
    }
}

/// `admin.*` keys of ZooKeeper's Jetty server that have no meaning for Quorum's plain HTTP/1.1
/// endpoint, with why they are ignored.
const JETTY_ONLY_KEYS: &[(&str, &str)] = &[
    (
        "admin.portUnification",
        "the AdminServer speaks plain HTTP only (no TLS on the admin port)",
    ),
    (
        "admin.forceHttps",
        "the AdminServer speaks plain HTTP only (no TLS on the admin port)",
    ),
    (
        "admin.needClientAuth",
        "the AdminServer speaks plain HTTP only (no TLS on the admin port)",
    ),
    (
        "admin.httpVersion",
        "the AdminServer always answers HTTP/1.1, one request per connection",
    ),
];

impl Config {
    /// One `admin.*` key; an error is the message for its line.
    pub(super) fn apply_admin(&mut self, key: &str, value: &str) -> Result<(), String> {
        let admin = &mut self.admin;
        match key {
            "admin.enableServer" => {
                admin.enabled =
                    parse_bool(value).ok_or_else(|| format!("{key}: not a boolean: {value:?}"))?
            }
            "admin.serverAddress" => {
                admin.address = value
                    .parse()
                    .map_err(|_| format!("{key}: not an IP address: {value:?}"))?
            }
            "admin.serverPort" => {
                admin.port = parse_number(value)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| format!("{key}: not a port: {value:?}"))?
            }
            "admin.commandURL" => admin.command_url = command_url(value)?,
            "admin.idleTimeout" => {
                let ms = parse_number(value).ok_or_else(|| format!("{key}: not a number"))?;
                let ms = self.at_least(key, ms, MIN_ADMIN_IDLE_TIMEOUT_MS);
                self.admin.idle_timeout = Duration::from_millis(ms);
            }
            _ => match JETTY_ONLY_KEYS.iter().find(|(k, _)| *k == key) {
                Some((_, why)) => self.java_only(key, value, why),
                None => self.unknown(key, value),
            },
        }
        Ok(())
    }
}

/// `/commands`-style path: starts with `/`, no trailing `/` (ZooKeeper's `/commands/` works
/// the same as `/commands`), no spaces.
fn command_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    if !value.starts_with('/') || value.contains(char::is_whitespace) {
        return Err(format!("admin.commandURL: not a path: {value:?}"));
    }
    Ok(trimmed.to_string())
}
