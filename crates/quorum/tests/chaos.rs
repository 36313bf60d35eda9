//! Issue 6: short chaos scenarios on real 3- and 5-server ensembles, each running every kind of
//! fault at least once, must show no anomaly; the checker must report anomalies injected into a
//! recorded history, and anomalies of a deliberately broken server (commit without a quorum).
//!
//! The scenarios run one at a time (each is an ensemble of OS processes and a dozen sessions on
//! a small machine), so that a slow machine does not turn into indeterminate operations.

use chaos::history::{read_jsonl, Event, Kind, OpKind};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Every fault `--nemesis all` injects, as the summary names them.
const FAULTS: [&str; 8] = [
    "Kill",
    "KillLeader",
    "PauseShort",
    "PauseLong",
    "PartitionHalves",
    "LeaderIsolated",
    "Bridge",
    "SilentIsolated",
];

fn run_scenario(dir: &Path, args: &[&str]) -> (std::process::Output, Vec<Event>) {
    let history = dir.join("history.jsonl");
    let chart = dir.join("latency.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .arg("chaos")
        .args(args)
        .arg("--history")
        .arg(&history)
        .arg("--chart")
        .arg(&chart)
        .env("RUST_LOG", "error")
        .output()
        .expect("run quorum chaos");
    let file = std::fs::File::open(&history).unwrap_or_else(|e| {
        panic!(
            "no history written ({e}); quorum chaos exited with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let events = read_jsonl(std::io::BufReader::new(file)).expect("history parses");
    let svg = std::fs::read_to_string(&chart).expect("chart written");
    assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
    (out, events)
}

/// Runs `--nemesis all` on `servers` servers and checks that every fault ran and nothing is
/// anomalous.
fn clean_scenario(dir: &Path, servers: &str) -> Vec<Event> {
    let faults = FAULTS.map(|f| format!("\"{f}\""));
    checked_scenario(dir, servers, "all", &faults)
}

/// Runs `nemesis` for 30 s on `servers` servers: the run succeeds, the summary lists each of
/// `faults`, and the checker finds nothing in more than a thousand operations.
fn checked_scenario(dir: &Path, servers: &str, nemesis: &str, faults: &[String]) -> Vec<Event> {
    let (out, events) = run_scenario(
        dir,
        &["--time", "30", "--servers", servers, "--nemesis", nemesis],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quorum chaos failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("anomalies: 0"), "{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.contains("faults injected"))
        .expect("summary names the faults");
    for fault in faults {
        assert!(
            summary.contains(fault.as_str()),
            "{fault} missing: {stdout}"
        );
    }
    let report = chaos::check(&events);
    assert!(report.anomalies.is_empty());
    assert!(report.ok > 1000, "{stdout}");
    events
}

#[test]
fn five_servers_every_fault_no_anomaly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    clean_scenario(dir.path(), "5");
}

/// Whether a broken server lost acknowledged writes in a run must depend on the schedule (a
/// client must write through the minority while it is cut off), so the broken server gets up
/// to three runs of 15 s; the correct core is held to no anomaly in every run above.
#[test]
#[cfg(feature = "bugs")]
fn broken_server_committing_without_a_quorum_is_caught() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut runs = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let (out, _) = run_scenario(
            dir.path(),
            &[
                "--time",
                "15",
                "--servers",
                "3",
                "--nemesis",
                "partition",
                "--unsafe-bug",
                "commit-on-minority",
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() && caught_as_a_lost_commit(&stdout) {
            return;
        }
        runs.push(stdout);
    }
    panic!(
        "the broken server went unnoticed in 3 runs:\n{}",
        runs.join("\n")
    );
}

/// Which checker fires first depends on the schedule: a write committed by the minority and
/// later truncated shows as a stale read, a lost write, a sequence number given twice, or an
/// ephemeral its session's close never removed. The summary counts every checker's findings.
#[cfg(feature = "bugs")]
fn caught_as_a_lost_commit(stdout: &str) -> bool {
    let Some(counts) = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("anomalies: "))
    else {
        return false;
    };
    !counts.contains("anomalies: 0")
        && ["linearizable", "lost-write", "sequential"]
            .iter()
            .any(|c| counts.contains(&format!("{c} ")))
}

#[test]
fn three_servers_every_fault_no_anomaly_and_injected_ones_are_found() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let events = clean_scenario(dir.path(), "3");

    // Teeth 1: the final sync-read of a register forgets the last acknowledged write (it shows
    // the value and version before it).
    let mut broken = events.clone();
    let last_read = broken
        .iter()
        .rposition(|e| e.kind == Kind::Ok && e.op == OpKind::SyncRead && e.session == 0)
        .expect("final sync-read");
    let path = broken[last_read].path.clone();
    let version = broken[last_read].version.unwrap();
    assert!(version >= 2, "register {path} was written at most once");
    let earlier = broken
        .iter()
        .find(|e| {
            e.kind == Kind::Ok
                && e.path == path
                && matches!(e.op, OpKind::Read | OpKind::SyncRead)
                && e.version == Some(version - 1)
        })
        .cloned();
    let e = &mut broken[last_read];
    e.version = Some(version - 1);
    e.value = earlier.and_then(|r| r.value).or(Some("lost".into()));
    let report = chaos::check(&broken);
    let checkers: Vec<&str> = report.anomalies.iter().map(|a| a.checker).collect();
    assert!(checkers.contains(&"linearizable"), "{checkers:?}");
    assert!(checkers.contains(&"lost-write"), "{checkers:?}");
    let lin = report
        .anomalies
        .iter()
        .find(|a| a.checker == "linearizable")
        .unwrap();
    assert!(lin.ops.len() <= 40, "report too large: {}", lin.ops.len());

    // Teeth 2: an acknowledged sequential create missing from the final listing.
    let mut broken = events.clone();
    let created = events
        .iter()
        .find(|e| e.kind == Kind::Ok && e.op == OpKind::CreateSeq)
        .and_then(|e| e.name.clone())
        .expect("a sequential create");
    let leaf = created.rsplit('/').next().unwrap().to_string();
    let list = broken
        .iter_mut()
        .rfind(|e| e.kind == Kind::Ok && e.op == OpKind::List && e.path == "/chaos/seq")
        .expect("final listing");
    list.children.as_mut().unwrap().retain(|c| *c != leaf);
    let report = chaos::check(&broken);
    assert!(
        report.anomalies.iter().any(|a| a.checker == "lost-write"),
        "{:?}",
        report.anomalies
    );
}

/// `--nemesis reconfig` for 30 s: voters removed and added back (the leader among them), the
/// observer made a voter and back, a voter replaced, with kills and partitions between and
/// during the changes; the history must show no anomaly.
#[test]
fn three_servers_reconfigured_under_faults_no_anomaly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let faults = [
        "\"Reconfig\": 3",
        "Kill",
        "PartitionHalves",
        "LeaderIsolated",
    ];
    let faults: Vec<String> = faults.iter().map(|f| f.to_string()).collect();
    checked_scenario(dir.path(), "3", "reconfig", &faults);
}
