//! Group-commit figures (ignored by default; run with
//! `cargo test --release -p bookie --test group_commit -- --ignored --nocapture`): adds per
//! second and records per journal sync, with 1 and with many clients each waiting for its add
//! before sending the next (the case group commit exists for). Set BOOKIE_BENCH_DIR to measure
//! on a particular disk.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bookie::server::{BookieServer, Config};
use bookie::wire;
use ledger::{Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn client_loop(addr: std::net::SocketAddr, ledger: u64, until: Instant) -> u64 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut out = Vec::new();
    wire::encode_hello(&mut out, wire::PROTOCOL_VERSION);
    s.write_all(&out).await.unwrap();
    wire::read_frame(&mut s, 64).await.unwrap().unwrap();
    let mut entry = 0;
    while Instant::now() < until {
        out.clear();
        wire::encode_request(
            &mut out,
            &Request::Add {
                tag: entry,
                ledger,
                entry,
                lac: entry.checked_sub(1),
                payload: vec![1; 1024],
                recovery: false,
            },
        );
        s.write_all(&out).await.unwrap();
        let body = wire::read_frame(&mut s, 1 << 20).await.unwrap().unwrap();
        assert!(matches!(
            wire::decode_response(&body).unwrap(),
            Response::Added { .. }
        ));
        entry += 1;
    }
    entry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn group_commit_figures() {
    let base = std::env::var_os("BOOKIE_BENCH_DIR").map(std::path::PathBuf::from);
    for clients in [1u64, 4, 16, 64] {
        let tmp = match &base {
            Some(dir) => tempfile::tempdir_in(dir).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let cfg = Config::new(1, tmp.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
        let server = BookieServer::start(cfg).await.unwrap();
        let addr = server.local_addr();
        let run = Duration::from_secs(3);
        let until = Instant::now() + run;
        let tasks: Vec<_> = (0..clients)
            .map(|c| tokio::spawn(client_loop(addr, c + 1, until)))
            .collect();
        let mut adds = 0;
        for t in tasks {
            adds += t.await.unwrap();
        }
        let stats = server.stats();
        let syncs = stats.journal_syncs.load(Ordering::Relaxed);
        let records = stats.journal_records.load(Ordering::Relaxed);
        println!(
            "{clients:>3} clients: {:>7.0} adds/s (1 KiB, fsync on), {records} records in {syncs} syncs = {:.1} records/sync",
            adds as f64 / run.as_secs_f64(),
            records as f64 / syncs.max(1) as f64
        );
        server.shutdown().await;
    }
}
