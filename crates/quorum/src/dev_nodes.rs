//! The bookies and brokers of `quorum dev --bookies N --brokers M`: child processes of
//! `quorum bookie` or `quorum broker`, each with its own data and log under the dev folder,
//! registered with the ensemble, killed when dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Running nodes of one kind (`bookie` or `broker`, the `quorum` subcommand that runs one).
pub struct Nodes {
    kind: &'static str,
    children: Vec<(u32, String, PathBuf, Child)>,
}

impl Nodes {
    /// Starts `count` nodes of `kind` with ids 1…count listening from `first_port` on (or on
    /// free ports when `first_port` is `None`), registering with `connect`.
    pub fn start(
        exe: &Path,
        dir: &Path,
        kind: &'static str,
        count: usize,
        first_port: Option<u16>,
        connect: &str,
    ) -> Result<Nodes, String> {
        let mut nodes = Nodes {
            kind,
            children: Vec::new(),
        };
        for i in 0..count {
            let id = (i + 1) as u32;
            let port = match first_port {
                Some(port) => port + i as u16,
                None => free_port()?,
            };
            let address = format!("127.0.0.1:{port}");
            let data = dir.join(format!("{kind}{id}"));
            std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
            let log_path = dir.join(format!("{kind}{id}.log"));
            let log =
                File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let child = Command::new(exe)
                .arg(kind)
                .args([
                    "--id",
                    &id.to_string(),
                    "--listen",
                    &address,
                    "--quorum",
                    connect,
                ])
                .arg("--data")
                .arg(&data)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("cannot start {kind} {id}: {e}"))?;
            nodes.children.push((id, address, log_path, child));
        }
        Ok(nodes)
    }

    /// What the nodes are (`bookie` or `broker`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// (id, address, log) of each node.
    pub fn describe(&self) -> impl Iterator<Item = (u32, &str, &Path)> {
        self.children
            .iter()
            .map(|(id, address, log, _)| (*id, address.as_str(), log.as_path()))
    }

    /// Ids of nodes that have exited since the last call (reported once each).
    pub fn exited(&mut self) -> Vec<(u32, String)> {
        let mut gone = Vec::new();
        self.children
            .retain_mut(|(id, _, _, child)| match child.try_wait() {
                Ok(Some(status)) => {
                    gone.push((*id, status.to_string()));
                    false
                }
                _ => true,
            });
        gone
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for (_, _, _, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on now (the system's choice).
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
