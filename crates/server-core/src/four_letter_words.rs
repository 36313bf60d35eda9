//! The four-letter words operators and tools send on the client port (`echo srvr | nc …`),
//! answered in the same lines and format as ZooKeeper 3.8, because monitoring tools parse them.

use std::fmt::Write as _;
use zab::Zxid;

/// The version line tools parse: `Zookeeper version: X, built on MM/DD/YYYY HH:MM GMT`. The
/// ZooKeeper version Quorum is compatible with comes first, so version checks keep working.
pub fn version() -> String {
    format!(
        "3.8.4-quorum-{}, built on 11/26/2026 00:00 GMT",
        env!("CARGO_PKG_VERSION")
    )
}

/// The words Quorum answers.
pub const WORDS: [&str; 14] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "wchs", "wchc", "wchp", "dump",
    "envi", "isro",
];

/// One client connection, for `stat` and `cons`.
#[derive(Clone, Debug, Default)]
pub struct ConnectionView {
    pub remote: String,
    pub queued: u64,
    pub received: u64,
    pub sent: u64,
    pub session_id: i64,
    pub last_operation: String,
    pub session_timeout_ms: u64,
    pub last_cxid: i64,
    pub last_zxid: Zxid,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: u64,
}

/// Everything the words report, gathered by the server at the moment of asking.
#[derive(Clone, Debug, Default)]
pub struct ServerView {
    /// `standalone`, `leader` or `follower` (or `looking`, when not serving).
    pub mode: String,
    pub zxid: Zxid,
    pub epoch: u32,
    pub node_count: usize,
    pub ephemerals_count: usize,
    pub approximate_data_size: u64,
    pub latency_min_ms: u64,
    pub latency_avg_ms: f64,
    pub latency_max_ms: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub outstanding: u64,
    /// Client connections open.
    pub connection_count: usize,
    /// Sessions open in the ensemble.
    pub session_count: usize,
    /// Every connection (only in views that asked for them: `cons`, `stat`).
    pub connections: Vec<ConnectionView>,
    /// Bytes of answers and notifications not yet written to clients.
    pub outbound_bytes: u64,
    /// Client requests received whose answers are not yet written.
    pub requests_in_flight: u64,
    pub watch_count: usize,
    pub watched_paths: usize,
    pub watching_connections: usize,
    /// (session id, watched paths); only in views for `wchc`.
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    /// (path, session ids); only in views for `wchp`.
    pub watches_by_path: Vec<(String, Vec<i64>)>,
    /// (session id, timeout ms); only in views for `dump`.
    pub sessions: Vec<(i64, u64)>,
    /// (session id, ephemeral paths)
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// `conf` lines, `key=value`.
    pub config: Vec<(String, String)>,
    /// The membership text (`/zookeeper/config`'s) that `conf` ends with in an ensemble, as
    /// ZooKeeper 3.8 prints it; `None` standalone.
    pub membership: Option<String>,
    pub read_only: bool,
    /// On a leader: (follower id, synced?), voters only.
    pub followers: Vec<(u64, bool)>,
    /// On a leader: (observer id, synced?).
    pub observers: Vec<(u64, bool)>,
    pub open_fds: u64,
    pub max_fds: u64,
    /// A digest of the whole data tree: equal on replicas that applied the same transactions.
    pub digest: u64,
    /// How this server, leading, synchronized its followers (since start).
    pub syncs: SyncCounts,
    /// Elections this server took part in, since start.
    pub elections: u64,
    /// The leader this server follows or is (none while looking), for the AdminServer's
    /// `leader` command.
    pub leader: Option<u64>,
}

/// Followers synchronized by a leader, by kind, since start: `mntr`'s `zk_sync_*` keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub diff: u64,
    pub trunc: u64,
    pub snap: u64,
    /// Reads of the log for a DIFF older than the payloads held in memory.
    pub log_reads: u64,
    /// Of those, reads that failed or did not match the history, answered by SNAP instead.
    pub log_reads_refused: u64,
}

impl SyncCounts {
    /// The counts a Zab core keeps.
    pub fn of(stats: &zab::Stats) -> SyncCounts {
        SyncCounts {
            diff: stats.sync_diff,
            trunc: stats.sync_trunc,
            snap: stats.sync_snap,
            log_reads: stats.log_reads,
            log_reads_refused: stats.log_reads_refused,
        }
    }
}

/// The answer to `word`, or `None` for a word Quorum does not know.
pub fn answer(word: &str, view: &ServerView) -> Option<String> {
    let mut out = String::new();
    match word {
        "ruok" => out.push_str("imok"),
        "srvr" => summary(&mut out, view, false),
        "stat" => summary(&mut out, view, true),
        "mntr" => monitor(&mut out, view),
        "conf" => {
            for (key, value) in &view.config {
                let _ = writeln!(out, "{key}={value}");
            }
            // ZooKeeper 3.8: `membership: ` (with its blank) on a line, then the text
            // without a final newline.
            if let Some(text) = &view.membership {
                out.push_str("membership: \n");
                out.push_str(text);
            }
        }
        "cons" => {
            for c in &view.connections {
                let _ = writeln!(
                    out,
                    " {}[1](queued={},recved={},sent={},sid=0x{:x},lop={},est=0,to={},lcxid=0x{:x},lzxid=0x{:x},lresp=0,llat={},minlat={},avglat={:.4},maxlat={})",
                    c.remote,
                    c.queued,
                    c.received,
                    c.sent,
                    c.session_id,
                    c.last_operation,
                    c.session_timeout_ms,
                    c.last_cxid,
                    c.last_zxid,
                    c.last_latency_ms,
                    c.min_latency_ms,
                    c.avg_latency_ms,
                    c.max_latency_ms
                );
            }
            out.push('\n');
        }
        "crst" => out.push_str("Connection stats reset.\n"),
        "srst" => out.push_str("Server stats reset.\n"),
        "wchs" => {
            let _ = writeln!(
                out,
                "{} connections watching {} paths\nTotal watches:{}",
                view.watching_connections, view.watched_paths, view.watch_count
            );
        }
        "wchc" => {
            for (session, paths) in &view.watches_by_session {
                let _ = writeln!(out, "0x{session:x}");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
        }
        "wchp" => {
            for (path, sessions) in &view.watches_by_path {
                let _ = writeln!(out, "{path}");
                for session in sessions {
                    let _ = writeln!(out, "\t0x{session:x}");
                }
            }
        }
        "dump" => {
            out.push_str("SessionTracker dump:\n");
            let _ = writeln!(
                out,
                "Session Sets ({})/({}):",
                view.sessions.len(),
                view.sessions.len()
            );
            for (session, timeout) in &view.sessions {
                let _ = writeln!(out, "0x{session:x}\t{timeout}ms");
            }
            out.push_str("ephemeral nodes dump:\n");
            let _ = writeln!(out, "Sessions with Ephemerals ({}):", view.ephemerals.len());
            for (session, paths) in &view.ephemerals {
                let _ = writeln!(out, "0x{session:x}:");
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
            out.push_str("Connections dump:\n");
        }
        "envi" => {
            out.push_str("Environment:\n");
            let _ = writeln!(out, "zookeeper.version={}", version());
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let _ = writeln!(out, "host.name={}", host.trim());
            let _ = writeln!(out, "os.name={}", std::env::consts::OS);
            let _ = writeln!(out, "os.arch={}", std::env::consts::ARCH);
            let dir = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            let _ = writeln!(out, "user.dir={dir}");
        }
        // ZooKeeper's IsroCommand: "null" while no server runs (looking), "ro" in read-only
        // mode, "rw" otherwise; kazoo's read-only client looks for "rw" to move to.
        "isro" => out.push_str(match (view.read_only, view.mode.as_str()) {
            (true, _) => "ro",
            (false, "looking") => "null",
            _ => "rw",
        }),
        _ => return None,
    }
    Some(out)
}

/// What ZooKeeper says when a word is not whitelisted.
pub fn not_allowed(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

fn summary(out: &mut String, view: &ServerView, with_clients: bool) {
    let _ = writeln!(out, "Zookeeper version: {}", version());
    if with_clients {
        out.push_str("Clients:\n");
        for c in &view.connections {
            let _ = writeln!(
                out,
                " {}[1](queued={},recved={},sent={})",
                c.remote, c.queued, c.received, c.sent
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{:.4}/{}",
        view.latency_min_ms, view.latency_avg_ms, view.latency_max_ms
    );
    let _ = writeln!(out, "Received: {}", view.packets_received);
    let _ = writeln!(out, "Sent: {}", view.packets_sent);
    let _ = writeln!(out, "Connections: {}", view.connection_count);
    let _ = writeln!(out, "Outstanding: {}", view.outstanding);
    let _ = writeln!(out, "Zxid: 0x{:x}", view.zxid);
    let _ = writeln!(out, "Mode: {}", view.mode);
    let _ = writeln!(out, "Node count: {}", view.node_count);
}

fn monitor(out: &mut String, view: &ServerView) {
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "zk_{key}\t{value}");
    };
    line("version", version());
    line("server_state", view.mode.clone());
    line("ephemerals_count", view.ephemerals_count.to_string());
    line("num_alive_connections", view.connection_count.to_string());
    line("avg_latency", format!("{:.4}", view.latency_avg_ms));
    line("max_latency", view.latency_max_ms.to_string());
    line("min_latency", view.latency_min_ms.to_string());
    line("packets_received", view.packets_received.to_string());
    line("packets_sent", view.packets_sent.to_string());
    line("outstanding_requests", view.outstanding.to_string());
    line("znode_count", view.node_count.to_string());
    line("watch_count", view.watch_count.to_string());
    line(
        "approximate_data_size",
        view.approximate_data_size.to_string(),
    );
    line("last_zxid", format!("0x{:x}", view.zxid));
    line("current_epoch", view.epoch.to_string());
    line("digest", format!("{:016x}", view.digest));
    line("elections", view.elections.to_string());
    line("global_sessions", view.session_count.to_string());
    line("outbound_bytes", view.outbound_bytes.to_string());
    line("requests_in_flight", view.requests_in_flight.to_string());
    line("sync_diff", view.syncs.diff.to_string());
    line("sync_trunc", view.syncs.trunc.to_string());
    line("sync_snap", view.syncs.snap.to_string());
    line("sync_log_reads", view.syncs.log_reads.to_string());
    line(
        "sync_log_reads_refused",
        view.syncs.log_reads_refused.to_string(),
    );
    if view.mode == "leader" {
        line("followers", view.followers.len().to_string());
        let synced = view.followers.iter().filter(|(_, synced)| *synced).count();
        line("synced_followers", synced.to_string());
        let observing = view.observers.iter().filter(|(_, synced)| *synced).count();
        line("synced_observers", observing.to_string());
        let learners = view.followers.len() + view.observers.len();
        line("pending_syncs", (learners - synced - observing).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_has_the_lines_tools_parse() {
        let view = ServerView {
            mode: "standalone".into(),
            zxid: Zxid::new(1, 5),
            node_count: 5,
            ..Default::default()
        };
        let text = answer("srvr", &view).unwrap();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("Zookeeper version: 3.8."), "{first}");
        assert!(
            first.ends_with(" GMT") && first.contains(", built on "),
            "{first}"
        );
        assert!(text.contains("\nMode: standalone\n"));
        assert!(text.contains("\nZxid: 0x100000005\n"));
        assert!(text.contains("\nNode count: 5\n"));
        assert_eq!(answer("ruok", &view).unwrap(), "imok");
        assert!(answer("mntr", &view)
            .unwrap()
            .contains("zk_server_state\tstandalone\n"));
        assert!(answer("nope", &view).is_none());
    }

    /// ZooKeeper 3.8's `conf` in an ensemble, read off the real one: the keys, then
    /// `membership: ` and the text of /zookeeper/config without a final newline.
    #[test]
    fn conf_ends_with_the_membership_as_zookeeper_prints_it() {
        let text = "server.1=127.0.0.1:2888:3888:participant\nversion=0";
        let mut view = ServerView {
            config: vec![("peerType".into(), "0".into())],
            ..Default::default()
        };
        assert_eq!(answer("conf", &view).unwrap(), "peerType=0\n");
        view.membership = Some(text.into());
        let expected = format!("peerType=0\nmembership: \n{text}");
        assert_eq!(answer("conf", &view).unwrap(), expected);
    }
}
