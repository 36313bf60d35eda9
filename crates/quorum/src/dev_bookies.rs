//! The bookies of `quorum dev --bookies N`: child processes of `quorum bookie`, each with its
//! own store and log under the dev folder, registered with the ensemble, killed when dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Running bookies.
pub struct Bookies {
    children: Vec<(u32, String, PathBuf, Child)>,
}

impl Bookies {
    /// Starts `count` bookies with ids 1…count listening from `first_port` on (or on free ports
    /// when `first_port` is `None`), registering with `connect`.
    pub fn start(
        exe: &Path,
        dir: &Path,
        count: usize,
        first_port: Option<u16>,
        connect: &str,
    ) -> Result<Bookies, String> {
        let mut bookies = Bookies {
            children: Vec::new(),
        };
        for i in 0..count {
            let id = (i + 1) as u32;
            let port = match first_port {
                Some(port) => port + i as u16,
                None => free_port()?,
            };
            let address = format!("127.0.0.1:{port}");
            let data = dir.join(format!("bookie{id}"));
            std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
            let log_path = dir.join(format!("bookie{id}.log"));
            let log =
                File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let child = Command::new(exe)
                .arg("bookie")
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
                .map_err(|e| format!("cannot start bookie {id}: {e}"))?;
            bookies.children.push((id, address, log_path, child));
        }
        Ok(bookies)
    }

    /// (id, address, log) of each bookie.
    pub fn describe(&self) -> impl Iterator<Item = (u32, &str, &Path)> {
        self.children
            .iter()
            .map(|(id, address, log, _)| (*id, address.as_str(), log.as_path()))
    }

    /// Ids of bookies that have exited since the last call (reported once each).
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

impl Drop for Bookies {
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
