//! The nemesis: one fault at a time, each healed before the next.

use super::ensemble::Ensemble;
use super::links::Cut;
use super::workload::Rng;
use super::SESSION_TIMEOUT;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub(super) enum Fault {
    Kill,
    KillLeader,
    PauseShort,
    PauseLong,
    PartitionHalves,
    LeaderIsolated,
    Bridge,
    /// One server (the leader half the time) cut off by a silent partition: its connections
    /// stay open and drop every byte, so only the links' own silence timeout notices.
    SilentIsolated,
    /// A change of membership and back (see `reconfig.rs`).
    Reconfig,
}

impl Fault {
    /// A short name for the chart's shaded windows.
    pub(super) fn label(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::KillLeader => "kill leader",
            Fault::PauseShort => "pause",
            Fault::PauseLong => "long pause",
            Fault::PartitionHalves => "partition",
            Fault::LeaderIsolated => "leader isolated",
            Fault::Bridge => "bridge",
            Fault::SilentIsolated => "silent isolation",
            Fault::Reconfig => "reconfig",
        }
    }
}

pub(super) struct Window {
    pub(super) fault: Fault,
    pub(super) what: String,
    pub(super) start: Duration,
    pub(super) end: Duration,
}

pub(super) async fn inject(
    ens: &mut Ensemble,
    fault: Fault,
    rng: &mut Rng,
    start: Instant,
) -> Result<Window, String> {
    if let Fault::Reconfig = fault {
        return super::reconfig::inject(ens, rng, start).await;
    }
    let n = ens.len();
    let begin = start.elapsed();
    let mut ids: Vec<usize> = (1..=n).collect();
    for i in (1..n).rev() {
        ids.swap(i, rng.below(i + 1));
    }
    let hold = |d: u64| tokio::time::sleep(Duration::from_millis(d));
    let what = match fault {
        Fault::Kill | Fault::KillLeader => {
            let victim = match fault {
                Fault::KillLeader => ens.leader().await.unwrap_or(ids[0]),
                _ => ids[0],
            };
            ens.kill(victim);
            hold(2500).await;
            ens.start(victim)?;
            let who = if matches!(fault, Fault::KillLeader) {
                "leader"
            } else {
                "server"
            };
            format!("SIGKILL {who} {victim}, restarted after 2.5 s")
        }
        Fault::PauseShort | Fault::PauseLong => {
            let victim = if rng.below(2) == 0 {
                ens.leader().await.unwrap_or(ids[0])
            } else {
                ids[0]
            };
            let ms = if matches!(fault, Fault::PauseShort) {
                1000
            } else {
                SESSION_TIMEOUT.as_millis() as u64 + 2000
            };
            ens.signal(victim, true);
            hold(ms).await;
            ens.signal(victim, false);
            format!("SIGSTOP server {victim} for {ms} ms")
        }
        Fault::PartitionHalves => {
            let (minority, majority) = ids.split_at(n / 2);
            for &a in minority {
                for &b in majority {
                    ens.cut(a, b, true);
                }
            }
            hold(3000).await;
            ens.heal_links();
            format!("partition {minority:?} | {majority:?} for 3 s")
        }
        Fault::LeaderIsolated => {
            let leader = ens.leader().await.unwrap_or(ids[0]);
            for b in (1..=n).filter(|&b| b != leader) {
                ens.cut(leader, b, true);
            }
            hold(3000).await;
            ens.heal_links();
            format!("leader {leader} isolated for 3 s")
        }
        Fault::Bridge => {
            // ids[mid] sees both halves; the halves do not see each other.
            let mid = n / 2;
            let (left, right) = (&ids[..mid], &ids[mid + 1..]);
            for &a in left {
                for &b in right {
                    ens.cut(a, b, true);
                }
            }
            hold(3000).await;
            ens.heal_links();
            format!("bridge {left:?} <-> {} <-> {right:?} for 3 s", ids[mid])
        }
        Fault::SilentIsolated => {
            let victim = if rng.below(2) == 0 {
                ens.leader().await.unwrap_or(ids[0])
            } else {
                ids[0]
            };
            ens.isolate(victim, Cut::Silent);
            hold(3000).await;
            ens.heal_links();
            format!("server {victim} silently isolated for 3 s")
        }
        Fault::Reconfig => unreachable!("dispatched above"),
    };
    Ok(Window {
        fault,
        what,
        start: begin,
        end: start.elapsed(),
    })
}

// Faults of Quorum servers, shared by the ledger and log targets.

pub(super) async fn hold(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A server: the leader half of the time.
pub(super) async fn a_server(ens: &mut Ensemble, rng: &mut Rng) -> usize {
    let any = 1 + rng.below(ens.len());
    if rng.below(2) == 0 {
        ens.leader().await.unwrap_or(any)
    } else {
        any
    }
}

pub(super) async fn kill_server(ens: &mut Ensemble, rng: &mut Rng) -> Result<String, String> {
    let id = a_server(ens, rng).await;
    ens.kill(id);
    hold(2500).await;
    ens.start(id)?;
    Ok(format!("SIGKILL server {id}, restarted after 2.5 s"))
}

pub(super) async fn pause_server(ens: &mut Ensemble, rng: &mut Rng) -> String {
    let id = a_server(ens, rng).await;
    let ms = if rng.below(2) == 0 {
        1000
    } else {
        SESSION_TIMEOUT.as_millis() as u64 + 2000
    };
    ens.signal(id, true);
    hold(ms).await;
    ens.signal(id, false);
    format!("SIGSTOP server {id} for {ms} ms")
}

pub(super) async fn isolate_server(ens: &mut Ensemble, rng: &mut Rng) -> String {
    let id = a_server(ens, rng).await;
    ens.isolate(id, Cut::Blackhole);
    hold(3000).await;
    ens.heal_links();
    format!("server {id} isolated from its peers for 3 s")
}
