//! The membership side of [`Config`]: the `server.N` lines from zoo.cfg or from the
//! `dynamicConfigFile`, the client address a server line may give, and the membership as a
//! [`DynamicConfig`] value (what `/zookeeper/config` shows).

use std::net::{IpAddr, SocketAddr};

use super::{dynamic_file, ClientAddress, Config, ConfigError, DynamicConfig, ServerSpec};

impl Config {
    /// With `dynamicConfigFile`, takes the members and their version from that file, as
    /// ZooKeeper does; zoo.cfg must then list no `server.N` line itself.
    pub fn read_dynamic_file(&mut self) -> Result<(), ConfigError> {
        let Some(path) = &self.dynamic_config_file else {
            return Ok(());
        };
        if !self.members.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "server.N lines are both in zoo.cfg and in dynamicConfigFile {}: keep them in one",
                path.display()
            )));
        }
        let dynamic = dynamic_file::read(path).map_err(ConfigError::Invalid)?;
        self.set_dynamic_config(&dynamic);
        self.check_members()
    }

    /// Takes the members, client addresses and version of `dynamic`.
    pub fn set_dynamic_config(&mut self, dynamic: &DynamicConfig) {
        self.members = dynamic.members();
        self.client_addresses = dynamic
            .servers
            .iter()
            .filter_map(|s| Some((s.member.id, s.client.clone()?)))
            .collect();
        self.config_version = dynamic.version;
    }

    /// The membership as a value: what `/zookeeper/config` and `conf` show, or `None` for a
    /// standalone server, whose `/zookeeper/config` ZooKeeper 3.8 leaves empty.
    pub fn dynamic_config(&self) -> Option<DynamicConfig> {
        if self.is_standalone() {
            return None;
        }
        let servers = self
            .members
            .iter()
            .map(|m| ServerSpec {
                member: m.clone(),
                client: self.client_addresses.get(&m.id).cloned(),
            })
            .collect();
        Some(DynamicConfig::new(servers, self.config_version))
    }

    /// Without `clientPort`, this server listens where its `server.N` line says (`;host:port`);
    /// with both, they must agree, as ZooKeeper requires.
    pub(super) fn client_address_from_server_line(&mut self) -> Result<(), ConfigError> {
        let Some(client) = self.client_addresses.get(&self.my_id) else {
            return Ok(());
        };
        if !self.client_port_key_set {
            let address = resolve_client_address(client).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "server.{}: client address {client} does not resolve",
                    self.my_id
                ))
            })?;
            self.client_port = client.port;
            self.client_port_address = address.ip();
            self.plain_client_port_listens = true;
        } else if client.port != self.client_port {
            return Err(ConfigError::Invalid(format!(
                "clientPort={} but server.{} gives client address {client}",
                self.client_port, self.my_id
            )));
        }
        Ok(())
    }
}

/// A server line's client address as a socket address: an IP as written, or the host name's
/// first address (ZooKeeper resolves it too).
fn resolve_client_address(client: &ClientAddress) -> Option<SocketAddr> {
    if let Ok(ip) = client.host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, client.port));
    }
    use std::net::ToSocketAddrs;
    (client.host.as_str(), client.port)
        .to_socket_addrs()
        .ok()?
        .next()
}
