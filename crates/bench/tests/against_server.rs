//! Short runs of every workload against a standalone Quorum server started in this process
//! (on a free loopback port, with a temporary dataDir): every reply must verify, and the report
//! must add up.

use std::time::{Duration, Instant};

use bench::{Config, Workload};

async fn start_server() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let config = server::config::Config::parse(&format!(
        "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
        data.display()
    ))
    .unwrap();
    tokio::spawn(server::run(config));
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while bench::Conn::connect(&addr, 4000, None).await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (dir, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_runs_clean_against_a_quorum_server() {
    let (_dir, addr) = start_server().await;
    for workload in Workload::ALL {
        let mut config = Config::new(vec![addr.clone()], workload);
        config.clients = 3;
        config.inflight = 2;
        config.value_size = 37;
        config.warmup = Duration::from_millis(200);
        config.duration = Duration::from_millis(600);
        let report = bench::run(config).await.unwrap();
        assert_eq!(report.errors, 0, "{}", report.table());
        assert!(report.ops > 10, "{}", report.table());
        let l = &report.latency_ms;
        assert!(l.p50 > 0.0 && l.p50 <= l.p90 && l.p90 <= l.p99, "{l:?}");
        assert!(l.p99 <= l.p999 && l.p999 <= l.max, "{l:?}");
        assert!((report.throughput - report.ops as f64 / 0.6).abs() < 1e-6);
        assert!(report.max_gap_ms > 0.0 && report.max_gap_ms < 600.0);
    }
}

#[tokio::test]
async fn no_server_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Config::new(vec![format!("127.0.0.1:{port}")], Workload::Get);
    assert!(bench::run(config).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_number_of_operations_with_a_timeline() {
    let (_dir, addr) = start_server().await;
    for workload in [Workload::Create, Workload::Set] {
        let mut config = Config::new(vec![addr.clone()], workload);
        config.clients = 2;
        config.inflight = 3;
        config.max_ops = Some(200);
        config.timeline = true;
        config.duration = Duration::from_secs(60);
        let t0 = Instant::now();
        let report = bench::run(config).await.unwrap();
        assert_eq!(report.errors, 0, "{}", report.table());
        assert_eq!(report.ops, 200, "{}", report.table());
        assert_eq!(report.timeline.len(), 200);
        assert!(report.duration_secs > 0.0 && report.duration_secs < t0.elapsed().as_secs_f64());
        assert!((report.throughput - 200.0 / report.duration_secs).abs() < 1e-6);
        assert!(report
            .timeline
            .iter()
            .all(|c| c.error.is_none() && c.done_us >= c.sent_us));
        let text = bench::timeline_text(&report.timeline);
        assert_eq!(text.lines().count(), 200);
        assert!(text.lines().all(|l| l.ends_with(" ok")));
        let cdf = &report.latency_cdf;
        assert_eq!(cdf.last().unwrap()[1], 1.0);
        assert!((cdf.last().unwrap()[0] - report.latency_ms.max).abs() < 1e-9);
        assert!(report
            .parent
            .starts_with(&format!("/bench-{}-", workload.name())));
    }
    let mut watch = Config::new(vec![addr.clone()], Workload::Watch);
    watch.max_ops = Some(10);
    assert!(bench::run(watch).await.is_err());
}

fn sessions_of(addr: String, sessions: usize) -> bench::sessions::SessionsConfig {
    bench::sessions::SessionsConfig {
        servers: vec![addr],
        sessions,
        connect_concurrency: 8,
        session_timeout_ms: 4000,
        hold: Duration::ZERO,
        notify_timeout: Duration::from_secs(10),
    }
}

/// `bench::sessions`: every session opens, every watcher hears the one set, and the figures
/// are ordered as they must be. 50 sessions stay under the default maxClientCnxns (60).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watcher_of_one_znode_hears_one_set() {
    let (_dir, addr) = start_server().await;
    let report = bench::sessions::run(sessions_of(addr, 50)).await.unwrap();
    assert_eq!(report.sessions, 50);
    let n = &report.notify_ms;
    assert!(
        report.first_notify_ms > 0.0 && report.first_notify_ms <= n.p50,
        "{report:?}"
    );
    assert!(n.p50 <= n.p99 && n.p99 <= n.max, "{report:?}");
    assert!(
        report.open_per_sec > 0.0 && report.open_latency_ms.max > 0.0,
        "{report:?}"
    );
    assert!(
        report.table().contains("all 50 delivered"),
        "{}",
        report.table()
    );
}

/// More sessions than the server admits from one address: the run fails and says which
/// session could not open, instead of reporting a smaller figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_cannot_open_fails_the_run() {
    let (_dir, addr) = start_server().await;
    let err = bench::sessions::run(sessions_of(addr, 70))
        .await
        .unwrap_err();
    assert!(err.starts_with("session "), "{err}");
}

/// The probes bench-compare waits and times with: `srvr` names the mode and zxid, a session
/// opens, a read finds a znode that is there and not one that is not, and a standalone server
/// counts as a formed ensemble. A port nobody listens on answers nothing, within the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_see_a_serving_server_and_its_znodes() {
    use bench::probe;
    let (_dir, addr) = start_server().await;
    let modes = probe::wait_ready(std::slice::from_ref(&addr), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(modes[0].mode, "standalone");
    assert!(modes[0].zxid.is_some(), "{modes:?}");
    let short = Duration::from_secs(2);
    assert!(probe::session_ok(&addr, None, short).await);
    assert!(probe::session_ok(&addr, Some("/"), short).await);
    assert!(!probe::session_ok(&addr, Some("/not-there"), short).await);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = closed.local_addr().unwrap().to_string();
    drop(closed);
    let t0 = Instant::now();
    assert_eq!(probe::srvr(&nobody, short).await, None);
    assert!(!probe::session_ok(&nobody, None, short).await);
    let err = probe::wait_ready(&[nobody], Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.contains("no answer"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10));
}
