//! The comparison's measuring subcommands against a real ensemble of server processes, as
//! scripts/bench-compare runs them: `quorum bench ready` waits for it; `quorum bench failover`
//! kills the leader under load and times the first write after; the killed server is started
//! again and `quorum bench ready` sees the ensemble whole; a follower is killed and restarted
//! and `quorum bench serving` times it until it serves; `quorum bench disk-usage` counts what a
//! fixed number of sets wrote to the logs.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

fn quorum(args: &[&str]) -> Output {
    let out = Command::new(QUORUM).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "quorum {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Three servers started through `launch`, as the other process tests start them.
fn ensemble() -> launch::Ensemble {
    let mut ens = launch::EnsembleSpec::new(3, QUORUM)
        .tick_ms(200)
        .temp_prefix("quorum-bench-probes-")
        .write()
        .expect("write ensemble");
    ens.launch(Duration::from_secs(60)).expect("ensemble up");
    ens
}

/// `quorum bench ready` on the whole ensemble.
fn ready(ens: &launch::Ensemble) {
    let servers = ens.connect_string();
    quorum(&[
        "bench",
        "ready",
        "--servers",
        &servers,
        "--timeout-secs",
        "60",
    ]);
}

fn pids(ens: &launch::Ensemble) -> String {
    let p: Vec<String> = ens
        .ids()
        .map(|id| ens.pid(id).unwrap().to_string())
        .collect();
    p.join(",")
}

fn a_follower(ens: &mut launch::Ensemble) -> usize {
    ens.ids()
        .find(|&id| ens.mode(id).as_deref() == Some("follower"))
        .unwrap()
}

/// Whether server `id`, killed by someone else, has exited (and been reaped) within 30 s.
fn gone(ens: &mut launch::Ensemble, id: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ens.running(id) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn failover_restart_and_disk_bytes_are_measured_on_real_processes() {
    let dir = tempfile::tempdir().unwrap();
    let mut ens = ensemble();
    ready(&ens);
    let servers = ens.connect_string();

    // Failover: the leader is SIGKILLed under load and a write sent after it succeeds.
    let json = dir.path().join("failover.json");
    quorum(&[
        "bench",
        "failover",
        "--servers",
        &servers,
        "--pids",
        &pids(&ens),
        "--warmup-secs",
        "0.5",
        "--load-secs",
        "5",
        "--kill-after-secs",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    let f = read_json(&json);
    let killed = f["killed"].as_u64().unwrap() as usize;
    assert!((1..=3).contains(&killed), "{f}");
    assert!(
        f["recovery_ms"].as_f64().is_some(),
        "no write after the kill: {f}"
    );
    assert!(gone(&mut ens, killed), "the leader was not killed: {f}");
    ens.start(killed).unwrap();
    ready(&ens);

    // Disk bytes: a fixed number of sets appends to the logs of all three servers.
    let dirs: Vec<String> = ens
        .describe()
        .servers
        .into_iter()
        .flat_map(|s| ["--dir".into(), s.data_dir])
        .collect();
    let dir_args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    let before = dir.path().join("before.json");
    let mut args = vec!["bench", "disk-usage", "--json", before.to_str().unwrap()];
    args.extend(&dir_args);
    quorum(&args);
    run_load(&ens, "set", "400", &["--clients", "4", "--inflight", "2"]);
    let after = dir.path().join("after.json");
    let mut args = vec!["bench", "disk-usage", "--json", after.to_str().unwrap()];
    args.extend(["--since", before.to_str().unwrap()]);
    args.extend(&dir_args);
    quorum(&args);
    let growth = read_json(&after)["growth"].clone();
    let log_bytes = growth["log_bytes"].as_u64().unwrap();
    // Each server logs each set (plus the load's setup): at least 3 × 400 records of 100 bytes.
    assert!(log_bytes > 3 * 400 * 100, "{growth}");
    assert!(log_bytes < 3 * 400 * 1000, "{growth}");

    // Restart: a follower is killed and started again; it serves a znode made before.
    let load = dir.path().join("load.json");
    run_load(&ens, "create", "20", &["--json", load.to_str().unwrap()]);
    let made = format!("{}/c0-0-1", read_json(&load)["parent"].as_str().unwrap());
    let follower = a_follower(&mut ens);
    ens.kill(follower);
    let started = bench::probe::unix_us().to_string();
    ens.start(follower).unwrap();
    let pid = ens.pid(follower).unwrap().to_string();
    let s = serving(
        &ens,
        follower,
        &pid,
        &made,
        &["--started-unix-us", &started],
        dir.path(),
    );
    let first = s["first_session_s"].as_f64().unwrap();
    let serving = s["serving_s"].as_f64().unwrap();
    assert!(first > 0.0 && first <= serving, "{s}");
    assert_eq!(s["exited"], false, "{s}");
}

/// `quorum bench run` of exactly `ops` requests against `ens`.
fn run_load(ens: &launch::Ensemble, workload: &str, ops: &str, extra: &[&str]) {
    let servers = ens.connect_string();
    let mut args = vec![
        "bench",
        "run",
        "--servers",
        &servers,
        "--workload",
        workload,
        "--ops",
        ops,
        "--duration-secs",
        "60",
    ];
    args.extend(extra);
    quorum(&args);
}

/// `quorum bench serving` on server `restarted` (from 1) of `ens`; its JSON.
fn serving(
    ens: &launch::Ensemble,
    restarted: usize,
    pid: &str,
    read_path: &str,
    extra: &[&str],
    dir: &Path,
) -> serde_json::Value {
    let json = dir.join("serving.json");
    let number = restarted.to_string();
    let servers = ens.connect_string();
    let mut args = vec![
        "bench",
        "serving",
        "--servers",
        &servers,
        "--restarted",
        &number,
        "--pid",
        pid,
        "--read-path",
        read_path,
        "--timeout-secs",
        "60",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend(extra);
    quorum(&args);
    read_json(&json)
}

/// Each thread of process `pid`: its name and nice value (field 19 of its stat line); the
/// main thread's (whose id is the process's) first.
fn thread_nices(pid: u32) -> Vec<(String, i32)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    let mut threads: Vec<(bool, String, i32)> = tasks
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("stat")).ok())
        .map(|stat| {
            let open = stat.find('(').unwrap();
            let close = stat.rfind(')').unwrap();
            let nice = stat[close + 2..]
                .split(' ')
                .nth(16)
                .unwrap()
                .parse()
                .unwrap();
            let main = stat[..open].trim() == pid.to_string();
            (!main, stat[open + 1..close].to_string(), nice)
        })
        .collect();
    threads.sort();
    threads
        .into_iter()
        .map(|(_, name, nice)| (name, nice))
        .collect()
}

/// A restarted server that dies is reported as exited, not waited on until the timeout. And
/// the servers run with transparent huge pages off (`huge_pages.rs`), where the kernel says,
/// and their snapshot writer at the lowest CPU priority (`background_priority.rs`).
#[test]
fn serving_gives_up_when_the_process_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut ens = ensemble();
    ready(&ens);
    for pid in ens.ids().map(|id| ens.pid(id).unwrap()) {
        let threads = thread_nices(pid);
        let nice_of = |name: &str| threads.iter().find(|(n, _)| n == name).map(|t| t.1);
        let process = threads[0].1;
        let lowered = (process + 19).min(19);
        assert_eq!(
            nice_of("snapshot-writer"),
            Some(lowered),
            "{pid}: {threads:?}"
        );
        for name in ["peer-snapshots", "log-writer"] {
            assert_eq!(nice_of(name), Some(process), "{pid}, {name}: {threads:?}");
        }
    }
    // Unless the environment asks for them (it is passed on to the servers).
    let asked = std::env::var_os("MIMALLOC_ALLOW_THP").is_some();
    for pid in ens.ids().map(|id| ens.pid(id).unwrap()).filter(|_| !asked) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert_eq!(
                line.split_whitespace().nth(1),
                Some("0"),
                "server {pid}: {line}"
            );
        }
    }
    let follower = a_follower(&mut ens);
    let t0 = Instant::now();
    let s = serving(&ens, follower, "2147483000", "/", &[], dir.path());
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(s["exited"], true, "{s}");
    assert!(s["serving_s"].is_null(), "{s}");
}
