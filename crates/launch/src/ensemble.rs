//! A written ensemble: its servers' processes, started, killed, paused and probed by id; all
//! SIGKILLed when it is dropped, panics included, so no test or command leaves servers behind.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::plan::{Folder, Layout};
use crate::probe;
use crate::process::Process;
use crate::spec::EnsembleSpec;
use crate::HOST;

/// How often the waits ask again.
const POLL: Duration = Duration::from_millis(20);

/// Servers of one ensemble, numbered from 1. See the crate's documentation.
#[derive(Debug)]
pub struct Ensemble {
    // Declared first: dropped (killed) before the folder is removed.
    servers: Vec<Process>,
    spec: EnsembleSpec,
    folder: Folder,
    layout: Layout,
}

impl Ensemble {
    pub(crate) fn new(spec: EnsembleSpec, folder: Folder, layout: Layout) -> Ensemble {
        Ensemble {
            servers: (0..spec.servers).map(|_| Process::default()).collect(),
            spec,
            folder,
            layout,
        }
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Never true: an ensemble has at least one server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Server ids, 1..=n.
    pub fn ids(&self) -> std::ops::RangeInclusive<usize> {
        1..=self.len()
    }

    /// The ensemble's folder.
    pub fn dir(&self) -> &Path {
        self.folder.path()
    }

    /// Server `id`'s folder (`sN`: zoo.cfg, data, server.log).
    pub fn server_dir(&self, id: usize) -> PathBuf {
        self.dir().join(format!("s{id}"))
    }

    pub fn config_path(&self, id: usize) -> PathBuf {
        self.server_dir(id).join("zoo.cfg")
    }

    pub fn log_path(&self, id: usize) -> PathBuf {
        self.server_dir(id).join("server.log")
    }

    /// Server `id`'s log so far (empty if none): for failure messages.
    pub fn log(&self, id: usize) -> String {
        std::fs::read_to_string(self.log_path(id)).unwrap_or_default()
    }

    /// The last `lines` lines of every server's log, headed by the server's id.
    pub fn logs_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for id in self.ids() {
            let log = self.log(id);
            let all: Vec<&str> = log.lines().collect();
            out.push_str(&format!("--- server {id} log (last {lines} lines):\n"));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    pub fn client_port(&self, id: usize) -> u16 {
        self.layout.client[id - 1]
    }

    pub fn peer_port(&self, id: usize) -> u16 {
        self.layout.peer[id - 1]
    }

    pub fn election_port(&self, id: usize) -> u16 {
        self.layout.election[id - 1]
    }

    /// The port server `i` dials to reach server `j` (a proxy's, if the link was routed).
    pub fn dialled_port(&self, i: usize, j: usize) -> u16 {
        self.layout.dialled(i, j)
    }

    /// Server `id`'s host:port.
    pub fn address(&self, id: usize) -> String {
        format!("{HOST}:{}", self.client_port(id))
    }

    /// Every server's host:port, comma-separated, as clients take it.
    pub fn connect_string(&self) -> String {
        let all: Vec<String> = self.ids().map(|id| self.address(id)).collect();
        all.join(",")
    }

    /// Starts server `id` (its log is appended to, so restarts keep the history).
    pub fn start(&mut self, id: usize) -> Result<(), String> {
        let config = self.config_path(id);
        let log = self.log_path(id);
        let (binary, args) = (&self.spec.binary, &self.spec.server_args);
        self.servers[id - 1]
            .spawn(binary, &config, args, &log)
            .map_err(|e| format!("cannot start server {id} ({}): {e}", binary.display()))
    }

    /// Starts every server not running.
    pub fn start_all(&mut self) -> Result<(), String> {
        for id in self.ids() {
            if !self.running(id) {
                self.start(id)?;
            }
        }
        Ok(())
    }

    /// SIGKILL server `id` and reap it.
    pub fn kill(&mut self, id: usize) {
        self.servers[id - 1].kill();
    }

    /// SIGSTOP server `id`: it keeps its sockets open and answers nothing.
    pub fn pause(&mut self, id: usize) {
        self.servers[id - 1].signal_stop(true);
    }

    /// SIGCONT server `id`.
    pub fn resume(&mut self, id: usize) {
        self.servers[id - 1].signal_stop(false);
    }

    /// Started and not exited (paused counts as running).
    pub fn running(&mut self, id: usize) -> bool {
        self.servers[id - 1].running()
    }

    pub fn paused(&self, id: usize) -> bool {
        self.servers[id - 1].paused()
    }

    pub fn pid(&self, id: usize) -> Option<u32> {
        self.servers[id - 1].pid()
    }

    /// How server `id` ended, if it exited by itself since it was last started.
    pub fn exited(&mut self, id: usize) -> Option<ExitStatus> {
        self.servers[id - 1].exited()
    }

    /// Server `id`'s `srvr` mode; `None` when it is down, paused or does not answer.
    pub fn mode(&mut self, id: usize) -> Option<String> {
        if !self.running(id) || self.paused(id) {
            return None;
        }
        probe::mode(self.client_port(id))
    }

    /// The one server that says it leads (`None` when none or several do).
    pub fn leader(&mut self) -> Option<usize> {
        let leaders: Vec<usize> = self
            .ids()
            .filter(|&id| self.mode(id).as_deref() == Some("leader"))
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Until exactly one server leads and a quorum (the leader included) serves; its id. A
    /// standalone server counts as its own leader.
    pub fn wait_for_leader(&mut self, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        let modes = loop {
            let modes = self.ids().map(|id| (id, self.mode(id))).collect::<Vec<_>>();
            let leaders: Vec<usize> = modes
                .iter()
                .filter(|(_, m)| matches!(m.as_deref(), Some("leader" | "standalone")))
                .map(|&(id, _)| id)
                .collect();
            let serving = modes
                .iter()
                .filter(|(_, m)| probe::serving(m.as_deref()))
                .count();
            if leaders.len() == 1 && serving > self.len() / 2 {
                return Ok(leaders[0]);
            }
            if Instant::now() > deadline {
                break modes;
            }
            std::thread::sleep(POLL);
        };
        Err(format!(
            "no leader within {timeout:?} (modes: {modes:?})\n{}",
            self.logs_tail(15)
        ))
    }

    /// Until server `id` serves clients; fails at once if it exits.
    pub fn wait_serving(&mut self, id: usize, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited(id) {
                return Err(format!(
                    "server {id} exited ({status}):\n{}",
                    self.logs_tail(30)
                ));
            }
            if probe::serving(self.mode(id).as_deref()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "server {id} not serving within {timeout:?}:\n{}",
                    self.logs_tail(30)
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Until every started server serves and (replicated) one of them leads; the leader's id.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        for id in self.ids() {
            if self.running(id) {
                let left = deadline.saturating_duration_since(Instant::now());
                self.wait_serving(id, left.max(Duration::from_secs(1)))?;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.wait_for_leader(left.max(Duration::from_secs(1)))
    }

    /// Starts every server and waits until they all serve under one leader.
    pub fn launch(&mut self, timeout: Duration) -> Result<usize, String> {
        self.start_all()?;
        self.wait_ready(timeout)
    }

    /// What a script needs to find the servers and their files (see [`crate::Description`]).
    pub fn describe(&self) -> crate::Description {
        crate::describe::describe(self)
    }

    /// The layout, for [`crate::describe`].
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }
}
