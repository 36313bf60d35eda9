//! What ensemble to launch: the builder every caller fills in.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::plan::Plan;

/// How the servers' ports are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ports {
    /// Server `i` (from 1) gets client port `client + i - 1` and peer and election ports
    /// `peer + 2(i - 1)` and the one after: addresses a user can type (`quorum dev`).
    Fixed {
        /// Client port of server 1.
        client: u16,
        /// Peer port of server 1.
        peer: u16,
    },
    /// Free loopback ports asked of the OS: ensembles side by side (tests, chaos) never collide.
    Free,
}

/// An ensemble to launch. `n` servers of `binary` (`binary server --config sN/zoo.cfg`).
#[derive(Clone, Debug)]
pub struct EnsembleSpec {
    pub(crate) servers: usize,
    /// How many of the servers (the last ones) are observers.
    pub(crate) observers: usize,
    pub(crate) binary: PathBuf,
    pub(crate) ports: Ports,
    pub(crate) tick_ms: u64,
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) temp_prefix: String,
    pub(crate) server_args: Vec<OsString>,
}

impl EnsembleSpec {
    /// `servers` servers (1 is a standalone server: no peers, no myid, no secret) of the quorum
    /// binary at `binary`, on free ports, in a temporary folder removed on drop, tickTime 500.
    pub fn new(servers: usize, binary: impl Into<PathBuf>) -> EnsembleSpec {
        EnsembleSpec {
            servers,
            observers: 0,
            binary: binary.into(),
            ports: Ports::Free,
            tick_ms: 500,
            settings: Vec::new(),
            dir: None,
            temp_prefix: "quorum-ensemble-".into(),
            server_args: Vec::new(),
        }
    }

    /// Makes the last `observers` of the servers observers (`server.N=…:observer`): they
    /// learn and serve but never vote. At least one server must stay a voter.
    pub fn observers(mut self, observers: usize) -> Self {
        self.observers = observers;
        self
    }

    /// How ports are chosen (default: free ports).
    pub fn ports(mut self, ports: Ports) -> Self {
        self.ports = ports;
        self
    }

    /// tickTime in ms: session timeouts (2..20 ticks) and failure detection scale with it.
    pub fn tick_ms(mut self, tick_ms: u64) -> Self {
        self.tick_ms = tick_ms;
        self
    }

    /// A zoo.cfg setting for every server; it replaces a default of the same key.
    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.settings.push((key.into(), value.to_string()));
        self
    }

    /// Put the folder here (created if missing, kept after the ensemble is dropped) instead of
    /// a temporary folder.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Name prefix of the temporary folder (it tells whose leftovers a folder is).
    pub fn temp_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.temp_prefix = prefix.into();
        self
    }

    /// Extra arguments of every `quorum server` (e.g. a test-only `--unsafe-bug`).
    pub fn server_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.server_args.push(arg.into());
        self
    }

    /// Chooses the ports and the folder; nothing is written or started yet.
    pub fn plan(self) -> Result<Plan, String> {
        Plan::new(self)
    }

    /// Plans and writes the folder: an ensemble ready to start.
    pub fn write(self) -> Result<crate::Ensemble, String> {
        self.plan()?.write()
    }
}
