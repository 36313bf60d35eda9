//! Failover time: a set load runs, the leader is killed partway, and the figure is the time
//! from the kill until the first write *sent after it* succeeds. A write sent before the kill
//! may be answered by the old leader's last commit and would flatter the figure.
//!
//! The caller kills (it owns the processes); this finds the leader by `srvr`, times the kill,
//! and reads the answer off the load's timeline.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{probe, Completion, Config};

/// What `measure` saw.
#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    /// The killed leader, counted from 1.
    pub killed: usize,
    /// Ms from the kill until the first write sent after it was answered; `None` when none was.
    pub recovery_ms: Option<f64>,
    /// The load's longest stretch without a completed request, ms.
    pub max_gap_ms: f64,
    /// Requests of the load that failed.
    pub errors: u64,
}

impl FailoverReport {
    /// The report as one JSON object.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// Runs `load` (its timeline is turned on), calls `kill` with the leader's index into
/// `load.servers` once `kill_after` has passed, and reports. Must be called inside a tokio
/// runtime.
pub async fn measure(
    mut load: Config,
    kill_after: Duration,
    kill: impl FnOnce(usize) -> Result<(), String>,
) -> Result<FailoverReport, String> {
    if kill_after <= load.warmup || kill_after >= load.warmup + load.duration {
        return Err("the kill must fall inside the measured stretch of the load".into());
    }
    load.timeline = true;
    let servers = load.servers.clone();
    let started = Instant::now();
    let running = tokio::spawn(crate::run(load));
    tokio::time::sleep(kill_after.saturating_sub(started.elapsed())).await;
    let Some(leader) = probe::leader_of(&servers).await else {
        running.abort();
        return Err("no single leader to kill".into());
    };
    let killed_us = probe::unix_us();
    if let Err(e) = kill(leader) {
        running.abort();
        return Err(format!("killing server {}: {e}", leader + 1));
    }
    let report = running.await.map_err(|e| e.to_string())??;
    // Requests of the warm-up are not in the timeline: a kill before the measured stretch
    // began (a slow setup) would be timed from its first request, not from the kill.
    if report.timeline.iter().all(|c| c.sent_us > killed_us) {
        return Err("the leader was killed before the measured stretch began: kill later".into());
    }
    Ok(FailoverReport {
        killed: leader + 1,
        recovery_ms: first_success_after(&report.timeline, killed_us),
        max_gap_ms: report.max_gap_ms,
        errors: report.errors,
    })
}

/// Ms from `at_us` until the earliest answer to a request sent at or after it.
pub fn first_success_after(timeline: &[Completion], at_us: u64) -> Option<f64> {
    timeline
        .iter()
        .filter(|c| c.error.is_none() && c.sent_us >= at_us)
        .map(|c| c.done_us.saturating_sub(at_us) as f64 / 1000.0)
        .min_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(sent_us: u64, done_us: u64, error: Option<&str>) -> Completion {
        Completion {
            sent_us,
            done_us,
            error: error.map(String::from),
        }
    }

    #[test]
    fn only_writes_sent_after_the_kill_count() {
        let timeline = [
            c(900, 5_000, None),           // sent before the kill: ignored
            c(1_000, 2_000, Some("lost")), // failed: ignored
            c(1_200, 9_000, None),
            c(3_000, 7_500, None), // sent later, answered sooner: this one
        ];
        assert_eq!(first_success_after(&timeline, 1_000), Some(6.5));
        assert_eq!(first_success_after(&timeline, 4_000), None);
    }
}
