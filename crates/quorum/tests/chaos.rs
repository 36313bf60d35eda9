//! Issue 6: a short chaos scenario on a real 3-server ensemble (every kind of fault that fits in
//! 20 s) must show no anomaly, and the checker must report anomalies injected into the history
//! it recorded.

use chaos::history::{read_jsonl, Event, Kind, OpKind};
use std::process::Command;

fn run_scenario(dir: &std::path::Path) -> (std::process::Output, Vec<Event>) {
    let history = dir.join("history.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args([
            "chaos",
            "--time",
            "20",
            "--servers",
            "3",
            "--nemesis",
            "all",
            "--history",
        ])
        .arg(&history)
        .env("RUST_LOG", "error")
        .output()
        .expect("run quorum chaos");
    let file = std::fs::File::open(&history).expect("history written");
    let events = read_jsonl(std::io::BufReader::new(file)).expect("history parses");
    (out, events)
}

#[test]
fn short_scenario_has_no_anomaly_and_injected_ones_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let (out, events) = run_scenario(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quorum chaos failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("anomalies: 0"), "{stdout}");
    let report = chaos::check(&events);
    assert!(report.anomalies.is_empty());
    assert!(report.ok > 1000, "{stdout}");

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
