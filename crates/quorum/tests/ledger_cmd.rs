//! Issue 15 on real processes: a Quorum server, four `quorum bookie` processes and the
//! `quorum ledger` command. Writes are read back whole; a recovery fences a live writer, which
//! stops with FENCED while nothing it had acknowledged is lost; a killed bookie is replaced by
//! an ensemble change; a ledger has exactly one writer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

/// A Quorum server and bookies 1…n, killed on drop.
struct Setup {
    _ens: launch::Ensemble,
    connect: String,
    bookies: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn start(bookies: usize) -> Setup {
        let mut ens = launch::EnsembleSpec::new(1, QUORUM)
            .temp_prefix("quorum-ledger-")
            .write()
            .expect("write server");
        ens.launch(Duration::from_secs(30)).expect("server up");
        let connect = ens.connect_string();
        let dir = tempfile::tempdir().expect("tempdir");
        let children = (1..=bookies)
            .map(|id| Some(start_bookie(id, dir.path(), &connect)))
            .collect();
        let setup = Setup {
            _ens: ens,
            connect,
            bookies: children,
            _dir: dir,
        };
        setup.wait_registered(bookies);
        setup
    }

    fn wait_registered(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.ledger(&["bookies"]);
            if out.status.success() && text(&out.stdout).lines().count() >= count {
                return;
            }
            assert!(Instant::now() < deadline, "bookies did not register");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn ledger(&self, args: &[&str]) -> Output {
        Command::new(QUORUM)
            .args([
                "ledger",
                "--quorum",
                &self.connect,
                "--request-timeout-ms",
                "1000",
            ])
            .args(args)
            .output()
            .expect("quorum ledger")
    }

    fn spawn_writer(&self, id: &str) -> Child {
        Command::new(QUORUM)
            .args([
                "ledger",
                "--quorum",
                &self.connect,
                "--request-timeout-ms",
                "1000",
                "write",
                id,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn writer")
    }

    fn create(&self, e: usize, w: usize, a: usize) -> String {
        let out = self.ledger(&[
            "create",
            "--ensemble",
            &e.to_string(),
            "--write-quorum",
            &w.to_string(),
            "--ack-quorum",
            &a.to_string(),
        ]);
        assert!(out.status.success(), "create: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    fn read_all(&self, id: &str) -> Vec<String> {
        let out = self.ledger(&["read", id]);
        assert!(out.status.success(), "read: {}", text(&out.stderr));
        text(&out.stdout).lines().map(str::to_string).collect()
    }

    fn describe(&self, id: &str) -> String {
        let out = self.ledger(&["describe", id]);
        assert!(out.status.success(), "describe: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        for child in self.bookies.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_bookie(id: usize, dir: &Path, connect: &str) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let data: PathBuf = dir.join(format!("bookie{id}"));
    Command::new(QUORUM)
        .args(["bookie", "--id", &id.to_string(), "--quorum", connect])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--data")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn bookie")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The number in the writer's "N entries acknowledged" line.
fn acknowledged(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| l.split_once(" entries acknowledged").map(|(head, _)| head))
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no acknowledgement count in {stderr}"))
}

#[test]
fn entries_written_are_read_back_and_a_closed_ledger_takes_no_more() {
    let setup = Setup::start(3);
    let id = setup.create(3, 2, 2);
    let mut writer = setup.spawn_writer(&id);
    let lines: Vec<String> = (0..500)
        .map(|i| format!("entry {i} {}", "x".repeat(i % 50)))
        .collect();
    writer
        .stdin
        .take()
        .unwrap()
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(acknowledged(&text(&out.stderr)), 500);
    assert_eq!(setup.read_all(&id), lines);
    let partial = setup.ledger(&["read", &id, "--from", "10", "--to", "12"]);
    assert_eq!(
        text(&partial.stdout).lines().collect::<Vec<_>>(),
        lines[10..=12].to_vec()
    );
    let described = setup.describe(&id);
    assert!(
        described.contains("CLOSED") && described.contains("last entry   499"),
        "{described}"
    );
    // Closed: a second writer is refused, and recovery has nothing to change.
    let again = setup.ledger(&["write", &id]);
    assert!(!again.status.success());
    let recovered = setup.ledger(&["recover", &id]);
    assert_eq!(text(&recovered.stdout).trim(), "499");
}

#[test]
fn a_recovery_fences_a_live_writer_and_keeps_everything_it_acknowledged() {
    let setup = Setup::start(3);
    let id = setup.create(3, 3, 2);
    let mut writer = setup.spawn_writer(&id);
    let mut stdin = writer.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..400 {
            if stdin.write_all(format!("e{i}\n").as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    let recovered = setup.ledger(&["recover", &id]);
    assert!(recovered.status.success(), "{}", text(&recovered.stderr));
    let last: usize = text(&recovered.stdout)
        .trim()
        .parse()
        .expect("a last entry");
    let out = writer.wait_with_output().unwrap();
    feeder.join().unwrap();
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "the fenced writer must fail: {stderr}"
    );
    assert!(
        stderr.contains("fenced") || stderr.contains("no longer open"),
        "{stderr}"
    );
    let acked = acknowledged(&stderr);
    assert!(
        acked > 0 && acked <= last + 1,
        "acknowledged {acked}, recovered up to {last}"
    );
    let entries = setup.read_all(&id);
    assert_eq!(entries.len(), last + 1);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry, &format!("e{i}"));
    }
}

#[test]
fn a_killed_bookie_is_replaced_and_the_ledger_stays_whole() {
    let mut setup = Setup::start(4);
    // Qw = Qa: two of every three entries need the victim, so the writer must replace it.
    let id = setup.create(3, 2, 2);
    let ensemble: Vec<usize> = setup
        .describe(&id)
        .lines()
        .find_map(|l| l.split_once("bookies ").map(|(_, b)| b.to_string()))
        .expect("a fragment line")
        .split(',')
        .map(|b| b.trim().parse().unwrap())
        .collect();
    let mut writer = setup.spawn_writer(&id);
    let mut stdin = writer.stdin.take().unwrap();
    for i in 0..100 {
        stdin.write_all(format!("e{i}\n").as_bytes()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let victim = ensemble[0];
    let mut child = setup.bookies[victim - 1].take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    for i in 100..200 {
        stdin.write_all(format!("e{i}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(acknowledged(&text(&out.stderr)), 200);
    let entries = setup.read_all(&id);
    assert_eq!(
        entries,
        (0..200).map(|i| format!("e{i}")).collect::<Vec<_>>()
    );
    // The victim is out of the ensemble (in a new fragment, or in place of the first one if
    // the writer replaced it before any entry was acknowledged).
    let described = setup.describe(&id);
    let last_fragment = described
        .lines()
        .rev()
        .find_map(|l| l.split_once("bookies ").map(|(_, b)| b.to_string()))
        .expect("a fragment line");
    assert!(
        !last_fragment
            .split(',')
            .any(|b| b.trim() == victim.to_string()),
        "killed bookie {victim} of {ensemble:?} still in the ensemble: {described}"
    );
}

#[test]
fn an_entry_over_the_limit_is_refused_alone_and_the_writer_exits_non_zero() {
    let setup = Setup::start(3);
    let id = setup.create(3, 2, 2);
    let mut writer = setup.spawn_writer(&id);
    let mut stdin = writer.stdin.take().unwrap();
    let huge = "x".repeat(9 << 20);
    stdin
        .write_all(format!("small\n{huge}\nafter\n").as_bytes())
        .unwrap();
    drop(stdin);
    let out = writer.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("over the limit"), "{stderr}");
    assert_eq!(acknowledged(&stderr), 2);
    assert_eq!(
        setup.read_all(&id),
        vec!["small".to_string(), "after".to_string()]
    );
}

#[test]
fn a_ledger_has_one_writer() {
    let setup = Setup::start(3);
    let id = setup.create(3, 2, 2);
    let mut first = setup.spawn_writer(&id);
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let second = setup.ledger(&["write", &id]);
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("already claimed"),
        "{}",
        text(&second.stderr)
    );
    drop(stdin);
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(setup.read_all(&id), vec!["first".to_string()]);
}

#[test]
fn a_second_writer_of_a_log_of_ledgers_makes_the_first_fail_and_the_log_stays_one_sequence() {
    let setup = Setup::start(3);
    let log_writer = |name: &str| {
        Command::new(QUORUM)
            .args([
                "ledger",
                "--quorum",
                &setup.connect,
                "--request-timeout-ms",
                "1000",
            ])
            .args(["log-write", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn log writer")
    };
    let mut first = log_writer("orders");
    let mut stdin = first.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..300 {
            if stdin.write_all(format!("first {i}\n").as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = log_writer("orders");
    second
        .stdin
        .take()
        .unwrap()
        .write_all(b"second 0\nsecond 1\nsecond 2\n")
        .unwrap();
    let second = second.wait_with_output().unwrap();
    assert!(second.status.success(), "{}", text(&second.stderr));
    let first = first.wait_with_output().unwrap();
    feeder.join().unwrap();
    let first_err = text(&first.stderr);
    assert!(
        !first.status.success(),
        "the first writer must fail: {first_err}"
    );
    assert!(first_err.contains("fenced"), "{first_err}");
    let acked = acknowledged(&first_err);
    let out = setup.ledger(&["log-read", "orders"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entries: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    let firsts = entries
        .iter()
        .take_while(|e| e.starts_with("first "))
        .count();
    assert!(
        firsts >= acked,
        "{acked} acknowledged to the first writer, {firsts} in the log"
    );
    for (i, entry) in entries[..firsts].iter().enumerate() {
        assert_eq!(entry, &format!("first {i}"));
    }
    assert_eq!(entries[firsts..], ["second 0", "second 1", "second 2"]);
}
