//! The ledger nemesis: faults of bookies (SIGKILL and restart with the data kept, SIGSTOP,
//! partition from the clients by cutting the proxy they reach it through) and of Quorum servers
//! (SIGKILL and restart, SIGSTOP, isolation from their peers), one at a time, each healed
//! before the next.

use super::super::ensemble::Ensemble;
use super::super::fleet::Fleet;
use super::super::links::Cut;
use super::super::nemesis::{hold, isolate_server, kill_server, pause_server};
use super::super::workload::Rng;
use super::super::Nemesis;
use super::workload::REQUEST_TIMEOUT;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fault {
    KillBookie,
    KillServer,
    PauseBookie,
    PauseServer,
    PartitionBookie,
    IsolateServer,
}

/// The faults of `nemesis`, in the order they cycle.
pub(super) fn faults(nemesis: Nemesis) -> Vec<Fault> {
    use Fault::*;
    match nemesis {
        Nemesis::Kill | Nemesis::KillLeader => vec![KillBookie, KillServer],
        Nemesis::Pause => vec![PauseBookie, PauseServer],
        Nemesis::Partition => vec![PartitionBookie, IsolateServer],
        Nemesis::All => vec![
            KillBookie,
            PartitionBookie,
            PauseServer,
            PauseBookie,
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

/// What the nemesis acts on.
pub(super) struct Target<'a> {
    pub(super) ens: &'a mut Ensemble,
    pub(super) fleet: &'a mut Fleet,
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
        Fault::KillBookie => kill_bookies(t.fleet, rng).await?,
        Fault::KillServer => kill_server(t.ens, rng).await?,
        Fault::PauseBookie => pause_bookie(t.fleet, rng).await,
        Fault::PauseServer => pause_server(t.ens, rng).await,
        Fault::PartitionBookie => partition_bookies(t.fleet, rng).await,
        Fault::IsolateServer => isolate_server(t.ens, rng).await,
    };
    let end = t0.elapsed();
    Ok(Injected {
        fault,
        what,
        start,
        end,
    })
}

/// One bookie, or (a third of the time) two at once, of the `fleet`'s.
fn victims(fleet: &Fleet, rng: &mut Rng) -> Vec<u32> {
    let n = fleet.len() as u32;
    let first = 1 + rng.below(n as usize) as u32;
    let mut ids = vec![first];
    if rng.below(3) == 0 {
        ids.push(1 + (first + rng.below(n as usize - 1) as u32) % n);
    }
    ids
}

async fn kill_bookies(fleet: &mut Fleet, rng: &mut Rng) -> Result<String, String> {
    let ids = victims(fleet, rng);
    for &id in &ids {
        fleet.kill(id);
    }
    hold(2500).await;
    for &id in &ids {
        fleet.restart(id)?;
    }
    Ok(format!("SIGKILL bookies {ids:?}, restarted after 2.5 s"))
}

async fn pause_bookie(fleet: &mut Fleet, rng: &mut Rng) -> String {
    let id = victims(fleet, rng)[0];
    // Shorter than a request's timeout, or long enough to be replaced.
    let ms = if rng.below(2) == 0 {
        REQUEST_TIMEOUT.as_millis() as u64 / 2
    } else {
        5000
    };
    fleet.pause(id, true);
    hold(ms).await;
    fleet.pause(id, false);
    format!("SIGSTOP bookie {id} for {ms} ms")
}

async fn partition_bookies(fleet: &mut Fleet, rng: &mut Rng) -> String {
    let ids = victims(fleet, rng);
    // Blackhole: open connections are cut and new ones hang; silent: open connections stay
    // open and swallow every byte, so only the clients' timeouts notice.
    let mode = if rng.below(2) == 0 {
        Cut::Blackhole
    } else {
        Cut::Silent
    };
    for &id in &ids {
        fleet.cut(id, mode);
    }
    hold(3000).await;
    for &id in &ids {
        fleet.cut(id, Cut::Open);
    }
    format!("bookies {ids:?} partitioned from the clients ({mode:?}) for 3 s")
}
