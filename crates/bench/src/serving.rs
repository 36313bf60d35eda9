//! How long a restarted server takes to serve again: the first session it opens, then the
//! moment it follows the leader at (at least) the leader's zxid and answers a read of a znode
//! that was there before the restart. The caller kills and starts the server (it owns the
//! process, Quorum or ZooKeeper); this only watches, from a start time the caller gives.

use std::time::Duration;

use serde::Serialize;

use crate::probe::{self, Srvr};

/// What to watch.
pub struct ServingConfig {
    /// Every server of the ensemble, host:port.
    pub servers: Vec<String>,
    /// Index into `servers` of the restarted one.
    pub restarted: usize,
    /// A znode that existed before the restart.
    pub read_path: String,
    /// When the server was started, µs since the Unix epoch.
    pub started_us: u64,
    /// Give up after this long from `started_us`.
    pub timeout: Duration,
}

/// What was seen.
#[derive(Debug, Clone, Serialize)]
pub struct ServingReport {
    /// The restarted server, counted from 1.
    pub restarted: usize,
    /// The leader's zxid when watching began, hex.
    pub leader_zxid: String,
    /// Seconds from the start until a session opened.
    pub first_session_s: Option<f64>,
    /// Seconds from the start until it served (see the module doc).
    pub serving_s: Option<f64>,
    /// The process was gone before it served.
    pub exited: bool,
}

impl ServingReport {
    /// The report as one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// Watches until the restarted server serves, `alive` says its process is gone, or the timeout
/// passes. Must be called inside a tokio runtime.
pub async fn watch(
    config: ServingConfig,
    alive: impl Fn() -> bool,
) -> Result<ServingReport, String> {
    let addr = config
        .servers
        .get(config.restarted)
        .ok_or_else(|| format!("no server {} in the list", config.restarted + 1))?
        .clone();
    let deadline_us = config
        .started_us
        .saturating_add(u64::try_from(config.timeout.as_micros()).unwrap_or(u64::MAX));
    let target = leader_zxid(&config, deadline_us).await?;
    let since = |us: u64| us.saturating_sub(config.started_us) as f64 / 1e6;
    let mut report = ServingReport {
        restarted: config.restarted + 1,
        leader_zxid: format!("{target:#x}"),
        first_session_s: None,
        serving_s: None,
        exited: false,
    };
    while probe::unix_us() < deadline_us {
        if !alive() {
            report.exited = true;
            break;
        }
        if report.first_session_s.is_none()
            && probe::session_ok(&addr, None, Duration::from_millis(500)).await
        {
            report.first_session_s = Some(since(probe::unix_us()));
        }
        if report.first_session_s.is_some() && caught_up(&addr, target, &config.read_path).await {
            report.serving_s = Some(since(probe::unix_us()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(report)
}

/// The zxid of the leader among the servers other than the restarted one, asked until the
/// deadline (a leader busy after loading a big tree may not answer at once).
async fn leader_zxid(config: &ServingConfig, deadline_us: u64) -> Result<u64, String> {
    loop {
        for (i, addr) in config.servers.iter().enumerate() {
            if i == config.restarted {
                continue;
            }
            if let Some(Srvr {
                mode,
                zxid: Some(z),
            }) = probe::srvr(addr, Duration::from_secs(2)).await
            {
                if mode == "leader" {
                    return Ok(z);
                }
            }
        }
        if probe::unix_us() >= deadline_us {
            return Err("no other server said it leads".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn caught_up(addr: &str, target: u64, read_path: &str) -> bool {
    let follows = match probe::srvr(addr, Duration::from_millis(500)).await {
        Some(Srvr {
            mode,
            zxid: Some(z),
        }) => matches!(mode.as_str(), "follower" | "observer") && z >= target,
        _ => false,
    };
    follows && probe::session_ok(addr, Some(read_path), Duration::from_secs(2)).await
}
