//! Issue 13: consensus through the service. Separate `quorum consensus propose` processes race
//! on one decision znode of a real 3-server ensemble while servers are killed and restarted;
//! every one of them must print the same decided value, one of the proposals. And `quorum
//! consensus search` must break every put/get/delete protocol and none of the CAS ones.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

fn proposer(servers: &str, path: &str, value: &str) -> Child {
    Command::new(QUORUM)
        .args(["consensus", "propose", "--servers", servers])
        .args(["--path", path, "--value", value, "--timeout", "45"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quorum consensus propose")
}

/// Waits for a proposer; its decided value (the last line of its stdout).
fn decided(name: &str, child: Child) -> String {
    let out = child.wait_with_output().expect("wait for proposer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_string()
}

#[test]
fn proposers_agree_while_servers_are_killed_and_restarted() {
    let started = Instant::now();
    let mut ens = launch::EnsembleSpec::new(3, QUORUM)
        .temp_prefix("quorum-consensus-")
        .write()
        .expect("write ensemble");
    ens.launch(Duration::from_secs(30)).expect("ensemble up");
    let servers = ens.connect_string();
    let path = "/consensus/issue13";

    let mut proposals = Vec::new();
    let mut children = Vec::new();
    let mut spawn = |children: &mut Vec<(String, Child)>, k: usize| {
        for _ in 0..k {
            let value = format!("value-{}", proposals.len());
            children.push((value.clone(), proposer(&servers, path, &value)));
            proposals.push(value);
        }
    };

    // A first wave races with the leader's death.
    spawn(&mut children, 4);
    let leader = ens
        .wait_for_leader(Duration::from_secs(20))
        .expect("leader");
    ens.kill(leader);
    spawn(&mut children, 4);
    std::thread::sleep(Duration::from_millis(1500));
    ens.start(leader).expect("restart");
    let leader = ens
        .wait_for_leader(Duration::from_secs(30))
        .expect("new leader");

    // A second wave races with the next leader's death, and a follower's.
    spawn(&mut children, 3);
    ens.kill(leader);
    let follower = ens.ids().find(|&id| id != leader).unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    ens.start(leader).expect("restart");
    ens.wait_for_leader(Duration::from_secs(30))
        .expect("leader again");
    spawn(&mut children, 3);
    ens.kill(follower);
    std::thread::sleep(Duration::from_millis(500));
    ens.start(follower).expect("restart follower");

    let decisions: Vec<(String, String)> = children
        .into_iter()
        .map(|(value, child)| {
            let d = decided(&value, child);
            (value, d)
        })
        .collect();
    // A late learner, after all the faults, reads the same value.
    ens.wait_ready(Duration::from_secs(30))
        .expect("ensemble healed");
    let late = decided("late", proposer(&servers, path, "late-value"));

    let first = &decisions[0].1;
    for (value, d) in &decisions {
        assert_eq!(
            d, first,
            "{value} learned {d}, others {first}: {decisions:?}"
        );
    }
    assert_eq!(&late, first);
    assert!(proposals.contains(first), "{first} was never proposed");
    assert!(decisions.len() >= 5);
    eprintln!(
        "{} proposers and a late learner agreed on {first} through 3 kills in {:?}",
        decisions.len(),
        started.elapsed()
    );
}

fn search(object: &str, processes: &str) -> String {
    let out = Command::new(QUORUM)
        .args(["consensus", "search", "--object", object])
        .args(["--processes", processes])
        .output()
        .expect("run quorum consensus search");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn search_breaks_every_kv_protocol_and_no_cas_protocol() {
    for n in ["2", "3"] {
        let kv = search("kv", n);
        assert!(
            kv.contains("10 of 10 put/get/delete protocols broken"),
            "{kv}"
        );
        assert!(kv.contains("P1 decides 2"), "{kv}");
        let cas = search("cas", n);
        assert!(
            cas.contains("0 of 2 conditional-write protocols broken"),
            "{cas}"
        );
        assert_eq!(cas.matches("no schedule breaks").count(), 2, "{cas}");
    }
}
