//! One simulated server: the real server core over a simulated disk, with its own clock
//! (offset and drift from the world's), booted and crashed by the world.

use server_core::clients::ConnId;
use server_core::clock::Now;
use server_core::config::{Config, Member};
use server_core::core::{Core, PeerOutbox};
use server_core::limits::Limits;
use server_core::replica::{recover, Replica, ReplicaOptions};
use server_core::session::SessionIds;
use server_core::state::ServerState;
use storage::sim::SimDisk;

use super::options::{Micros, ServerOptions};
use super::storage::SimStorage;

/// Wall-clock milliseconds at the world's time zero (ctime/mtime, TTLs, session ids).
const EPOCH_MS: i64 = 1_700_000_000_000;

/// One server.
pub struct Node {
    /// Its server id (1-based).
    pub id: u64,
    pub disk: SimDisk,
    /// `None` while it is down.
    pub core: Option<Core<SimStorage>>,
    /// Bumped at every crash: work scheduled for an older incarnation is void.
    pub incarnation: u32,
    /// How its clock differs from the world's: a fixed offset and a drift.
    pub offset_us: u64,
    pub drift_ppm: i64,
    /// Connection ids never repeat on a server, whatever its restarts.
    next_conn: ConnId,
    pub fsync_scheduled: bool,
    pub snapshot_scheduled: bool,
}

impl Node {
    pub fn new(id: u64, offset_us: u64, drift_ppm: i64) -> Node {
        Node {
            id,
            disk: SimDisk::new(),
            core: None,
            incarnation: 0,
            offset_us,
            drift_ppm,
            next_conn: 0,
            fsync_scheduled: false,
            snapshot_scheduled: false,
        }
    }

    /// The server's reading of its clocks at world time `world_us`.
    pub fn now(&self, world_us: Micros) -> Now {
        let drift = (world_us as i128 * self.drift_ppm as i128 / 1_000_000) as i64;
        let mono_us = (world_us + self.offset_us).saturating_add_signed(drift);
        Now {
            mono_us,
            wall_ms: EPOCH_MS + (mono_us / 1000) as i64,
        }
    }

    pub fn next_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    /// Recovers from the disk (the same recovery a real restart runs) and starts the core.
    pub fn boot(
        &mut self,
        opts: &ServerOptions,
        limits: &Limits,
        nonce: u64,
        world_us: Micros,
    ) -> Result<(), String> {
        let mut log = self.disk.open_log().map_err(|e| format!("log: {e}"))?;
        let mut snapshots = self.disk.snapshots();
        let mut epochs = self.disk.epochs();
        let recovered =
            recover(&mut log, &mut snapshots, &mut epochs).map_err(|e| format!("recovery: {e}"))?;
        let storage = SimStorage::new(&self.disk, log);
        let config = config(self.id, opts, limits);
        let now = self.now(world_us);
        let mut state =
            ServerState::new(limits.clone(), SessionIds::new(self.id, now.wall_ms as u64))
                .with_bugs(bugs(opts));
        state.record_changes();
        let mut zab = config.zab_config();
        zab.diff_batch_max = 64;
        zab.history_tail_txns = opts.history_tail_txns;
        let options = ReplicaOptions {
            zab,
            snap_count: opts.snap_count,
            snap_retain: 3,
            log_options: storage::LogOptions::default(),
            nonce,
            activated: zab::Zxid::from_u64(config.config_version),
        };
        let replica = Replica::start(options, recovered, state, storage, PeerOutbox::default())
            .map_err(|e| format!("start: {e}"))?
            .with_bugs(bugs(opts));
        let core = Core::new(config, replica).map_err(|e| format!("start: {e}"))?;
        self.core = Some(core);
        self.fsync_scheduled = false;
        self.snapshot_scheduled = false;
        Ok(())
    }

    /// Power loss: the core is gone, the disk keeps what was synced (and perhaps a torn
    /// prefix of the rest).
    pub fn crash(&mut self, keep_unsynced: &mut dyn FnMut() -> u64, torn: bool) {
        self.core = None;
        if torn {
            self.disk.crash(keep_unsynced);
        } else {
            self.disk.crash_keeping(0);
        }
        self.incarnation += 1;
        self.fsync_scheduled = false;
        self.snapshot_scheduled = false;
    }
}

/// The broken variant every server runs, if the build has the `bugs` feature.
fn bugs(opts: &ServerOptions) -> server_core::bugs::Bugs {
    #[cfg(feature = "bugs")]
    {
        server_core::bugs::Bugs { bug: opts.bug }
    }
    #[cfg(not(feature = "bugs"))]
    {
        assert!(
            opts.bug.is_none(),
            "a broken variant needs the bugs feature"
        );
        server_core::bugs::Bugs::default()
    }
}

/// A server's configuration in the simulated ensemble.
fn config(id: u64, opts: &ServerOptions, limits: &Limits) -> Config {
    let mut config = Config::standalone(std::path::PathBuf::from("/sim"), 2181);
    let tick = std::time::Duration::from_micros(opts.tick);
    config.tick_time = tick;
    config.init_limit = 10;
    config.sync_limit = 5;
    config.min_session_timeout = tick * 2;
    config.max_session_timeout = tick * 20;
    config.extended_types_enabled = true;
    config.read_only_enabled = opts.read_only;
    config.local_sessions_enabled = opts.read_only;
    config.snap_count = opts.snap_count;
    config.limits = limits.clone();
    config.my_id = id;
    config.members = (1..=opts.servers as u64)
        .map(|id| Member {
            id,
            host: format!("s{id}"),
            peer_port: 2888,
            election_port: 3888,
            observer: false,
        })
        .collect();
    config
}
