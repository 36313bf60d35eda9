//! Issue 13: consensus through the service. Separate `quorum consensus propose` processes race
//! on one decision znode of a real 3-server ensemble while servers are killed and restarted;
//! every one of them must print the same decided value, one of the proposals. And `quorum
//! consensus search` must break every put/get/delete protocol and none of the CAS ones.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

fn proposer(servers: &str, path: &str, value: &str, hold_ms: u64) -> Child {
    Command::new(QUORUM)
        .args(["consensus", "propose", "--servers", servers])
        .args(["--hold-ms", &hold_ms.to_string()])
        .args(["--path", path, "--value", value, "--timeout", "45"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quorum consensus propose")
}

/// Waits for a proposer: its decided value (the last line of its stdout) and how many requests
/// it retried (from the line before).
fn decided(name: &str, child: Child) -> (String, u32) {
    let out = child.wait_with_output().expect("wait for proposer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let value = lines.last().copied().unwrap_or_default().to_string();
    let retries = lines
        .iter()
        .rev()
        .nth(1)
        .and_then(|l| {
            l.rsplit_once('(')?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if line.contains("retrying") || line.contains("connect:") {
            eprintln!("  {name}: {line}");
        }
    }
    if stdout.contains("read back after NodeExists") {
        eprintln!("  {name}: its create won but the reply was lost; it read its value back");
    }
    (value, retries)
}

/// How a round's fault hits the wave of proposers.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGSTOP the leader while creates arrive (followers forward them to the frozen leader),
    /// then SIGKILL it: requests in flight are lost, some possibly committed by the next leader
    /// after their replies are gone.
    FreezeThenKillLeader,
    /// SIGKILL the leader.
    KillLeader,
    /// SIGKILL a follower.
    KillFollower,
}

/// Each round races a wave of proposers on a fresh path with a fault that hits while their
/// creates are in flight; the victim is restarted. Every proposer of a round, and a late learner
/// after it, must print the same value, one of the round's proposals.
#[test]
fn proposers_agree_while_servers_are_killed_and_restarted() {
    let started = Instant::now();
    let mut ens = launch::EnsembleSpec::new(3, QUORUM)
        .temp_prefix("quorum-consensus-")
        .write()
        .expect("write ensemble");
    ens.launch(Duration::from_secs(30)).expect("ensemble up");
    let servers = ens.connect_string();
    let (mut proposers, mut kills, mut retries) = (0, 0, 0);
    let rounds = [
        Fault::FreezeThenKillLeader,
        Fault::KillLeader,
        Fault::KillFollower,
        Fault::FreezeThenKillLeader,
    ];
    for (round, &fault) in rounds.iter().enumerate() {
        let path = format!("/consensus/round{round}");
        let leader = ens
            .wait_for_leader(Duration::from_secs(30))
            .expect("leader");
        let victim = match fault {
            Fault::KillFollower => ens.ids().find(|&id| id != leader).unwrap(),
            _ => leader,
        };
        let proposals: Vec<String> = (0..5).map(|i| format!("r{round}-value-{i}")).collect();
        // Proposer i connects at once and sends its first create at about 700 + 200·i ms: all
        // of them after the fault began (at 650 ms), so the decision itself is made through it.
        let children: Vec<(String, Child)> = proposals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    v.clone(),
                    proposer(&servers, &path, v, 700 + 200 * i as u64),
                )
            })
            .collect();
        std::thread::sleep(Duration::from_millis(650));
        if let Fault::FreezeThenKillLeader = fault {
            ens.pause(victim);
            std::thread::sleep(Duration::from_millis(600));
        }
        ens.kill(victim);
        kills += 1;
        std::thread::sleep(Duration::from_millis(1000));
        ens.start(victim).expect("restart");
        let decisions: Vec<(String, (String, u32))> = children
            .into_iter()
            .map(|(value, child)| {
                let d = decided(&value, child);
                (value, d)
            })
            .collect();
        ens.wait_ready(Duration::from_secs(30))
            .expect("ensemble healed");
        let (late, _) = decided("late", proposer(&servers, &path, "late-value", 0));
        let first = &decisions[0].1 .0;
        for (value, (d, _)) in &decisions {
            assert_eq!(
                d, first,
                "round {round}: {value} learned {d}: {decisions:?}"
            );
        }
        assert_eq!(&late, first, "round {round}: the late learner");
        assert!(proposals.contains(first), "{first} was never proposed");
        proposers += decisions.len();
        retries += decisions.iter().map(|(_, (_, r))| r).sum::<u32>();
        eprintln!("round {round} ({fault:?}): decided {first}, {decisions:?}");
    }
    eprintln!(
        "{proposers} proposers in {} rounds agreed through {kills} kills ({retries} retried \
         requests) in {:?}",
        rounds.len(),
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

/// A loopback proxy to `upstream` that, the first time a client sends a create of `path`,
/// forwards it and then cuts the connection without passing on the reply: the create is applied
/// and its reply lost. Later connections pass everything. Returns the proxy's port.
fn reply_losing_proxy(upstream: String, path: &str) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fired = Arc::new(AtomicBool::new(false));
    let path = path.as_bytes().to_vec();
    let fired_here = fired.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let cut = Arc::new(AtomicBool::new(false));
            // Server to client, until the cut.
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            let cut_here = cut.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match from_server.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) if !cut_here.load(SeqCst) => {
                            if to_client.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                        Ok(_) => return,
                    }
                }
            });
            // Client to server, frame by frame (4-byte length, then the frame).
            let (path, fired) = (path.clone(), fired_here.clone());
            std::thread::spawn(move || {
                let mut first = true;
                loop {
                    let mut len = [0u8; 4];
                    if client.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
                    if client.read_exact(&mut frame).is_err() {
                        return;
                    }
                    // After the connect request: xid, opcode (create, create2, createTTL), path.
                    let target = !first
                        && frame.len() >= 12 + path.len()
                        && [1i32, 15, 21]
                            .iter()
                            .any(|op| frame[4..8] == op.to_be_bytes())
                        && frame[8..12] == (path.len() as i32).to_be_bytes()
                        && frame[12..12 + path.len()] == path[..];
                    first = false;
                    if target && !fired.swap(true, SeqCst) {
                        cut.store(true, SeqCst);
                        let _ = server.write_all(&len);
                        let _ = server.write_all(&frame);
                        std::thread::sleep(Duration::from_millis(500));
                        let _ = client.shutdown(std::net::Shutdown::Both);
                        let _ = server.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    if server.write_all(&len).is_err() || server.write_all(&frame).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, fired)
}

/// The case the retry rule exists for: our create is applied, its reply is lost, the retry gets
/// NodeExists. The proposer must read the node, find its own value and report it decided.
#[test]
fn a_create_whose_reply_is_lost_is_resolved_by_reading_it_back() {
    let mut ens = launch::EnsembleSpec::new(1, QUORUM)
        .temp_prefix("quorum-consensus-lost-")
        .write()
        .expect("write server");
    ens.launch(Duration::from_secs(30)).expect("server up");
    let path = "/consensus/lost-reply";
    let (port, fired) = reply_losing_proxy(ens.address(1), path);
    let child = proposer(&format!("127.0.0.1:{port}"), path, "mine", 0);
    let out = child.wait_with_output().expect("wait for proposer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(fired.load(SeqCst), "the proxy never saw the create");
    assert_eq!(stdout.lines().last(), Some("mine"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("read back after NodeExists"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("retrying"), "{stderr}");
    // Another proposer, directly: it loses and learns the same value.
    let (other, _) = decided("other", proposer(&ens.address(1), path, "theirs", 0));
    assert_eq!(other, "mine");
}
