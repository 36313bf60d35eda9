//! The log nemesis: faults of brokers (SIGKILL and restart with the data kept, SIGSTOP, and a
//! partition that cuts the proxy everyone reaches it through *and* its own links to Quorum) and
//! of Quorum servers (the shared faults: SIGKILL and restart, SIGSTOP, isolation from their
//! peers), one at a time, each healed before the next. Broker faults pick a partition leader
//! half of the time, so that failovers happen.

use super::super::ensemble::Ensemble;
use super::super::fleet::Fleet;
use super::super::links::Cut;
use super::super::nemesis::{hold, isolate_server, kill_server, pause_server};
use super::super::workload::Rng;
use super::super::Nemesis;
use super::{LAG_MAX_MS, PARTITIONS, SESSION_TIMEOUT_MS, TOPIC};
use client::zk;
use partition::TopicPartition;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fault {
    KillBroker,
    KillServer,
    PauseBroker,
    PauseServer,
    PartitionBroker,
    IsolateServer,
    /// Test only (`--unsafe-log-unclean`): a follower paused until it drops out of the ISR,
    /// then resumed as the two others are killed, so that an unclean election makes it leader
    /// without the records acknowledged meanwhile.
    UncleanFailover,
}

/// The faults of `nemesis`, in the order they cycle.
pub(super) fn faults(nemesis: Nemesis) -> Vec<Fault> {
    use Fault::*;
    match nemesis {
        Nemesis::Kill | Nemesis::KillLeader => vec![KillBroker, KillServer],
        Nemesis::Pause => vec![PauseBroker, PauseServer],
        Nemesis::Partition => vec![PartitionBroker, IsolateServer],
        Nemesis::All => vec![
            KillBroker,
            PartitionBroker,
            PauseServer,
            PauseBroker,
            KillServer,
            IsolateServer,
        ],
        // Refused for this target before anything starts (see `run_async`).
        Nemesis::None | Nemesis::Reconfig => vec![],
    }
}

/// One fault injected: what, and when (since the workload started).
pub(super) struct Injected {
    pub(super) fault: Fault,
    pub(super) what: String,
    pub(super) start: Duration,
    pub(super) end: Duration,
}

/// What the nemesis acts on, and a Quorum session to find partition leaders with.
pub(super) struct Target<'a> {
    pub(super) ens: &'a mut Ensemble,
    pub(super) fleet: &'a mut Fleet,
    pub(super) zk: &'a zk::Client,
}

/// Injects `fault`, holds it, heals it.
pub(super) async fn inject(
    t: Target<'_>,
    fault: Fault,
    rng: &mut Rng,
    t0: Instant,
) -> Result<Injected, String> {
    let start = t0.elapsed();
    let what = match fault {
        Fault::KillBroker => kill_broker(t.fleet, t.zk, rng).await?,
        Fault::KillServer => kill_server(t.ens, rng).await?,
        Fault::PauseBroker => pause_broker(t.fleet, t.zk, rng).await,
        Fault::PauseServer => pause_server(t.ens, rng).await,
        Fault::PartitionBroker => partition_broker(t.fleet, t.zk, rng).await,
        Fault::IsolateServer => isolate_server(t.ens, rng).await,
        Fault::UncleanFailover => unclean_failover(t.fleet, t.zk).await?,
    };
    Ok(Injected {
        fault,
        what,
        start,
        end: t0.elapsed(),
    })
}

/// A broker: half of the time the leader of a random partition (as Quorum says), else any.
async fn a_broker(fleet: &Fleet, zk: &zk::Client, rng: &mut Rng) -> (u32, &'static str) {
    let any = 1 + rng.below(fleet.len()) as u32;
    if rng.below(2) == 0 {
        let tp = TopicPartition::new(TOPIC, rng.below(PARTITIONS as usize) as u32);
        let state =
            tokio::time::timeout(Duration::from_secs(2), broker::meta::read_state(zk, &tp)).await;
        if let Ok(Ok(Some((state, _)))) = state {
            if let Some(leader) = state.leader {
                return (leader, "leader ");
            }
        }
    }
    (any, "")
}

/// Shorter than the broker's Quorum session, or long enough for it to expire.
fn pause_ms(rng: &mut Rng) -> u64 {
    if rng.below(2) == 0 {
        1000
    } else {
        SESSION_TIMEOUT_MS + 2000
    }
}

async fn kill_broker(fleet: &mut Fleet, zk: &zk::Client, rng: &mut Rng) -> Result<String, String> {
    let (id, role) = a_broker(fleet, zk, rng).await;
    fleet.kill(id);
    let ms = pause_ms(rng);
    hold(ms).await;
    fleet.restart(id)?;
    Ok(format!(
        "SIGKILL {role}broker {id}, restarted after {ms} ms"
    ))
}

async fn pause_broker(fleet: &mut Fleet, zk: &zk::Client, rng: &mut Rng) -> String {
    let (id, role) = a_broker(fleet, zk, rng).await;
    let ms = pause_ms(rng);
    fleet.pause(id, true);
    hold(ms).await;
    fleet.pause(id, false);
    format!("SIGSTOP {role}broker {id} for {ms} ms")
}

async fn partition_broker(fleet: &mut Fleet, zk: &zk::Client, rng: &mut Rng) -> String {
    let (id, role) = a_broker(fleet, zk, rng).await;
    // Blackhole: open connections are cut and new ones hang; silent: open connections stay
    // open and swallow every byte, so only timeouts notice.
    let mode = if rng.below(2) == 0 {
        Cut::Blackhole
    } else {
        Cut::Silent
    };
    let ms = pause_ms(rng);
    fleet.cut(id, mode);
    fleet.cut_quorum(id, mode);
    hold(ms).await;
    fleet.cut(id, Cut::Open);
    fleet.cut_quorum(id, Cut::Open);
    format!("{role}broker {id} cut from everyone and from Quorum ({mode:?}) for {ms} ms")
}

/// See [`Fault::UncleanFailover`]: on partition 0, its leader and another replica are killed
/// once the third has lagged out of the ISR; restarted after the third was elected.
async fn unclean_failover(fleet: &mut Fleet, zk: &zk::Client) -> Result<String, String> {
    let tp = TopicPartition::new(TOPIC, 0);
    let state = broker::meta::read_state(zk, &tp)
        .await
        .map_err(|e| e.to_string())?;
    let leader = state.and_then(|(s, _)| s.leader).unwrap_or(1);
    let n = fleet.len() as u32;
    let lagging = leader % n + 1;
    let other = lagging % n + 1;
    fleet.pause(lagging, true);
    hold(2 * LAG_MAX_MS + 1000).await;
    fleet.kill(leader);
    fleet.kill(other);
    fleet.pause(lagging, false);
    hold(SESSION_TIMEOUT_MS + 4000).await;
    fleet.restart(leader)?;
    fleet.restart(other)?;
    Ok(format!(
        "broker {lagging} paused out of the ISR, then leader {leader} and {other} killed \
         (unclean election)"
    ))
}
