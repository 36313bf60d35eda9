//! Storage nodes under test (nodes of the ledger chaos, brokers of the log chaos): processes
//! of this binary (`quorum bookie`, `quorum broker`), each listening on its own loopback port
//! but *advertising* an in-process proxy ([`Link`]) in front of it, so that every client (and
//! every other node) reaches it through the proxy and the nemesis can partition it by cutting
//! the proxy. Optionally each node also reaches Quorum through proxies of its own, so that a
//! partition can cut it from Quorum too. Killed nodes restart on the same port and the same
//! data directory, as a crashed machine that comes back with its disk.

use super::links::{Cut, Link};
use super::HOST;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// What kind of node a fleet runs, and how.
pub(super) struct Spec {
    /// The subcommand of this binary (`bookie`, `broker`); also names logs and data dirs.
    pub(super) kind: &'static str,
    /// Arguments after the common ones (`--id --quorum --listen --advertise --data`).
    pub(super) args: Vec<String>,
    /// Whether each node reaches Quorum through proxies of its own (see [`Fleet::cut_quorum`]).
    pub(super) own_quorum_links: bool,
}

struct Node {
    id: u32,
    listen: u16,
    proxy: Link,
    /// The node's own proxies to each Quorum server's client port (empty unless asked for).
    quorum_links: Vec<Link>,
    /// The connect string the node is given.
    quorum: String,
    child: Option<Child>,
    paused: bool,
}

/// Running nodes 1…n, SIGKILLed when dropped.
pub(super) struct Fleet {
    exe: PathBuf,
    dir: tempfile::TempDir,
    spec: Spec,
    nodes: Vec<Node>,
}

impl Fleet {
    /// Starts `n` nodes as `spec` says, registering with `quorum` (host:port,…).
    pub(super) async fn start(n: usize, quorum: &str, spec: Spec) -> Result<Fleet, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("quorum-chaos-{}s-", spec.kind))
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut fleet = Fleet {
            exe,
            dir,
            spec,
            nodes: Vec::new(),
        };
        for id in 1..=n as u32 {
            let listen = launch::ports::free_port()?;
            // Never on a port handed out to another node that has not bound it yet.
            let proxy = Link::start(listen).await.map_err(|e| e.to_string())?;
            let (quorum_links, quorum) = if fleet.spec.own_quorum_links {
                own_links(quorum).await?
            } else {
                (Vec::new(), quorum.to_string())
            };
            fleet.nodes.push(Node {
                id,
                listen,
                proxy,
                quorum_links,
                quorum,
                child: None,
                paused: false,
            });
            fleet.restart(id)?;
        }
        Ok(fleet)
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn node(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// Node `id`'s data directory (the same across restarts).
    pub(super) fn data_dir(&self, id: u32) -> PathBuf {
        self.dir.path().join(format!("{}{id}", self.spec.kind))
    }

    /// Starts node `id` (again) on its port and its data directory.
    pub(super) fn restart(&mut self, id: u32) -> Result<(), String> {
        let (exe, dir, kind, args) = (
            self.exe.clone(),
            self.dir.path().to_owned(),
            self.spec.kind,
            self.spec.args.clone(),
        );
        let data = self.data_dir(id);
        let b = self.node(id);
        let log_path = dir.join(format!("{kind}{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .arg(kind)
            .args(["--id", &id.to_string(), "--quorum", &b.quorum])
            .args(["--listen", &format!("{HOST}:{}", b.listen)])
            .args(["--advertise", &format!("{HOST}:{}", b.proxy.port)])
            .arg("--data")
            .arg(data)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own process group: a terminal's Ctrl-C reaches only the harness.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {kind} {id}: {e}"))?;
        b.child = Some(child);
        b.paused = false;
        Ok(())
    }

    /// SIGKILL node `id`: no chance to flush anything not yet durable.
    pub(super) fn kill(&mut self, id: u32) {
        let b = self.node(id);
        if let Some(mut child) = b.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        b.paused = false;
    }

    /// SIGSTOP (`stop`) or SIGCONT node `id`.
    pub(super) fn pause(&mut self, id: u32, stop: bool) {
        let b = self.node(id);
        if let Some(child) = &b.child {
            let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) on a child this harness started and has not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, sig);
            }
            b.paused = stop;
        }
    }

    /// Cuts (or heals, with [`Cut::Open`]) every client's way to node `id`.
    pub(super) fn cut(&mut self, id: u32, mode: Cut) {
        self.node(id).proxy.set(mode);
    }

    /// Cuts (or heals) node `id`'s own links to Quorum (none unless the spec asked for them).
    pub(super) fn cut_quorum(&mut self, id: u32, mode: Cut) {
        for link in &self.node(id).quorum_links {
            link.set(mode);
        }
    }

    /// Heals every proxy, resumes paused nodes, restarts dead ones.
    pub(super) fn heal_all(&mut self) -> Result<(), String> {
        for id in 1..=self.nodes.len() as u32 {
            self.cut(id, Cut::Open);
            self.cut_quorum(id, Cut::Open);
            if self.node(id).paused {
                self.pause(id, false);
            }
            let b = self.node(id);
            let dead = match &mut b.child {
                None => true,
                Some(child) => matches!(child.try_wait(), Ok(Some(_))),
            };
            if dead {
                self.restart(id)?;
            }
        }
        Ok(())
    }

    /// Ids of nodes that exited by themselves (not killed by the nemesis).
    pub(super) fn crashed(&mut self) -> Vec<u32> {
        let mut gone = Vec::new();
        for b in &mut self.nodes {
            if let Some(child) = &mut b.child {
                if let Ok(Some(_)) = child.try_wait() {
                    gone.push(b.id);
                }
            }
        }
        gone
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for id in 1..=self.nodes.len() as u32 {
            self.kill(id);
        }
    }
}

/// A proxy of one node's own to each server of `quorum` (host:port,…), and the connect string
/// naming them.
async fn own_links(quorum: &str) -> Result<(Vec<Link>, String), String> {
    let mut links = Vec::new();
    let mut names = Vec::new();
    for server in quorum.split(',') {
        let port = server
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("no port in {server:?}"))?;
        let link = Link::start(port).await.map_err(|e| e.to_string())?;
        names.push(format!("{HOST}:{}", link.port));
        links.push(link);
    }
    Ok((links, names.join(",")))
}
