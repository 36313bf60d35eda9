//! The machine-readable description of a launched ensemble (JSON): how scripts in other
//! languages (the Python ensemble tests) use an ensemble this crate wrote instead of writing
//! zoo.cfg files themselves.

use serde::Serialize;

use crate::Ensemble;

/// The ensemble: its folder, its connect string, its servers and its routed peer links.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    pub dir: String,
    pub connect: String,
    pub servers: Vec<ServerDescription>,
    /// Peer links routed through a port the caller proxies (empty when none).
    pub links: Vec<LinkDescription>,
}

/// One server's ports and files.
#[derive(Debug, Clone, Serialize)]
pub struct ServerDescription {
    pub id: usize,
    pub client_port: u16,
    pub peer_port: u16,
    pub election_port: u16,
    pub dir: String,
    pub config: String,
    pub data_dir: String,
    pub log: String,
    /// The process id, when this launcher started it and it runs.
    pub pid: Option<u32>,
}

/// Server `from` dials server `to` at `port`, which should forward to `target` (`to`'s peer port).
#[derive(Debug, Clone, Serialize)]
pub struct LinkDescription {
    pub from: usize,
    pub to: usize,
    pub port: u16,
    pub target: u16,
}

impl Description {
    /// Pretty JSON, one object.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a description serialises")
    }
}

pub(crate) fn describe(ens: &Ensemble) -> Description {
    let text = |p: std::path::PathBuf| p.display().to_string();
    let servers = ens
        .ids()
        .map(|id| ServerDescription {
            id,
            client_port: ens.client_port(id),
            peer_port: ens.peer_port(id),
            election_port: ens.election_port(id),
            dir: text(ens.server_dir(id)),
            config: text(ens.config_path(id)),
            data_dir: text(ens.server_dir(id).join("data")),
            log: text(ens.log_path(id)),
            pid: ens.pid(id),
        })
        .collect();
    let links = ens
        .layout()
        .routes
        .iter()
        .map(|(&(from, to), &port)| LinkDescription {
            from,
            to,
            port,
            target: ens.peer_port(to),
        })
        .collect();
    Description {
        dir: ens.dir().display().to_string(),
        connect: ens.connect_string(),
        servers,
        links,
    }
}
