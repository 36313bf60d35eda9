//! A server cut off by a *silent* partition (links kept open, every byte dropped: no reset, no
//! close) must be back in the ensemble soon after the partition heals. Before the peer links had
//! keepalives and a silence timeout, such a server waited for TCP to give up (seconds to
//! minutes); now a link quiet for syncLimit ticks is dropped and redialled.
//!
//! Runs `quorum chaos --silent-rejoin` (3 servers, tickTime 200 ms, syncLimit 5): one follower
//! is isolated for 40 s by the in-process proxies' silent mode, the links heal, and the time until
//! it reports `Mode: follower` again must be under 2 s. `QUORUM_SILENT_REJOIN_SECS` (e.g.
//! `5,20,40`) measures other partition lengths.

use std::process::Command;

/// Longest acceptable time from the heal until the server follows in broadcast again.
const BOUND_S: f64 = 2.0;

#[test]
fn a_server_rejoins_within_two_seconds_of_a_silent_partition_healing() {
    let lengths = std::env::var("QUORUM_SILENT_REJOIN_SECS").unwrap_or_else(|_| "40".into());
    let out = Command::new(env!("CARGO_BIN_EXE_quorum"))
        .args(["chaos", "--servers", "3", "--silent-rejoin", &lengths])
        .env("RUST_LOG", "error")
        .output()
        .expect("run quorum chaos --silent-rejoin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let figures: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.split(") ").nth(1)?.strip_suffix(" s after healing"))
        .map(|s| s.parse().expect("a figure in seconds"))
        .collect();
    println!("{stdout}");
    assert_eq!(figures.len(), lengths.split(',').count(), "{stdout}");
    for took in figures {
        assert!(took < BOUND_S, "rejoined {took} s after healing:\n{stdout}");
    }
}
