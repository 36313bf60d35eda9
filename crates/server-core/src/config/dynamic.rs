//! The ensemble's *dynamic configuration* as ZooKeeper 3.5+ keeps it: the `server.N` lines and
//! a version, in the text clients read from `/zookeeper/config`, that `reconfig` carries and
//! that the dynamic configuration file holds.
//!
//! The text is ZooKeeper 3.8's, byte for byte (checked against the Debian package, see the
//! repository's docs/membership.md): one line per server in id order,
//! `server.N=host:peerPort:electionPort:participant|observer`, followed by
//! `;clientHost:clientPort` only when the server line gave a client address, then
//! `version=<hex>` with no trailing newline. Parsing accepts what ZooKeeper accepts in a
//! dynamic file (the role and the client address may be left out; a client address of a port
//! alone means every address) and never panics: the text may come from the network.

use std::fmt::Write as _;

use super::members::Member;

/// Most servers a configuration may list: more is surely not a real ensemble, and the text may
/// come from the network.
pub const MAX_SERVERS: usize = 1024;

/// Where a server takes client connections, as its `server.N` line gives it after `;`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientAddress {
    /// A host name or IP address as written (IPv6 without brackets).
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", bracketed(&self.host), self.port)
    }
}

/// One server of a dynamic configuration: its `server.N` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// Id, peer and election addresses and role.
    pub member: Member,
    /// The client address, when the line gave one (ZooKeeper shows none for a server whose
    /// client port is only set by `clientPort` in its own zoo.cfg).
    pub client: Option<ClientAddress>,
}

/// The members of the ensemble and the version of that membership: 0 for the configuration
/// read from zoo.cfg at first start, otherwise the zxid of the `reconfig` that made it (or the
/// version named by the dynamic file's suffix).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DynamicConfig {
    /// Sorted by id, ids distinct.
    pub servers: Vec<ServerSpec>,
    pub version: u64,
}

/// Why a configuration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynamicConfigError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl DynamicConfig {
    /// A configuration of `servers` (sorted here) at `version`.
    pub fn new(mut servers: Vec<ServerSpec>, version: u64) -> DynamicConfig {
        servers.sort_by_key(|s| s.member.id);
        DynamicConfig { servers, version }
    }

    /// The members without their client addresses, as [`super::Config::members`] holds them.
    pub fn members(&self) -> Vec<Member> {
        self.servers.iter().map(|s| s.member.clone()).collect()
    }

    /// ZooKeeper 3.8's text: the server lines, then `version=<hex>`, lines joined by `\n`
    /// without a final one (what `/zookeeper/config` holds and `conf` prints).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_servers(&mut out);
        let _ = write!(out, "version={:x}", self.version);
        out
    }

    /// Only the server lines, each ending in `\n` (the body of a dynamic file).
    pub fn render_servers(&self, out: &mut String) {
        for s in &self.servers {
            out.push_str(&server_line(s));
            out.push('\n');
        }
    }

    /// Parses the text of [`DynamicConfig::render`], a dynamic file or a reconfig's new
    /// members: `server.N=…` lines, optionally `version=<hex>` (0 when absent), blank lines and
    /// `#` comments. ZooKeeper's `group.N` and `weight.N` (hierarchical quorums) are refused:
    /// Quorum counts majorities only.
    pub fn parse(text: &str) -> Result<DynamicConfig, DynamicConfigError> {
        let mut servers = Vec::new();
        let mut version = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let at = |message: String| DynamicConfigError::Line { line, message };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (key, value) = trimmed
                .split_once('=')
                .ok_or_else(|| at(format!("expected key=value, found {trimmed:?}")))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "version" {
                if version.is_some() {
                    return Err(at("version is given twice".into()));
                }
                version = Some(parse_version(value).map_err(at)?);
            } else if let Some(id) = key.strip_prefix("server.") {
                if servers.len() == MAX_SERVERS {
                    return Err(at(format!("more than {MAX_SERVERS} servers")));
                }
                let id = id
                    .parse::<u64>()
                    .map_err(|_| at(format!("{key}: not a server id")))?;
                servers.push(parse_server(id, value).map_err(at)?);
            } else {
                return Err(at(format!(
                    "unexpected key {key:?} in a dynamic configuration"
                )));
            }
        }
        let config = DynamicConfig::new(servers, version.unwrap_or(0));
        config.check()?;
        Ok(config)
    }

    /// Ids distinct, and at least one voter when there are servers at all.
    pub fn check(&self) -> Result<(), DynamicConfigError> {
        if let Some(w) = self
            .servers
            .windows(2)
            .find(|w| w[0].member.id == w[1].member.id)
        {
            return Err(DynamicConfigError::Invalid(format!(
                "server.{} is listed twice",
                w[0].member.id
            )));
        }
        if !self.servers.is_empty() && self.servers.iter().all(|s| s.member.observer) {
            return Err(DynamicConfigError::Invalid(
                "every server is an observer: at least one must vote".into(),
            ));
        }
        Ok(())
    }
}

/// The server specs of a reconfig request's `joiningServers` or `newMembers`: `server.N=…`
/// entries separated by commas (as zkCli and kazoo join them) or newlines. The result is not
/// checked as a whole configuration: joining servers are only part of one.
pub fn parse_server_list(text: &str) -> Result<Vec<ServerSpec>, DynamicConfigError> {
    let mut servers = Vec::new();
    for (i, entry) in text.split([',', '\n']).map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let at = |message: String| DynamicConfigError::Line {
            line: i + 1,
            message,
        };
        if servers.len() == MAX_SERVERS {
            return Err(at(format!("more than {MAX_SERVERS} servers")));
        }
        let (key, value) = entry
            .split_once('=')
            .ok_or_else(|| at(format!("expected server.N=…, found {entry:?}")))?;
        let id = key
            .trim()
            .strip_prefix("server.")
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| at(format!("{key}: not server.N")))?;
        servers.push(parse_server(id, value.trim()).map_err(at)?);
    }
    Ok(servers)
}

/// `version=` takes hexadecimal without `0x`, as ZooKeeper writes and reads it.
fn parse_version(value: &str) -> Result<u64, String> {
    let digits = value.strip_prefix("0x").unwrap_or(value);
    u64::from_str_radix(digits, 16)
        .map_err(|_| format!("version: not a hexadecimal number: {value:?}"))
}

/// `server.N=…` as ZooKeeper 3.8 writes it.
pub fn server_line(s: &ServerSpec) -> String {
    let m = &s.member;
    let role = if m.observer {
        "observer"
    } else {
        "participant"
    };
    let mut line = format!(
        "server.{}={}:{}:{}:{role}",
        m.id,
        bracketed(&m.host),
        m.peer_port,
        m.election_port
    );
    if let Some(client) = &s.client {
        let _ = write!(line, ";{client}");
    }
    line
}

/// IPv6 addresses are written in brackets, as ZooKeeper does, so the `:` stay unambiguous.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// The value of `server.N=`: `host:peerPort:electionPort[:role][;[clientHost:]clientPort]`.
pub fn parse_server(id: u64, value: &str) -> Result<ServerSpec, String> {
    let (address, client) = match value.split_once(';') {
        Some((a, c)) => (a, Some(c)),
        None => (value, None),
    };
    let bad =
        || format!("server.{id}: expected host:peerPort:electionPort[:role], found {value:?}");
    let (host, rest) = split_host(address.trim()).ok_or_else(bad)?;
    let parts: Vec<&str> = rest.split(':').collect();
    if !(2..=3).contains(&parts.len()) || host.is_empty() {
        return Err(bad());
    }
    let observer = match parts.get(2).map(|r| r.to_ascii_lowercase()).as_deref() {
        None | Some("participant") => false,
        Some("observer") => true,
        Some(other) => {
            return Err(format!(
                "server.{id}: role {other:?} is neither participant nor observer"
            ))
        }
    };
    let client = client.map(|c| parse_client(id, c.trim())).transpose()?;
    let member = Member {
        id,
        host: host.to_string(),
        peer_port: port(id, parts[0])?,
        election_port: port(id, parts[1])?,
        observer,
    };
    Ok(ServerSpec { member, client })
}

/// `[clientHost:]clientPort`; a port alone listens on every address (0.0.0.0), as in ZooKeeper.
fn parse_client(id: u64, text: &str) -> Result<ClientAddress, String> {
    if let Ok(p) = text.parse::<u16>() {
        return Ok(ClientAddress {
            host: "0.0.0.0".into(),
            port: p,
        });
    }
    let bad = || format!("server.{id}: bad client address {text:?}");
    let (host, rest) = split_host(text).ok_or_else(bad)?;
    if host.is_empty() || rest.contains(':') {
        return Err(bad());
    }
    Ok(ClientAddress {
        host: host.to_string(),
        port: port(id, rest)?,
    })
}

/// Splits `host:rest` or `[v6]:rest` at the colon after the host.
fn split_host(text: &str) -> Option<(&str, &str)> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, rest) = inner.split_once(']')?;
        return Some((host, rest.strip_prefix(':')?));
    }
    text.split_once(':')
}

fn port(id: u64, s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("server.{id}: bad port {s:?}"))
}

#[cfg(test)]
#[path = "dynamic_tests.rs"]
mod tests;
