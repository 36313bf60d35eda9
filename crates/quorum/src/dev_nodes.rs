//! The bookies and brokers of `quorum dev --bookies N --brokers M`: child processes of
//! `quorum bookie` or `quorum broker`, each with its own data and log under the dev folder,
//! registered with the ensemble, killed when dropped. Benchmarks kill and restart them too.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One node: its id, address, log, and process while it runs.
struct Node {
    id: u32,
    /// Arguments after the common ones (`--id`, `--listen`, `--quorum`, `--data`).
    extra: Vec<String>,
    address: String,
    log: PathBuf,
    child: Option<Child>,
}

/// Running nodes of one kind (`bookie` or `broker`, the `quorum` subcommand that runs one).
pub struct Nodes {
    kind: &'static str,
    nodes: Vec<Node>,
}

impl Nodes {
    /// Starts `count` nodes of `kind` with ids 1…count listening from `first_port` on (or on
    /// free ports when `first_port` is `None`), registering with `connect`, each given `extra`
    /// arguments too.
    pub fn start(
        exe: &Path,
        dir: &Path,
        kind: &'static str,
        count: usize,
        first_port: Option<u16>,
        connect: &str,
        extra: &[String],
    ) -> Result<Nodes, String> {
        let mut nodes = Nodes {
            kind,
            nodes: Vec::new(),
        };
        for i in 0..count {
            let id = (i + 1) as u32;
            let port = match first_port {
                Some(port) => port + i as u16,
                None => launch::ports::free_port()?,
            };
            let address = format!("127.0.0.1:{port}");
            let log = dir.join(format!("{kind}{id}.log"));
            File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let child = spawn(exe, dir, kind, (id, &address), connect, extra)?;
            nodes.nodes.push(Node {
                id,
                extra: extra.to_vec(),
                address,
                log,
                child: Some(child),
            });
        }
        Ok(nodes)
    }

    /// What the nodes are (`bookie` or `broker`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// (id, address, log) of each node.
    pub fn describe(&self) -> impl Iterator<Item = (u32, &str, &Path)> {
        self.nodes
            .iter()
            .map(|n| (n.id, n.address.as_str(), n.log.as_path()))
    }

    /// Ids of nodes that have exited since the last call (reported once each).
    pub fn exited(&mut self) -> Vec<(u32, String)> {
        let mut gone = Vec::new();
        for node in &mut self.nodes {
            if let Some(child) = &mut node.child {
                if let Ok(Some(status)) = child.try_wait() {
                    gone.push((node.id, status.to_string()));
                    node.child = None;
                }
            }
        }
        gone
    }

    /// Kills node `id` (SIGKILL) and waits for it.
    pub fn kill(&mut self, id: u32) -> Result<(), String> {
        let node = self.nodes.iter_mut().find(|n| n.id == id);
        let child = node
            .and_then(|n| n.child.as_mut())
            .ok_or(format!("no running node {id}"))?;
        child.kill().map_err(|e| e.to_string())?;
        child.wait().map_err(|e| e.to_string())?;
        self.nodes.iter_mut().for_each(|n| {
            if n.id == id {
                n.child = None;
            }
        });
        Ok(())
    }

    /// Starts again every node that is not running, with its id, address and data.
    pub fn restart(&mut self, exe: &Path, dir: &Path, connect: &str) -> Result<(), String> {
        let kind = self.kind;
        for node in self.nodes.iter_mut().filter(|n| n.child.is_none()) {
            let at = (node.id, node.address.as_str());
            node.child = Some(spawn(exe, dir, kind, at, connect, &node.extra)?);
        }
        Ok(())
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.nodes.iter_mut().filter_map(|n| n.child.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `quorum <kind>` number `id` at `address` with its data under `dir`, appending to
/// its log.
fn spawn(
    exe: &Path,
    dir: &Path,
    kind: &str,
    (id, address): (u32, &str),
    connect: &str,
    extra: &[String],
) -> Result<Child, String> {
    let data = dir.join(format!("{kind}{id}"));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let log_path = dir.join(format!("{kind}{id}.log"));
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    Command::new(exe)
        .arg(kind)
        .args([
            "--id",
            &id.to_string(),
            "--listen",
            address,
            "--quorum",
            connect,
        ])
        .arg("--data")
        .arg(&data)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {kind} {id}: {e}"))
}
