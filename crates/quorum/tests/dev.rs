//! `quorum dev` as scripts use it: on free ports, with a JSON description written once every
//! server serves, and stopped by SIGTERM with no server left behind; `--configure-only` writes
//! the folder (routing peer links through ports a harness proxies) and starts nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn alive(pid: u64) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn dev_describes_a_serving_ensemble_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let desc = dir.path().join("ensemble.json");
    let mut dev = Command::new(QUORUM)
        .args([
            "dev",
            "--servers",
            "3",
            "--free-ports",
            "--tick-time",
            "200",
        ])
        .arg("--dir")
        .arg(dir.path().join("ens"))
        .arg("--describe")
        .arg(&desc)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !desc.exists() {
        assert!(dev.try_wait().unwrap().is_none(), "quorum dev exited");
        assert!(Instant::now() < deadline, "no description within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let json = read_json(&desc);
    let servers = json["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3);
    let mut modes = Vec::new();
    let mut pids = Vec::new();
    for s in servers {
        let port = s["client_port"].as_u64().unwrap() as u16;
        modes.push(launch::probe::mode(port).unwrap_or_default());
        pids.push(s["pid"].as_u64().unwrap());
        let cfg = std::fs::read_to_string(s["config"].as_str().unwrap()).unwrap();
        assert!(cfg.contains("tickTime=200\n"), "{cfg}");
    }
    modes.sort();
    assert_eq!(modes, ["follower", "follower", "leader"]);
    assert!(json["connect"].as_str().unwrap().split(',').count() == 3);

    // SAFETY: SIGTERM to the child this test started.
    unsafe { libc::kill(dev.id() as libc::pid_t, libc::SIGTERM) };
    let status = dev.wait().unwrap();
    assert!(status.success(), "{status}");
    for pid in pids {
        assert!(!alive(pid), "server {pid} outlived quorum dev");
    }
}

#[test]
fn configure_only_writes_routed_configs_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let desc = dir.path().join("ensemble.json");
    let out = Command::new(QUORUM)
        .args(["dev", "--servers", "3", "--free-ports", "--configure-only"])
        .args(["--peers-via-proxies", "--set", "snapCount=100"])
        .arg("--dir")
        .arg(dir.path())
        .arg("--describe")
        .arg(&desc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json = read_json(&desc);
    let links = json["links"].as_array().unwrap();
    assert_eq!(links.len(), 6);
    for s in json["servers"].as_array().unwrap() {
        assert!(s["pid"].is_null());
        let id = s["id"].as_u64().unwrap();
        let cfg = std::fs::read_to_string(s["config"].as_str().unwrap()).unwrap();
        assert!(cfg.contains("snapCount=100\n"), "{cfg}");
        for l in links.iter().filter(|l| l["from"].as_u64() == Some(id)) {
            let to = l["to"].as_u64().unwrap();
            let port = l["port"].as_u64().unwrap();
            assert!(
                cfg.contains(&format!("server.{to}=127.0.0.1:{port}:")),
                "{cfg}"
            );
        }
    }
}
