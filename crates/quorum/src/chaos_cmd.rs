//! `quorum chaos`: a real ensemble of this binary's servers under faults, a concurrent
//! workload recording a history, and the checkers of `crates/chaos` (issue 6, docs/chaos.md).
//!
//! The servers are OS processes in a temporary directory, on loopback ports. Every peer link
//! (server i dialling server j) goes through an in-process TCP proxy that can blackhole it, so the
//! nemesis can partition the ensemble; it can also SIGKILL (and restart) a server or the leader,
//! and SIGSTOP/SIGCONT one for shorter or longer than the session timeout. Faults are healed
//! between each other, and everything is healed before the final reads and the check.

use chaos::history::{write_jsonl, Event, Kind, OpKind};
use clap::builder::TypedValueParser;
use client::zk;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Arguments of `quorum chaos`.
#[derive(clap::Args)]
pub struct Args {
    /// How long to run the workload under faults, in seconds.
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Ensemble size.
    #[arg(long, default_value_t = 3, value_parser = clap::builder::PossibleValuesParser::new(["3", "5"]).map(|s| s.parse::<usize>().unwrap()))]
    servers: usize,
    /// Faults to inject: kill, kill-leader, pause, partition, all, or none.
    #[arg(long, default_value = "all")]
    nemesis: Nemesis,
    /// Concurrent client sessions.
    #[arg(long, default_value_t = 12)]
    sessions: usize,
    /// Register znodes the workload reads and writes.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Keep the history (JSON lines) in this file.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Random seed (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Nemesis {
    Kill,
    KillLeader,
    Pause,
    Partition,
    All,
    None,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Kill,
    KillLeader,
    PauseShort,
    PauseLong,
    PartitionHalves,
    LeaderIsolated,
    Bridge,
}

const TICK_MS: u64 = 200;
/// What the clients ask for; the server's maximum (20 ticks) is the same.
const SESSION_TIMEOUT: Duration = Duration::from_secs(4);
const OP_TIMEOUT: Duration = Duration::from_secs(5);
const HOST: &str = "127.0.0.1";

/// A small xorshift generator: the workload needs no more.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------- history recording

struct Recorder {
    start: Instant,
    next_id: AtomicU64,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn invoke(&self, session: u32, op: OpKind, path: &str, f: impl FnOnce(&mut Event)) -> Event {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut e = Event::invoke(id, session, op, path, self.now());
        f(&mut e);
        self.events.lock().unwrap().push(e.clone());
        e
    }

    fn complete(&self, inv: &Event, kind: Kind, f: impl FnOnce(&mut Event)) {
        let mut e = Event::complete(inv, kind, self.now());
        f(&mut e);
        self.events.lock().unwrap().push(e);
    }

    /// Completes `inv` with the outcome of `result` (`ok` filled by `f`), returning whether the
    /// session is known to have ended.
    fn finish<T>(
        &self,
        inv: &Event,
        result: Result<Result<T, zk::Error>, tokio::time::error::Elapsed>,
        f: impl FnOnce(&mut Event, T),
    ) -> bool {
        match result {
            Ok(Ok(v)) => {
                self.complete(inv, Kind::Ok, |e| f(e, v));
                false
            }
            Ok(Err(err)) => {
                let (kind, name) = classify(&err);
                self.complete(inv, kind, |e| e.error = Some(name));
                matches!(err, zk::Error::SessionExpired | zk::Error::ClientClosed)
            }
            Err(_) => {
                self.complete(inv, Kind::Info, |e| e.error = Some("timeout".into()));
                false
            }
        }
    }
}

/// `fail` when the server answered with an error (the operation had no effect), `info` otherwise.
fn classify(err: &zk::Error) -> (Kind, String) {
    use zk::Error as E;
    let definite = matches!(
        err,
        E::NoNode
            | E::NodeExists
            | E::BadVersion
            | E::NotEmpty
            | E::NoAuth
            | E::BadArguments(_)
            | E::InvalidAcl
            | E::NoChildrenForEphemerals
    );
    let name = match err {
        E::BadVersion => "bad-version".to_string(),
        E::NoNode => "no-node".to_string(),
        E::NodeExists => "node-exists".to_string(),
        E::ConnectionLoss => "connection-loss".to_string(),
        E::SessionExpired => "session-expired".to_string(),
        other => format!("{other:?}").to_lowercase(),
    };
    (if definite { Kind::Fail } else { Kind::Info }, name)
}

// ---------------------------------------------------------------------------- the ensemble

/// A peer link's proxy: forwards connections to a server's peer port unless cut. While cut,
/// bytes are neither forwarded nor refused (a blackhole); on heal, the connections it held are
/// closed, as a real network would have lost them with whoever sent them.
struct Link {
    cut: watch::Sender<bool>,
    port: u16,
}

async fn cut_begins(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

async fn healed(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| !*c).await;
}

/// An operation bounded by [`OP_TIMEOUT`]; running out makes it indeterminate.
fn t<F: std::future::Future>(f: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(OP_TIMEOUT, f)
}

impl Link {
    async fn start(target: u16) -> std::io::Result<Link> {
        let listener = TcpListener::bind((HOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let (cut, rx) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    let cut_now = *rx.borrow();
                    if cut_now {
                        healed(&mut rx).await;
                        return;
                    }
                    let Ok(outbound) = TcpStream::connect((HOST, target)).await else {
                        return;
                    };
                    let _ = outbound.set_nodelay(true);
                    let (mut a, mut b) = (inbound, outbound);
                    let mut cut_rx = rx.clone();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        _ = cut_begins(&mut cut_rx) => healed(&mut rx).await,
                    }
                });
            }
        });
        Ok(Link { cut, port })
    }

    fn set(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

struct Server {
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
    paused: bool,
}

struct Ensemble {
    servers: Vec<Server>,
    /// (i, j): server i's link to server j.
    links: HashMap<(usize, usize), Link>,
    /// This binary, resolved once: if it is replaced on disk during a run (a rebuild),
    /// `current_exe` would name the deleted file.
    exe: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((HOST, 0))?.local_addr()?.port())
}

impl Ensemble {
    async fn create(n: usize) -> Result<Ensemble, String> {
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
        let mut servers = Vec::new();
        for i in 1..=n {
            let sdir = dir.path().join(format!("s{i}"));
            let data = sdir.join("data");
            std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
            std::fs::write(data.join("myid"), format!("{i}\n")).map_err(|e| e.to_string())?;
            let mut cfg = format!(
                "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                 clientPortAddress={HOST}\nmaxClientCnxns=0\nforceSync=yes\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\n",
                data.display(),
                client[i - 1]
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
            _dir: dir,
        })
    }

    fn connect_string(&self) -> String {
        let hosts: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{HOST}:{}", s.client_port))
            .collect();
        hosts.join(",")
    }

    fn start(&mut self, id: usize) -> Result<(), String> {
        let exe = self.exe.clone();
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

    fn kill(&mut self, id: usize) {
        let s = &mut self.servers[id - 1];
        if let Some(mut child) = s.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        s.paused = false;
    }

    fn signal(&mut self, id: usize, stop: bool) {
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

    fn cut(&self, a: usize, b: usize, cut: bool) {
        self.links[&(a, b)].set(cut);
        self.links[&(b, a)].set(cut);
    }

    fn heal_links(&self) {
        for link in self.links.values() {
            link.set(false);
        }
    }

    /// Resumes paused servers, restarts dead ones, heals every link.
    fn heal_all(&mut self) -> Result<(), String> {
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

    async fn mode(&self, id: usize) -> Option<String> {
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

    async fn leader(&self) -> Option<usize> {
        for id in 1..=self.servers.len() {
            if self.mode(id).await.as_deref() == Some("leader") {
                return Some(id);
            }
        }
        None
    }

    /// Until one server leads and a quorum serves.
    async fn wait_for_leader(&self, timeout: Duration) -> Result<usize, String> {
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

// ---------------------------------------------------------------------------- the workload

struct Shared {
    rec: Recorder,
    stop: AtomicBool,
    next_session: AtomicU32,
    connect: String,
    keys: Vec<String>,
}

async fn connect(servers: &str) -> Option<zk::Client> {
    let connecting = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(servers);
    tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .ok()?
        .ok()
}

/// One worker: a session doing random operations until told to stop; a new session when its
/// session ends. Returns its last session (still open) and its number.
async fn worker(shared: Arc<Shared>, mut rng: Rng) -> Option<(u32, zk::Client)> {
    let rec = &shared.rec;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return None;
        }
        let Some(client) = connect(&shared.connect).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let s = shared.next_session.fetch_add(1, Ordering::Relaxed);
        let mut n = 0u64;
        let mut versions: HashMap<usize, i32> = HashMap::new();
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                return Some((s, client));
            }
            n += 1;
            let k = rng.below(shared.keys.len());
            let key = shared.keys[k].as_str();
            let ended = match rng.below(100) {
                0..=29 => {
                    let inv = rec.invoke(s, OpKind::Read, key, |_| {});
                    let r = t(client.get_data(key)).await;
                    if let Ok(Ok((_, stat))) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, read_result)
                }
                30..=49 => {
                    let value = format!("{s}-{n}");
                    let inv = rec.invoke(s, OpKind::Write, key, |e| e.value = Some(value.clone()));
                    let r = t(client.set_data(key, value.as_bytes(), None)).await;
                    if let Ok(Ok(stat)) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, |e, stat| {
                        e.version = Some(stat.version);
                        e.zxid = Some(stat.mzxid);
                    })
                }
                50..=69 => {
                    let value = format!("{s}-{n}");
                    let expect = versions.get(&k).copied().unwrap_or(0);
                    let inv = rec.invoke(s, OpKind::Cas, key, |e| {
                        e.value = Some(value.clone());
                        e.version = Some(expect);
                    });
                    let r = t(client.set_data(key, value.as_bytes(), Some(expect))).await;
                    if let Ok(Ok(stat)) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, |e, stat| {
                        e.version = Some(stat.version);
                        e.zxid = Some(stat.mzxid);
                    })
                }
                70..=84 => {
                    let inv = rec.invoke(s, OpKind::SyncRead, key, |_| {});
                    let r = t(async {
                        client.sync(key).await?;
                        client.get_data(key).await
                    })
                    .await;
                    if let Ok(Ok((_, stat))) = &r {
                        versions.insert(k, stat.version);
                    }
                    rec.finish(&inv, r, read_result)
                }
                85..=92 => {
                    let prefix = "/chaos/seq/n-";
                    let inv = rec.invoke(s, OpKind::CreateSeq, prefix, |e| {
                        e.value = Some(format!("{s}-{n}"))
                    });
                    let opts =
                        zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
                    let data = format!("{s}-{n}");
                    let r = t(client.create(prefix, data.as_bytes(), &opts)).await;
                    rec.finish(&inv, r, |e, (stat, seq)| {
                        e.name = Some(format!("{prefix}{seq}"));
                        e.zxid = Some(stat.czxid);
                    })
                }
                _ => {
                    let path = format!("/chaos/eph/s{s}-{n}");
                    let inv = rec.invoke(s, OpKind::CreateEphemeral, &path, |_| {});
                    let opts = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
                    let r = t(client.create(&path, b"", &opts)).await;
                    rec.finish(&inv, r, |e, (stat, _)| e.zxid = Some(stat.czxid))
                }
            };
            if ended || client.state() == zk::SessionState::Expired {
                let inv = rec.invoke(s, OpKind::SessionEnd, "/", |_| {});
                rec.complete(&inv, Kind::Ok, |e| e.error = Some("expired".into()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(5 + rng.below(15) as u64)).await;
        }
    }
}

fn read_result(e: &mut Event, (data, stat): (Vec<u8>, zk::Stat)) {
    e.value = Some(String::from_utf8_lossy(&data).into_owned());
    e.version = Some(stat.version);
    e.zxid = Some(stat.mzxid);
}

// ---------------------------------------------------------------------------- the nemesis

struct Window {
    fault: Fault,
    what: String,
    start: Duration,
    end: Duration,
}

async fn inject(
    ens: &mut Ensemble,
    fault: Fault,
    rng: &mut Rng,
    start: Instant,
) -> Result<Window, String> {
    let n = ens.servers.len();
    let begin = start.elapsed();
    let mut ids: Vec<usize> = (1..=n).collect();
    for i in (1..n).rev() {
        ids.swap(i, rng.below(i + 1));
    }
    let hold = |d: u64| tokio::time::sleep(Duration::from_millis(d));
    let what = match fault {
        Fault::Kill | Fault::KillLeader => {
            let victim = match fault {
                Fault::KillLeader => ens.leader().await.unwrap_or(ids[0]),
                _ => ids[0],
            };
            ens.kill(victim);
            hold(2500).await;
            ens.start(victim)?;
            format!("SIGKILL server {victim}, restarted after 2.5 s")
        }
        Fault::PauseShort | Fault::PauseLong => {
            let victim = if rng.below(2) == 0 {
                ens.leader().await.unwrap_or(ids[0])
            } else {
                ids[0]
            };
            let ms = if matches!(fault, Fault::PauseShort) {
                1000
            } else {
                SESSION_TIMEOUT.as_millis() as u64 + 2000
            };
            ens.signal(victim, true);
            hold(ms).await;
            ens.signal(victim, false);
            format!("SIGSTOP server {victim} for {ms} ms")
        }
        Fault::PartitionHalves => {
            let (minority, majority) = ids.split_at(n / 2);
            for &a in minority {
                for &b in majority {
                    ens.cut(a, b, true);
                }
            }
            hold(3000).await;
            ens.heal_links();
            format!("partition {minority:?} | {majority:?} for 3 s")
        }
        Fault::LeaderIsolated => {
            let leader = ens.leader().await.unwrap_or(ids[0]);
            for b in (1..=n).filter(|&b| b != leader) {
                ens.cut(leader, b, true);
            }
            hold(3000).await;
            ens.heal_links();
            format!("leader {leader} isolated for 3 s")
        }
        Fault::Bridge => {
            // ids[mid] sees both halves; the halves do not see each other.
            let mid = n / 2;
            let (left, right) = (&ids[..mid], &ids[mid + 1..]);
            for &a in left {
                for &b in right {
                    ens.cut(a, b, true);
                }
            }
            hold(3000).await;
            ens.heal_links();
            format!("bridge {left:?} <-> {} <-> {right:?} for 3 s", ids[mid])
        }
    };
    Ok(Window {
        fault,
        what,
        start: begin,
        end: start.elapsed(),
    })
}

// ---------------------------------------------------------------------------- the run

pub fn run(args: Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> Result<(), String> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    }) | 1;
    let mut rng = Rng(seed);
    println!(
        "chaos: {} servers, {} sessions, nemesis {:?}, {} s, seed {seed}",
        args.servers,
        args.sessions,
        nemesis_name(args.nemesis),
        args.time
    );
    let started = Instant::now();
    let mut ens = Ensemble::create(args.servers).await?;
    for id in 1..=args.servers {
        ens.start(id)?;
    }
    ens.wait_for_leader(Duration::from_secs(30)).await?;
    let connect_string = ens.connect_string();
    let setup = connect(&connect_string)
        .await
        .ok_or("cannot connect to the new ensemble")?;
    let keys: Vec<String> = (0..args.keys).map(|k| format!("/chaos/r{k}")).collect();
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for path in ["/chaos", "/chaos/seq", "/chaos/eph"]
        .into_iter()
        .chain(keys.iter().map(String::as_str))
    {
        setup
            .create(path, b"", &opts)
            .await
            .map_err(|e| format!("create {path}: {e}"))?;
    }
    drop(setup);

    let shared = Arc::new(Shared {
        rec: Recorder {
            start: Instant::now(),
            next_id: AtomicU64::new(1),
            events: Mutex::new(Vec::new()),
        },
        stop: AtomicBool::new(false),
        next_session: AtomicU32::new(1),
        connect: connect_string.clone(),
        keys: keys.clone(),
    });
    let workers: Vec<_> = (0..args.sessions)
        .map(|i| {
            let seed = rng.next() ^ (i as u64) << 32 | 1;
            tokio::spawn(worker(shared.clone(), Rng(seed)))
        })
        .collect();

    // Faults, with quiet spells between them.
    let faults: Vec<Fault> = match args.nemesis {
        Nemesis::Kill => vec![Fault::Kill],
        Nemesis::KillLeader => vec![Fault::KillLeader],
        Nemesis::Pause => vec![Fault::PauseShort, Fault::PauseLong],
        Nemesis::Partition => vec![Fault::PartitionHalves, Fault::LeaderIsolated, Fault::Bridge],
        Nemesis::All => vec![
            Fault::KillLeader,
            Fault::LeaderIsolated,
            Fault::PauseShort,
            Fault::Bridge,
            Fault::Kill,
            Fault::PauseLong,
            Fault::PartitionHalves,
        ],
        Nemesis::None => vec![],
    };
    let t0 = shared.rec.start;
    let deadline = t0 + Duration::from_secs(args.time);
    let mut windows = Vec::new();
    let mut next = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Each fault lasts at most ~6 s; leave time to heal before the deadline.
        if faults.is_empty() || Instant::now() + Duration::from_secs(7) > deadline {
            break;
        }
        let w = inject(&mut ens, faults[next % faults.len()], &mut rng, t0).await?;
        println!(
            "  {:>6.1}s..{:>6.1}s  {}",
            w.start.as_secs_f64(),
            w.end.as_secs_f64(),
            w.what
        );
        windows.push(w);
        next += 1;
    }
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;

    // Heal, let the workload run a little on the healed ensemble, then stop it.
    ens.heal_all()?;
    ens.wait_for_leader(Duration::from_secs(30))
        .await
        .map_err(|e| format!("after healing: {e}"))?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut live = Vec::new();
    for w in workers {
        if let Ok(Some(session)) = w.await {
            live.push(session);
        }
    }

    // Final reads (session 0), then one read per live session to show it outlived the listing.
    let rec = &shared.rec;
    let fin = connect(&connect_string)
        .await
        .ok_or("cannot connect for the final reads")?;
    for key in &keys {
        let inv = rec.invoke(0, OpKind::SyncRead, key, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            fin.sync(key).await?;
            fin.get_data(key).await
        })
        .await;
        rec.finish(&inv, r, read_result);
    }
    for parent in ["/chaos/seq", "/chaos/eph"] {
        let inv = rec.invoke(0, OpKind::List, parent, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, async {
            fin.sync(parent).await?;
            fin.list_children(parent).await
        })
        .await;
        rec.finish(&inv, r, |e, children| e.children = Some(children));
    }
    for (s, client) in &live {
        let key = keys[0].as_str();
        let inv = rec.invoke(*s, OpKind::Read, key, |_| {});
        let r = tokio::time::timeout(OP_TIMEOUT, client.get_data(key)).await;
        rec.finish(&inv, r, read_result);
    }
    drop(live);
    drop(fin);
    drop(ens);

    let events = std::mem::take(&mut *shared.rec.events.lock().unwrap());
    if let Some(path) = &args.history {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        write_jsonl(std::io::BufWriter::new(file), &events)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let checking = Instant::now();
    let report = chaos::check(&events);
    print_summary(
        &args,
        &events,
        &report,
        &windows,
        checking.elapsed(),
        started.elapsed(),
    );
    if let Some(path) = &args.history {
        println!("history: {} ({} events)", path.display(), events.len());
    }
    if report.anomalies.is_empty() {
        Ok(())
    } else {
        Err(format!("{} anomalies found", report.anomalies.len()))
    }
}

fn nemesis_name(n: Nemesis) -> &'static str {
    match n {
        Nemesis::Kill => "kill",
        Nemesis::KillLeader => "kill-leader",
        Nemesis::Pause => "pause",
        Nemesis::Partition => "partition",
        Nemesis::All => "all",
        Nemesis::None => "none",
    }
}

fn print_summary(
    args: &Args,
    events: &[Event],
    report: &chaos::Report,
    windows: &[Window],
    check_time: Duration,
    total: Duration,
) {
    let ops = chaos::history::pair(events);
    let mut by_op: std::collections::BTreeMap<String, [usize; 3]> = Default::default();
    for op in &ops {
        let c = by_op.entry(format!("{:?}", op.op)).or_default();
        c[match op.outcome {
            chaos::Outcome::Ok => 0,
            chaos::Outcome::Fail => 1,
            chaos::Outcome::Info => 2,
        }] += 1;
    }
    let sessions = ops.iter().map(|o| o.session).max().unwrap_or(0);
    println!(
        "summary ({} servers, nemesis {}):",
        args.servers,
        nemesis_name(args.nemesis)
    );
    println!(
        "  operations {}: ok {}, failed {}, indeterminate {}; {} sessions over {} workers",
        report.ops, report.ok, report.failed, report.indeterminate, sessions, args.sessions
    );
    for (op, [ok, fail, info]) in &by_op {
        println!("    {op:<16} ok {ok:>6}  failed {fail:>5}  indeterminate {info:>4}");
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for w in windows {
        *kinds.entry(format!("{:?}", w.fault)).or_default() += 1;
    }
    println!("  faults injected {}: {kinds:?}", windows.len());
    println!(
        "  checked in {:.2} s; whole run {:.1} s",
        check_time.as_secs_f64(),
        total.as_secs_f64()
    );
    println!("  anomalies: {}", report.anomalies.len());
    for a in report.anomalies.iter().take(10) {
        print!("{a}");
    }
}
