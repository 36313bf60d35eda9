//! `dynamicConfigFile` on real processes: three servers whose zoo.cfg lists no `server.N`
//! line, only `dynamicConfigFile=zoo.cfg.dynamic.100000005`, form the ensemble that file
//! describes, and every one shows it in `/zookeeper/config` (and `conf`) with the version
//! the file's name gives, as ZooKeeper 3.8 does.

use std::path::Path;
use std::time::Duration;

use launch::{Ensemble, EnsembleSpec};
use server_core::config::dynamic_file::{dynamic_file_path, static_text_naming};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");
const VERSION: u64 = 0x1_0000_0005;

/// Moves the `server.N` lines of `cfg` into a dynamic file beside it and returns the file's
/// text (the lines, as written).
fn move_server_lines(cfg: &Path) -> String {
    let text = std::fs::read_to_string(cfg).expect("zoo.cfg");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("server.")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    let dynamic = dynamic_file_path(cfg, VERSION);
    std::fs::write(&dynamic, lines.join("\n")).expect("write the dynamic file");
    std::fs::write(cfg, static_text_naming(&text, &dynamic)).expect("rewrite zoo.cfg");
    lines.join("\n")
}

fn start() -> (Ensemble, String) {
    let ens = EnsembleSpec::new(3, QUORUM)
        .temp_prefix("quorum-dynamic-config-")
        .write()
        .expect("write the ensemble");
    let mut lines = String::new();
    for id in ens.ids() {
        lines = move_server_lines(&ens.config_path(id));
    }
    (ens, lines)
}

/// `server.N=host:peer:election` as ZooKeeper shows it: the role made explicit.
fn shown(line: &str) -> String {
    format!("{line}:participant")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_from_a_dynamic_file_serves_with_its_members() {
    let (mut ens, lines) = start();
    if let Err(e) = ens.launch(Duration::from_secs(60)) {
        panic!("{e}\n{}", ens.logs_tail(30));
    }
    let expected: Vec<String> = lines.lines().map(shown).collect();
    let expected = format!("{}\nversion={VERSION:x}", expected.join("\n"));
    for id in ens.ids() {
        let zk = client::connect(&ens.address(id), Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("connect to server {id}: {e}\n{}", ens.log(id)));
        let (data, stat) = zk
            .get_data("/zookeeper/config")
            .await
            .expect("read the config");
        assert_eq!(String::from_utf8_lossy(&data), expected, "server {id}");
        assert_eq!(
            (stat.mzxid, stat.version),
            (VERSION as i64, -1),
            "server {id}"
        );
        let conf = launch::probe::four_letter(ens.client_port(id), "conf", Duration::from_secs(2))
            .expect("conf");
        assert!(
            conf.ends_with(&format!("membership: \n{expected}")),
            "{conf}"
        );
    }
    let modes: Vec<_> = ens.ids().map(|id| ens.mode(id)).collect();
    assert!(
        modes.iter().any(|m| m.as_deref() == Some("leader")),
        "{modes:?}"
    );
}
