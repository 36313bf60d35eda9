//! An ensemble whose ports and folder are chosen but not yet written: the moment a caller that
//! proxies peer links (chaos, the Python tests) learns the real peer ports and routes each link
//! through its own proxy port.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::ports::free_ports;
use crate::spec::{EnsembleSpec, Ports};
use crate::Ensemble;

/// Where the ensemble's files live.
#[derive(Debug)]
pub(crate) enum Folder {
    /// Removed when the ensemble is dropped.
    Temp(tempfile::TempDir),
    /// The caller's: kept.
    Given(PathBuf),
}

impl Folder {
    pub(crate) fn path(&self) -> &Path {
        match self {
            Folder::Temp(t) => t.path(),
            Folder::Given(p) => p,
        }
    }
}

/// The ports of every server, and the port each server dials to reach each other one.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub(crate) client: Vec<u16>,
    pub(crate) peer: Vec<u16>,
    pub(crate) election: Vec<u16>,
    /// (i, j) -> the port server i dials for server j's peer port, when not `peer[j - 1]`.
    pub(crate) routes: BTreeMap<(usize, usize), u16>,
}

impl Layout {
    /// The port server `i` writes in its `server.j` line.
    pub(crate) fn dialled(&self, i: usize, j: usize) -> u16 {
        self.routes
            .get(&(i, j))
            .copied()
            .unwrap_or(self.peer[j - 1])
    }
}

/// Ports chosen, folder chosen, nothing written: see [`Plan::route`].
#[derive(Debug)]
pub struct Plan {
    pub(crate) spec: EnsembleSpec,
    pub(crate) folder: Folder,
    pub(crate) layout: Layout,
    taken: HashSet<u16>,
}

impl Plan {
    pub(crate) fn new(spec: EnsembleSpec) -> Result<Plan, String> {
        let n = spec.servers;
        if !(1..=9).contains(&n) {
            return Err(format!("{n} servers: expected 1 to 9"));
        }
        if spec.observers > 0 && spec.observers >= n {
            return Err(format!(
                "{} observers of {n} servers: at least one must vote",
                spec.observers
            ));
        }
        let mut taken = HashSet::new();
        let layout = match spec.ports {
            Ports::Fixed { client, peer } => {
                let at = |base: u16, k: usize| {
                    base.checked_add(k as u16)
                        .ok_or_else(|| format!("port {base} + {k} is past 65535"))
                };
                let mut l = Layout {
                    client: Vec::new(),
                    peer: Vec::new(),
                    election: Vec::new(),
                    routes: BTreeMap::new(),
                };
                for i in 0..n {
                    l.client.push(at(client, i)?);
                    l.peer.push(at(peer, 2 * i)?);
                    l.election.push(at(peer, 2 * i + 1)?);
                }
                taken.extend(l.client.iter().chain(&l.peer).chain(&l.election));
                l
            }
            Ports::Free => {
                let ports = free_ports(3 * n, &mut taken)?;
                Layout {
                    client: ports[..n].to_vec(),
                    peer: ports[n..2 * n].to_vec(),
                    election: ports[2 * n..].to_vec(),
                    routes: BTreeMap::new(),
                }
            }
        };
        let folder = match &spec.dir {
            Some(dir) => Folder::Given(dir.clone()),
            None => Folder::Temp(
                tempfile::Builder::new()
                    .prefix(&spec.temp_prefix)
                    .tempdir()
                    .map_err(|e| format!("temporary folder: {e}"))?,
            ),
        };
        Ok(Plan {
            spec,
            folder,
            layout,
            taken,
        })
    }

    /// Number of servers.
    pub fn servers(&self) -> usize {
        self.spec.servers
    }

    /// The peer port server `j` listens on (what a proxy for links to `j` forwards to).
    pub fn peer_port(&self, j: usize) -> u16 {
        self.layout.peer[j - 1]
    }

    /// Server `i` reaches server `j`'s peer port through `port` (a proxy the caller runs) instead
    /// of directly. Each server's own entry stays its real port: that is where it listens.
    pub fn route(&mut self, i: usize, j: usize, port: u16) {
        assert!(i != j, "a server does not dial itself");
        self.layout.routes.insert((i, j), port);
    }

    /// Routes every link (i, j), i != j, through a free port of its own, for a caller that will
    /// run the proxies later (in another process); returns the ports chosen.
    pub fn route_through_free_ports(&mut self) -> Result<BTreeMap<(usize, usize), u16>, String> {
        let n = self.servers();
        let ports = free_ports(n * n.saturating_sub(1), &mut self.taken)?;
        let mut chosen = BTreeMap::new();
        let pairs = (1..=n).flat_map(|i| (1..=n).filter(move |&j| j != i).map(move |j| (i, j)));
        for ((i, j), port) in pairs.zip(ports) {
            self.route(i, j, port);
            chosen.insert((i, j), port);
        }
        Ok(chosen)
    }

    /// Writes the folder (peer secret, configs, myid files): an ensemble ready to start.
    pub fn write(self) -> Result<Ensemble, String> {
        let dir = self.folder.path().to_path_buf();
        crate::config::write_folder(&dir, &self.spec, &self.layout)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Ensemble::new(self.spec, self.folder, self.layout))
    }
}
