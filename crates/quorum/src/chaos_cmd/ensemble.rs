//! The ensemble under test: servers as OS processes in a temporary folder on loopback ports,
//! every peer link (server i dialling server j) through an in-process proxy that can cut it.

use super::{HOST, TICK_MS};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a peer link's proxy treats traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cut {
    /// Bytes flow.
    Open,
    /// Bytes are neither forwarded nor refused (a blackhole); on heal, the connections it held
    /// are closed, as a real network would have lost them with whoever sent them.
    Blackhole,
    /// A silent partition: connections stay open and every byte is dropped, both ways. A
    /// connection that lost bytes never carries any again (its stream is broken, as a TCP
    /// connection stuck in retransmission backoff); only its ends can give up on it, by their
    /// own timeouts. Connections opened after the heal flow normally.
    Silent,
}

/// A peer link's proxy: forwards connections to a server's peer port unless cut.
struct Link {
    cut: watch::Sender<Cut>,
    port: u16,
}

async fn cut_begins(rx: &mut watch::Receiver<Cut>) {
    let _ = rx.wait_for(|c| *c == Cut::Blackhole).await;
}

async fn healed(rx: &mut watch::Receiver<Cut>) {
    let _ = rx.wait_for(|c| *c == Cut::Open).await;
}

/// Reads and drops everything from `from` until it closes.
async fn swallow<R: tokio::io::AsyncRead + Unpin>(mut from: R) {
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(from.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Forwards `from` to `to` until `from` closes; from the first byte read while the link is
/// silent on, the connection is `lost` and its bytes are dropped (both ways) for good. Returns
/// `to` unclosed when lost: dropping it would send a FIN, news a silent partition cannot carry.
async fn pump<R, W>(mut from: R, mut to: W, rx: watch::Receiver<Cut>, lost: &AtomicBool) -> W
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if *rx.borrow() == Cut::Silent {
            lost.store(true, Ordering::Relaxed);
        }
        if !lost.load(Ordering::Relaxed) && to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    if !lost.load(Ordering::Relaxed) {
        let _ = to.shutdown().await;
    }
    to
}

impl Link {
    pub(super) async fn start(target: u16) -> std::io::Result<Link> {
        let listener = TcpListener::bind((HOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let (cut, rx) = watch::channel(Cut::Open);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(Link::carry(inbound, target, rx.clone()));
            }
        });
        Ok(Link { cut, port })
    }

    /// One proxied connection, as the link's cut mode says.
    async fn carry(inbound: TcpStream, target: u16, mut rx: watch::Receiver<Cut>) {
        let _ = inbound.set_nodelay(true);
        let mode = *rx.borrow();
        match mode {
            Cut::Blackhole => return healed(&mut rx).await,
            Cut::Silent => return swallow(inbound).await,
            Cut::Open => {}
        }
        let Ok(outbound) = TcpStream::connect((HOST, target)).await else {
            return;
        };
        let _ = outbound.set_nodelay(true);
        let lost = AtomicBool::new(false);
        let (a_read, a_write) = inbound.into_split();
        let (b_read, b_write) = outbound.into_split();
        // Both write halves live until both directions are done (see `pump`).
        let both_ways = async {
            tokio::join!(
                pump(a_read, b_write, rx.clone(), &lost),
                pump(b_read, a_write, rx.clone(), &lost)
            )
        };
        let mut cut_rx = rx.clone();
        tokio::select! {
            _ = both_ways => {}
            _ = cut_begins(&mut cut_rx) => healed(&mut rx).await,
        }
    }

    fn set(&self, cut: Cut) {
        self.cut.send_replace(cut);
    }
}

pub(super) struct Server {
    dir: PathBuf,
    client_port: u16,
    pub(super) child: Option<Child>,
    pub(super) paused: bool,
}

pub(super) struct Ensemble {
    pub(super) servers: Vec<Server>,
    /// (i, j): server i's link to server j.
    links: HashMap<(usize, usize), Link>,
    /// This binary, resolved once: if it is replaced on disk during a run (a rebuild),
    /// `current_exe` would name the deleted file.
    exe: PathBuf,
    /// A deliberately broken Zab core every server runs (`quorum server --unsafe-bug`).
    bug: Option<zab::Bug>,
    _dir: tempfile::TempDir,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((HOST, 0))?.local_addr()?.port())
}

impl Ensemble {
    pub(super) async fn create(n: usize, bug: Option<zab::Bug>) -> Result<Ensemble, String> {
        let dir = tempfile::Builder::new()
            .prefix("quorum-chaos-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let mut ports = Vec::new();
        let mut used = std::collections::HashSet::new();
        while ports.len() < 3 * n {
            let p = free_port().map_err(|e| e.to_string())?;
            if used.insert(p) {
                ports.push(p);
            }
        }
        let (client, peer, election) = (&ports[..n], &ports[n..2 * n], &ports[2 * n..]);
        let mut links = HashMap::new();
        for i in 1..=n {
            for j in 1..=n {
                if i != j {
                    let link = Link::start(peer[j - 1]).await.map_err(|e| e.to_string())?;
                    links.insert((i, j), link);
                }
            }
        }
        let secret_file = dir.path().join("peer.secret");
        crate::dev_cmd::write_peer_secret(&secret_file).map_err(|e| format!("peer secret: {e}"))?;
        let mut servers = Vec::new();
        for i in 1..=n {
            let sdir = dir.path().join(format!("s{i}"));
            let data = sdir.join("data");
            std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
            std::fs::write(data.join("myid"), format!("{i}\n")).map_err(|e| e.to_string())?;
            let mut cfg = format!(
                "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                 clientPortAddress={HOST}\nmaxClientCnxns=0\nforceSync=yes\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                 quorum.peerSecretFile={}\n",
                data.display(),
                client[i - 1],
                secret_file.display()
            );
            for j in 1..=n {
                let port = if i == j {
                    peer[j - 1]
                } else {
                    links[&(i, j)].port
                };
                cfg.push_str(&format!("server.{j}={HOST}:{port}:{}\n", election[j - 1]));
            }
            std::fs::write(sdir.join("zoo.cfg"), cfg).map_err(|e| e.to_string())?;
            servers.push(Server {
                dir: sdir,
                client_port: client[i - 1],
                child: None,
                paused: false,
            });
        }
        Ok(Ensemble {
            servers,
            links,
            exe: std::env::current_exe().map_err(|e| e.to_string())?,
            bug,
            _dir: dir,
        })
    }

    pub(super) fn connect_string(&self) -> String {
        let hosts: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{HOST}:{}", s.client_port))
            .collect();
        hosts.join(",")
    }

    pub(super) fn start(&mut self, id: usize) -> Result<(), String> {
        let exe = self.exe.clone();
        let bug = self.bug;
        let s = &mut self.servers[id - 1];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(s.dir.join("server.log"))
            .map_err(|e| e.to_string())?;
        use std::os::unix::process::CommandExt;
        let child = Command::new(exe)
            .arg("server")
            .arg("--config")
            .arg(s.dir.join("zoo.cfg"))
            .args(bug.map(|b| format!("--unsafe-bug={}", b.name())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start server {id}: {e}"))?;
        s.child = Some(child);
        s.paused = false;
        Ok(())
    }

    pub(super) fn kill(&mut self, id: usize) {
        let s = &mut self.servers[id - 1];
        if let Some(mut child) = s.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        s.paused = false;
    }

    pub(super) fn signal(&mut self, id: usize, stop: bool) {
        let s = &mut self.servers[id - 1];
        if let Some(child) = &s.child {
            let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) on a child process this harness started and has not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, sig);
            }
            s.paused = stop;
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
        for id in 1..=self.servers.len() {
            if self.servers[id - 1].paused {
                self.signal(id, false);
            }
            if self.servers[id - 1].child.is_none() {
                self.start(id)?;
            }
        }
        Ok(())
    }

    pub(super) async fn mode(&self, id: usize) -> Option<String> {
        let s = &self.servers[id - 1];
        if s.child.is_none() || s.paused {
            return None;
        }
        let port = s.client_port;
        let ask = async move {
            let mut conn = TcpStream::connect((HOST, port)).await.ok()?;
            conn.write_all(b"srvr").await.ok()?;
            let mut out = String::new();
            conn.read_to_string(&mut out).await.ok()?;
            out.lines()
                .find_map(|l| l.strip_prefix("Mode:").map(|m| m.trim().to_string()))
        };
        tokio::time::timeout(Duration::from_secs(1), ask)
            .await
            .ok()
            .flatten()
    }

    pub(super) async fn leader(&self) -> Option<usize> {
        for id in 1..=self.servers.len() {
            if self.mode(id).await.as_deref() == Some("leader") {
                return Some(id);
            }
        }
        None
    }

    /// Until one server leads and a quorum serves.
    pub(super) async fn wait_for_leader(&self, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut leaders = Vec::new();
            let mut serving = 0;
            for id in 1..=self.servers.len() {
                match self.mode(id).await.as_deref() {
                    Some("leader") => {
                        leaders.push(id);
                        serving += 1
                    }
                    Some("follower") => serving += 1,
                    _ => {}
                }
            }
            if leaders.len() == 1 && serving > self.servers.len() / 2 {
                return Ok(leaders[0]);
            }
            if Instant::now() > deadline {
                return Err(format!("no leader within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for id in 1..=self.servers.len() {
            self.kill(id);
        }
    }
}
