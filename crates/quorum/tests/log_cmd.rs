//! Issue 14 on real processes through the `quorum log` command: one Quorum server and three
//! `quorum broker` processes. Every record produced with acks=all reads back once, in order, per
//! partition; a partition leader killed in the middle of a produce is replaced and the produce
//! still acknowledges every record exactly once; describe shows the dead broker unreachable; a
//! topic needs as many live brokers as replicas.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

struct Setup {
    _ens: launch::Ensemble,
    connect: String,
    brokers: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn start() -> Setup {
        let mut ens = launch::EnsembleSpec::new(1, QUORUM)
            .temp_prefix("quorum-log-")
            .write()
            .expect("write server");
        ens.launch(Duration::from_secs(30)).expect("server up");
        let connect = ens.connect_string();
        let dir = tempfile::tempdir().unwrap();
        let brokers = (1..=3)
            .map(|id| Some(start_broker(id, dir.path(), &connect)))
            .collect();
        Setup {
            _ens: ens,
            connect,
            brokers,
            _dir: dir,
        }
    }

    fn log(&self, args: &[&str]) -> Output {
        self.log_with_input(args, "")
    }

    fn log_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.spawn(args);
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(QUORUM)
            .args([
                "log",
                "--quorum",
                &self.connect,
                "--request-timeout-ms",
                "2000",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("quorum log")
    }

    /// Creates a topic once every broker is registered.
    fn create_topic(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.log(&[
                "create-topic",
                name,
                "--partitions",
                "3",
                "--replicas",
                "3",
                "--min-insync",
                "2",
            ]);
            if out.status.success() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "create-topic: {}",
                text(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Each partition's records, in offset order.
    fn consume_all(&self, topic: &str) -> BTreeMap<u32, Vec<String>> {
        (0..3)
            .map(|p| {
                let out = self.log(&["consume", topic, "--partition", &p.to_string()]);
                assert!(out.status.success(), "consume: {}", text(&out.stderr));
                (p, text(&out.stdout).lines().map(str::to_string).collect())
            })
            .collect()
    }

    fn leader_of(&self, topic: &str, partition: u32) -> u32 {
        let out = self.log(&["describe", topic]);
        let table = text(&out.stdout);
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&partition.to_string()))
            .unwrap_or_else(|| panic!("no row for partition {partition} in\n{table}"));
        row.split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .expect("a leader")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        for b in self.brokers.iter_mut().flatten() {
            let _ = b.kill();
            let _ = b.wait();
        }
    }
}

fn start_broker(id: u32, dir: &Path, connect: &str) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join(format!("broker{id}.log"))).unwrap();
    Command::new(QUORUM)
        .args([
            "broker",
            "--id",
            &id.to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--quorum",
            connect,
            "--replica-lag-time-max-ms",
            "2000",
            "--session-timeout-ms",
            "4000",
        ])
        .arg("--data")
        .arg(dir.join(format!("broker{id}")))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start broker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every record of `lines` appears exactly once over the partitions, each partition keeping
/// the order in which the records were produced.
fn assert_exactly_once_in_order(parts: &BTreeMap<u32, Vec<String>>, lines: &[String]) {
    let position: BTreeMap<&str, usize> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut seen = BTreeMap::new();
    for (p, records) in parts {
        let mut last = None;
        for r in records {
            let Some(&i) = position.get(r.as_str()) else {
                continue;
            };
            assert!(seen.insert(r.clone(), *p).is_none(), "{r} appears twice");
            assert!(
                last.is_none_or(|l| l < i),
                "partition {p} out of order at {r}"
            );
            last = Some(i);
        }
    }
    assert_eq!(seen.len(), lines.len(), "records missing");
}

#[test]
fn produce_consume_and_a_leader_killed_mid_produce() {
    let mut s = Setup::start();
    s.create_topic("orders");
    let lines: Vec<String> = (0..600).map(|i| format!("order-{i}")).collect();
    let out = s.log_with_input(&["produce", "orders"], &(lines.join("\n") + "\n"));
    assert!(out.status.success(), "produce: {}", text(&out.stderr));
    assert_exactly_once_in_order(&s.consume_all("orders"), &lines);

    // A second produce, fed slowly; the leader of partition 0 is killed half way.
    let more: Vec<String> = (0..400).map(|i| format!("late-{i}")).collect();
    let mut producer = s.spawn(&["produce", "orders"]);
    let mut stdin = producer.stdin.take().unwrap();
    let victim = s.leader_of("orders", 0);
    for (i, line) in more.iter().enumerate() {
        writeln!(stdin, "{line}").unwrap();
        if i == 200 {
            let mut child = s.brokers[victim as usize - 1].take().unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
        }
        if i % 20 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop(stdin);
    let out = producer.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "produce through a failover: {}",
        text(&out.stderr)
    );
    let parts = s.consume_all("orders");
    assert_exactly_once_in_order(&parts, &more);
    assert_exactly_once_in_order(&parts, &lines);
    assert_ne!(s.leader_of("orders", 0), victim);

    let described = text(&s.log(&["describe", "orders"]).stdout);
    assert!(described.contains("unreachable"), "{described}");
    // Two live brokers cannot hold a topic of three replicas.
    let out = s.log(&[
        "create-topic",
        "more",
        "--partitions",
        "1",
        "--replicas",
        "3",
    ]);
    assert!(!out.status.success());
}
