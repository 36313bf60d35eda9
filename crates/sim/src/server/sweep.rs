//! Sweeps of server-level seeds, over a few threads (each seed is independent and replays on
//! its own).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use server_core::bugs::ServerBug;

use super::{run, Report, ServerOptions};

/// Totals of a sweep.
#[derive(Clone, Debug, Default)]
pub struct ServerSweep {
    pub seeds: u64,
    pub events: u64,
    pub requests: u64,
    pub crashes: u64,
    pub partitions: u64,
    pub moves: u64,
    pub sessions_expired: u64,
    pub read_only_sessions: u64,
    pub stopped_reading: u64,
    pub register_ops: u64,
    pub peer_snapshots: u64,
    /// The longest time from healing to everything answered and converged.
    pub settle_ms_max: u64,
    /// Failed seeds, lowest first.
    pub failures: Vec<Report>,
    pub seconds: f64,
}

impl ServerSweep {
    fn add(&mut self, r: &Report) {
        self.seeds += 1;
        self.events += r.events;
        self.requests += r.requests;
        self.crashes += r.crashes;
        self.partitions += r.partitions;
        self.moves += r.moves;
        self.sessions_expired += r.sessions_expired;
        self.read_only_sessions += r.read_only_sessions;
        self.stopped_reading += r.stopped_reading;
        self.register_ops += r.register_ops;
        self.peer_snapshots += r.peer_snapshots;
        self.settle_ms_max = self.settle_ms_max.max(r.settle_ms);
    }

    pub fn seeds_per_second(&self) -> f64 {
        self.seeds as f64 / self.seconds.max(1e-9)
    }
}

/// Runs seeds `from..to` on `servers` servers over `threads` threads; stops once a seed fails
/// (the seeds below it still finish, so the failure reported is the lowest one found).
pub fn sweep(
    servers: usize,
    from: u64,
    to: u64,
    bug: Option<ServerBug>,
    threads: usize,
) -> ServerSweep {
    let start = Instant::now();
    let next = AtomicU64::new(from);
    let failed = AtomicBool::new(false);
    let total = Mutex::new(ServerSweep::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= to || failed.load(Ordering::Relaxed) {
                    return;
                }
                let mut opts = ServerOptions::from_seed(servers, seed);
                opts.bug = bug;
                let report = run(opts);
                let mut total = total.lock().unwrap_or_else(|e| e.into_inner());
                total.add(&report);
                if report.violation.is_some() {
                    failed.store(true, Ordering::Relaxed);
                    total.failures.push(report);
                }
            });
        }
    });
    let mut total = total.into_inner().unwrap_or_else(|e| e.into_inner());
    total.failures.sort_by_key(|r| r.seed);
    total.seconds = start.elapsed().as_secs_f64();
    total
}
