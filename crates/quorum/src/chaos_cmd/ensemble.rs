//! The ensemble under test: servers launched by the `launch` crate (OS processes in a temporary
//! folder, on free loopback ports), every peer link (server i dialling server j) routed through
//! an in-process proxy ([`Link`]) that can cut it.
//!
//! Probing asks the servers with blocking four-letter words; `block_in_place` keeps the
//! workload's tasks running on the runtime's other worker meanwhile.

use super::links::{Cut, Link};
use super::TICK_MS;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::block_in_place;

pub(super) struct Ensemble {
    servers: launch::Ensemble,
    /// (i, j): server i's link to server j.
    links: HashMap<(usize, usize), Link>,
}

impl Ensemble {
    /// `n` voters; with `reconfig`, one observer more (server n+1), reconfiguration enabled and
    /// a super user to ask for it (see `reconfig.rs`).
    pub(super) async fn create(
        n: usize,
        bug: Option<zab::Bug>,
        reconfig: bool,
    ) -> Result<Ensemble, String> {
        // This binary, resolved once: if it is replaced on disk during a run (a rebuild),
        // `current_exe` would name the deleted file.
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let n = n + usize::from(reconfig);
        let mut spec = launch::EnsembleSpec::new(n, exe)
            .temp_prefix("quorum-chaos-")
            .tick_ms(TICK_MS)
            .set("maxClientCnxns", 0)
            .set("forceSync", "yes")
            .set("admin.enableServer", "false");
        if let Some(bug) = bug {
            spec = spec.server_arg(format!("--unsafe-bug={}", bug.name()));
        }
        if reconfig {
            spec = spec.observers(1).set("reconfigEnabled", "true").set(
                "DigestAuthenticationProvider.superDigest",
                super::reconfig::super_digest(),
            );
        }
        let mut plan = spec.plan()?;
        let mut links = HashMap::new();
        for i in 1..=n {
            for j in (1..=n).filter(|&j| j != i) {
                let link = Link::start(plan.peer_port(j))
                    .await
                    .map_err(|e| e.to_string())?;
                plan.route(i, j, link.port);
                links.insert((i, j), link);
            }
        }
        Ok(Ensemble {
            servers: plan.write()?,
            links,
        })
    }

    /// Number of servers.
    pub(super) fn len(&self) -> usize {
        self.servers.len()
    }

    /// The last `lines` of every server's log.
    pub(super) fn logs_tail(&self, lines: usize) -> String {
        self.servers.logs_tail(lines)
    }

    pub(super) fn client_port(&self, id: usize) -> u16 {
        self.servers.client_port(id)
    }

    pub(super) fn connect_string(&self) -> String {
        self.servers.connect_string()
    }

    pub(super) fn start(&mut self, id: usize) -> Result<(), String> {
        self.own_line_on_own_ports(id)?;
        self.servers.start(id)
    }

    /// After a reconfiguration a server's dynamic file holds the leader's view of the
    /// addresses, where other servers' peer ports are the leader's proxies: a server restarted
    /// from it would try to listen on the proxy's port. Its own line is put back on its own
    /// ports (the others stay proxied), as an operator's file would name the host itself.
    fn own_line_on_own_ports(&self, id: usize) -> Result<(), String> {
        let cfg =
            std::fs::read_to_string(self.servers.config_path(id)).map_err(|e| e.to_string())?;
        let Some(dynamic) = cfg
            .lines()
            .find_map(|l| l.strip_prefix("dynamicConfigFile="))
        else {
            return Ok(());
        };
        let text = std::fs::read_to_string(dynamic).map_err(|e| format!("{dynamic}: {e}"))?;
        let prefix = format!("server.{id}=");
        let (peer, election) = (self.servers.peer_port(id), self.servers.election_port(id));
        let lines: Vec<String> = text
            .lines()
            .map(|line| match line.strip_prefix(&prefix) {
                Some(value) => {
                    let (address, client) = value.split_once(';').unwrap_or((value, ""));
                    let role = address.rsplit(':').next().unwrap_or("participant");
                    let client = if client.is_empty() {
                        String::new()
                    } else {
                        format!(";{client}")
                    };
                    format!("{prefix}127.0.0.1:{peer}:{election}:{role}{client}")
                }
                None => line.to_string(),
            })
            .collect();
        std::fs::write(dynamic, lines.join("\n") + "\n").map_err(|e| format!("{dynamic}: {e}"))
    }

    pub(super) fn kill(&mut self, id: usize) {
        self.servers.kill(id);
    }

    /// SIGSTOP (`stop`) or SIGCONT server `id`.
    pub(super) fn signal(&mut self, id: usize, stop: bool) {
        if stop {
            self.servers.pause(id);
        } else {
            self.servers.resume(id);
        }
    }

    pub(super) fn cut(&self, a: usize, b: usize, cut: bool) {
        let mode = if cut { Cut::Blackhole } else { Cut::Open };
        self.links[&(a, b)].set(mode);
        self.links[&(b, a)].set(mode);
    }

    /// Cuts every peer link of server `id`, both ways, in `mode`.
    pub(super) fn isolate(&self, id: usize, mode: Cut) {
        for (&(a, b), link) in &self.links {
            if a == id || b == id {
                link.set(mode);
            }
        }
    }

    pub(super) fn heal_links(&self) {
        for link in self.links.values() {
            link.set(Cut::Open);
        }
    }

    /// Resumes paused servers, restarts dead ones, heals every link.
    pub(super) fn heal_all(&mut self) -> Result<(), String> {
        self.heal_links();
        for id in self.servers.ids() {
            if self.servers.paused(id) {
                self.servers.resume(id);
            }
            if !self.servers.running(id) {
                self.servers.start(id)?;
            }
        }
        Ok(())
    }

    /// Server `id`'s `srvr` mode; `None` when it is down, paused or silent.
    pub(super) async fn mode(&mut self, id: usize) -> Option<String> {
        block_in_place(|| self.servers.mode(id))
    }

    pub(super) async fn leader(&mut self) -> Option<usize> {
        block_in_place(|| self.servers.leader())
    }

    /// Until one server leads and a quorum serves.
    pub(super) async fn wait_for_leader(&mut self, timeout: Duration) -> Result<usize, String> {
        block_in_place(|| self.servers.wait_for_leader(timeout))
    }
}
