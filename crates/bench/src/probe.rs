//! Asking servers whether they serve: the `srvr` four-letter word (mode and zxid) and a session
//! opened over the client protocol, with or without a read. Quorum and Apache ZooKeeper answer
//! both the same way, so one prober times restarts and waits for ensembles of either.
//!
//! Every question has a timeout: a server that is starting, paused or partitioned must not
//! stall the asker, who keeps asking until its own deadline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proto::{ExistsRequest, Request};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Conn;

/// The longest answer to a four-letter word read (`srvr` is a few hundred bytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How often a waiting prober asks again.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// What `srvr` says about a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Srvr {
    /// `leader`, `follower`, `observer`, `standalone`, or what else the server says.
    pub mode: String,
    /// The last zxid the server applied.
    pub zxid: Option<u64>,
}

/// Sends `word` to `addr` and returns the whole answer; `None` when the server does not answer
/// within `timeout`.
pub async fn four_letter(addr: &str, word: &str, timeout: Duration) -> Option<String> {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream.write_all(word.as_bytes()).await.ok()?;
        let mut text = Vec::new();
        let mut limited = (&mut stream).take(MAX_ANSWER_BYTES);
        limited.read_to_end(&mut text).await.ok()?;
        Some(String::from_utf8_lossy(&text).into_owned())
    };
    tokio::time::timeout(timeout, ask).await.ok().flatten()
}

/// The mode and zxid from `srvr`; `None` when the server does not answer or has no mode.
pub async fn srvr(addr: &str, timeout: Duration) -> Option<Srvr> {
    parse_srvr(&four_letter(addr, "srvr", timeout).await?)
}

/// The `Mode:` and `Zxid:` lines of a `srvr` answer.
pub fn parse_srvr(text: &str) -> Option<Srvr> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let zxid =
        field("Zxid:").and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok());
    Some(Srvr {
        mode: field("Mode:")?,
        zxid,
    })
}

/// Whether a session can be opened on `addr` within `timeout` and, with `read_path`, an
/// exists() of that path finds it. The session is closed again.
pub async fn session_ok(addr: &str, read_path: Option<&str>, timeout: Duration) -> bool {
    let probe = async {
        let Ok(conn) = Conn::connect_within(addr, 4000, None, timeout).await else {
            return false;
        };
        let found = match read_path {
            None => true,
            Some(path) => {
                let exists = Request::Exists(ExistsRequest {
                    path: path.to_string(),
                    watch: false,
                });
                matches!(conn.call(exists).await, Ok(r) if r.header.err == 0)
            }
        };
        conn.close().await;
        found
    };
    tokio::time::timeout(timeout * 2, probe)
        .await
        .unwrap_or(false)
}

/// Whether `modes` (one per server) are those of a serving ensemble: a standalone server, or one
/// leader with every other server a follower or observer.
pub fn ensemble_formed(modes: &[Option<Srvr>]) -> bool {
    let mode = |m: &Option<Srvr>| m.as_ref().map_or("", |s| s.mode.as_str()).to_string();
    let modes: Vec<String> = modes.iter().map(mode).collect();
    if modes.len() == 1 && modes[0] == "standalone" {
        return true;
    }
    modes.iter().filter(|m| *m == "leader").count() == 1
        && modes
            .iter()
            .all(|m| matches!(m.as_str(), "leader" | "follower" | "observer"))
}

/// Waits until `servers` form a serving ensemble and every one of them opens a session; returns
/// each server's `srvr`, or says what the servers last answered when `timeout` passes.
pub async fn wait_ready(servers: &[String], timeout: Duration) -> Result<Vec<Srvr>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let modes = all_srvr(servers).await;
        if ensemble_formed(&modes) && all_sessions_open(servers).await {
            return Ok(modes.into_iter().flatten().collect());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the ensemble did not form within {timeout:?}: modes {}",
                describe(&modes)
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn all_srvr(servers: &[String]) -> Vec<Option<Srvr>> {
    let mut out = Vec::with_capacity(servers.len());
    for s in servers {
        out.push(srvr(s, Duration::from_secs(1)).await);
    }
    out
}

async fn all_sessions_open(servers: &[String]) -> bool {
    for s in servers {
        if !session_ok(s, None, Duration::from_secs(1)).await {
            return false;
        }
    }
    true
}

fn describe(modes: &[Option<Srvr>]) -> String {
    let names: Vec<&str> = modes
        .iter()
        .map(|m| m.as_ref().map_or("no answer", |s| s.mode.as_str()))
        .collect();
    names.join(", ")
}

/// The index of the leader among `servers`, if exactly one says it leads.
pub async fn leader_of(servers: &[String]) -> Option<usize> {
    let modes = all_srvr(servers).await;
    let leaders: Vec<usize> = (0..modes.len())
        .filter(|&i| matches!(&modes[i], Some(s) if s.mode == "leader"))
        .collect();
    (leaders.len() == 1).then_some(leaders[0])
}

/// µs since the Unix epoch, the clock the load generator's timelines use.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(mode: &str) -> Option<Srvr> {
        Some(Srvr {
            mode: mode.into(),
            zxid: None,
        })
    }

    #[test]
    fn srvr_answers_parse_for_both_servers() {
        // The shape both Apache ZooKeeper 3.8 and Quorum print.
        let text = "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nReceived: 3\n\
                    Zxid: 0x30000002a\nMode: follower\nNode count: 5\n";
        let got = parse_srvr(text).unwrap();
        assert_eq!(got.mode, "follower");
        assert_eq!(got.zxid, Some(0x3_0000_002a));
        assert_eq!(
            parse_srvr("This ZooKeeper instance is not currently serving"),
            None
        );
    }

    #[test]
    fn an_ensemble_is_formed_with_one_leader_and_the_rest_following() {
        assert!(ensemble_formed(&[
            s("follower"),
            s("leader"),
            s("follower")
        ]));
        assert!(ensemble_formed(&[s("standalone")]));
        assert!(ensemble_formed(&[
            s("leader"),
            s("follower"),
            s("observer")
        ]));
        assert!(!ensemble_formed(&[s("follower"), None, s("leader")]));
        assert!(!ensemble_formed(&[s("leader"), s("leader"), s("follower")]));
        assert!(!ensemble_formed(&[
            s("follower"),
            s("looking"),
            s("follower")
        ]));
        assert!(!ensemble_formed(&[s("standalone"), s("standalone")]));
    }
}
