//! The bookies under test: `quorum bookie` processes of this binary, each listening on its own
//! loopback port but *advertising* an in-process proxy ([`Link`]) in front of it, so that every
//! client reaches it through the proxy and the nemesis can partition it from the clients by
//! cutting the proxy. Killed bookies restart on the same port and the same data directory, as a
//! crashed machine that comes back with its disk.

use super::super::links::{Cut, Link};
use super::super::HOST;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Bookie {
    id: u32,
    listen: u16,
    proxy: Link,
    child: Option<Child>,
    paused: bool,
}

/// Running bookies 1…n, SIGKILLed when dropped.
pub(super) struct Fleet {
    exe: PathBuf,
    dir: tempfile::TempDir,
    quorum: String,
    bookies: Vec<Bookie>,
}

impl Fleet {
    /// Starts `n` bookies registering with `quorum`.
    pub(super) async fn start(n: usize, quorum: &str) -> Result<Fleet, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = tempfile::Builder::new()
            .prefix("quorum-chaos-bookies-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut fleet = Fleet {
            exe,
            dir,
            quorum: quorum.to_string(),
            bookies: Vec::new(),
        };
        for id in 1..=n as u32 {
            let listen = free_port()?;
            let proxy = Link::start(listen).await.map_err(|e| e.to_string())?;
            fleet.bookies.push(Bookie {
                id,
                listen,
                proxy,
                child: None,
                paused: false,
            });
            fleet.restart(id)?;
        }
        Ok(fleet)
    }

    pub(super) fn len(&self) -> usize {
        self.bookies.len()
    }

    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn bookie(&mut self, id: u32) -> &mut Bookie {
        &mut self.bookies[id as usize - 1]
    }

    /// Starts bookie `id` (again) on its port and its data directory.
    pub(super) fn restart(&mut self, id: u32) -> Result<(), String> {
        let (exe, dir, quorum) = (
            self.exe.clone(),
            self.dir.path().to_owned(),
            self.quorum.clone(),
        );
        let b = self.bookie(id);
        let log_path = dir.join(format!("bookie{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(exe)
            .arg("bookie")
            .args(["--id", &id.to_string(), "--quorum", &quorum])
            .args(["--listen", &format!("{HOST}:{}", b.listen)])
            .args(["--advertise", &format!("{HOST}:{}", b.proxy.port)])
            .arg("--data")
            .arg(dir.join(format!("bookie{id}")))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            // Its own process group: a terminal's Ctrl-C reaches only the harness.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start bookie {id}: {e}"))?;
        b.child = Some(child);
        b.paused = false;
        Ok(())
    }

    /// SIGKILL bookie `id`: no chance to flush anything not yet durable.
    pub(super) fn kill(&mut self, id: u32) {
        let b = self.bookie(id);
        if let Some(mut child) = b.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        b.paused = false;
    }

    /// SIGSTOP (`stop`) or SIGCONT bookie `id`.
    pub(super) fn pause(&mut self, id: u32, stop: bool) {
        let b = self.bookie(id);
        if let Some(child) = &b.child {
            let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) on a child this harness started and has not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, sig);
            }
            b.paused = stop;
        }
    }

    /// Cuts (or heals, with [`Cut::Open`]) every client's way to bookie `id`.
    pub(super) fn cut(&mut self, id: u32, mode: Cut) {
        self.bookie(id).proxy.set(mode);
    }

    /// Heals every proxy, resumes paused bookies, restarts dead ones.
    pub(super) fn heal_all(&mut self) -> Result<(), String> {
        for id in 1..=self.bookies.len() as u32 {
            self.cut(id, Cut::Open);
            if self.bookie(id).paused {
                self.pause(id, false);
            }
            let b = self.bookie(id);
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

    /// Ids of bookies that exited by themselves (not killed by the nemesis).
    pub(super) fn crashed(&mut self) -> Vec<u32> {
        let mut gone = Vec::new();
        for b in &mut self.bookies {
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
        for id in 1..=self.bookies.len() as u32 {
            self.kill(id);
        }
    }
}

/// A port nobody listens on now (the system's choice).
fn free_port() -> Result<u16, String> {
    let listener =
        std::net::TcpListener::bind((HOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
