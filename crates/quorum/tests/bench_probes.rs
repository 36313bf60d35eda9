//! The comparison's measuring subcommands against a real ensemble of server processes, as
//! scripts/bench-compare runs them: `quorum bench ready` waits for it; `quorum bench failover`
//! kills the leader under load and times the first write after; the killed server is started
//! again and `quorum bench ready` sees the ensemble whole; a follower is killed and restarted
//! and `quorum bench serving` times it until it serves; `quorum bench disk-usage` counts what a
//! fixed number of sets wrote to the logs.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

struct Ensemble {
    dev: Child,
    servers: String,
    ports: Vec<u16>,
    pids: Vec<u32>,
    configs: Vec<String>,
    data_dirs: Vec<String>,
    restarted: Vec<Child>,
}

impl Ensemble {
    fn start(dir: &Path) -> Ensemble {
        let desc = dir.join("ensemble.json");
        let dev = Command::new(QUORUM)
            .args([
                "dev",
                "--servers",
                "3",
                "--free-ports",
                "--tick-time",
                "200",
            ])
            .arg("--dir")
            .arg(dir.join("ens"))
            .arg("--describe")
            .arg(&desc)
            .env_remove("MIMALLOC_ALLOW_THP")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !desc.exists() {
            assert!(Instant::now() < deadline, "no description within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let json = read_json(&desc);
        let servers = json["servers"].as_array().unwrap();
        let field = |k: &str| -> Vec<String> {
            servers
                .iter()
                .map(|s| s[k].as_str().unwrap().to_string())
                .collect()
        };
        let ports: Vec<u16> = servers
            .iter()
            .map(|s| s["client_port"].as_u64().unwrap() as u16)
            .collect();
        Ensemble {
            dev,
            servers: json["connect"].as_str().unwrap().to_string(),
            pids: servers
                .iter()
                .map(|s| s["pid"].as_u64().unwrap() as u32)
                .collect(),
            ports,
            configs: field("config"),
            data_dirs: field("data_dir"),
            restarted: Vec::new(),
        }
    }

    fn pids(&self) -> String {
        let p: Vec<String> = self.pids.iter().map(u32::to_string).collect();
        p.join(",")
    }

    /// SIGKILLs server `i` (from 0) and waits until it is gone: reaped by this test when the
    /// test started it, else by `quorum dev`.
    fn kill(&mut self, i: usize) {
        let pid = self.pids[i];
        if let Some(child) = self.restarted.iter_mut().find(|c| c.id() == pid) {
            child.kill().unwrap();
            child.wait().unwrap();
            return;
        }
        // SAFETY: SIGKILL to a server process of this test's `quorum dev`.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        assert!(gone(pid), "server {} outlived SIGKILL", i + 1);
    }

    /// Starts server `i` (from 0) again from its folder, as bench-compare does.
    fn relaunch(&mut self, i: usize) {
        let child = Command::new(QUORUM)
            .args(["server", "--config", &self.configs[i]])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.pids[i] = child.id();
        self.restarted.push(child);
    }

    fn ready(&self) {
        quorum(&[
            "bench",
            "ready",
            "--servers",
            &self.servers,
            "--timeout-secs",
            "60",
        ]);
    }

    fn mode(&self, i: usize) -> String {
        launch::probe::mode(self.ports[i]).unwrap_or_default()
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for c in &mut self.restarted {
            let _ = c.kill();
            let _ = c.wait();
        }
        // SAFETY: SIGTERM to the `quorum dev` this test started; it stops its servers.
        unsafe { libc::kill(self.dev.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.dev.wait();
    }
}

fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Path::new(&format!("/proc/{pid}")).exists() {
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
    let mut ens = Ensemble::start(dir.path());
    ens.ready();

    // Failover: the leader is SIGKILLed under load and a write sent after it succeeds.
    let json = dir.path().join("failover.json");
    quorum(&[
        "bench",
        "failover",
        "--servers",
        &ens.servers,
        "--pids",
        &ens.pids(),
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
    assert!(gone(ens.pids[killed - 1]), "the leader was not killed: {f}");
    ens.relaunch(killed - 1);
    ens.ready();

    // Disk bytes: a fixed number of sets appends to the logs of all three servers.
    let dirs: Vec<String> = ens
        .data_dirs
        .iter()
        .flat_map(|d| ["--dir".into(), d.clone()])
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
    let follower = (0..3).find(|&i| ens.mode(i) == "follower").unwrap();
    ens.kill(follower);
    let started = bench::probe::unix_us().to_string();
    ens.relaunch(follower);
    let pid = ens.pids[follower].to_string();
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
fn run_load(ens: &Ensemble, workload: &str, ops: &str, extra: &[&str]) {
    let mut args = vec![
        "bench",
        "run",
        "--servers",
        &ens.servers,
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

/// `quorum bench serving` on server `restarted` (from 0) of `ens`; its JSON.
fn serving(
    ens: &Ensemble,
    restarted: usize,
    pid: &str,
    read_path: &str,
    extra: &[&str],
    dir: &Path,
) -> serde_json::Value {
    let json = dir.join("serving.json");
    let number = (restarted + 1).to_string();
    let mut args = vec![
        "bench",
        "serving",
        "--servers",
        &ens.servers,
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

/// A restarted server that dies is reported as exited, not waited on until the timeout. And
/// the servers run with transparent huge pages off (`huge_pages.rs`), where the kernel says.
#[test]
fn serving_gives_up_when_the_process_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let ens = Ensemble::start(dir.path());
    ens.ready();
    for pid in &ens.pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert_eq!(
                line.split_whitespace().nth(1),
                Some("0"),
                "server {pid}: {line}"
            );
        }
    }
    let follower = (0..3).find(|&i| ens.mode(i) == "follower").unwrap();
    let t0 = Instant::now();
    let s = serving(&ens, follower, "2147483000", "/", &[], dir.path());
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(s["exited"], true, "{s}");
    assert!(s["serving_s"].is_null(), "{s}");
}
