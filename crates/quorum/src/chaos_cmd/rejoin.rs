//! `quorum chaos --silent-rejoin 5,20,40`: how long a server takes to come back after a
//! *silent* partition heals. One follower of a real ensemble has every peer link cut in the
//! proxies' silent mode (connections stay open, every byte is dropped, nothing is closed) for
//! each given time; then the links heal, and the time until the server reports `Mode: follower`
//! (following in broadcast, serving clients) again is measured.

use std::time::{Duration, Instant};

use super::ensemble::Ensemble;
use super::links::Cut;

/// How often the victim's mode is asked while waiting for it.
const POLL: Duration = Duration::from_millis(20);
/// Longest wait for the victim to come back before the measurement counts as a failure.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// Runs one measurement per partition length on a fresh ensemble of `servers` servers.
pub(super) async fn run(servers: usize, lengths_s: &[u64]) -> Result<(), String> {
    let mut ens = Ensemble::create(servers, None, false).await?;
    for id in 1..=servers {
        ens.start(id)?;
    }
    for (round, &length) in lengths_s.iter().enumerate() {
        ens.wait_for_leader(Duration::from_secs(30)).await?;
        let victim = a_follower(&mut ens, round).await?;
        let took = isolate_and_heal(&mut ens, victim, Duration::from_secs(length)).await?;
        println!(
            "silent partition of server {victim} for {length} s: back in broadcast (Mode: \
             follower) {:.2} s after healing",
            took.as_secs_f64()
        );
    }
    Ok(())
}

/// A server that follows in broadcast now: the followers take turns from one round to the next,
/// so that both a server that dials its peers and one they dial are measured.
async fn a_follower(ens: &mut Ensemble, round: usize) -> Result<usize, String> {
    let mut followers = Vec::new();
    for id in 1..=ens.len() {
        if ens.mode(id).await.as_deref() == Some("follower") {
            followers.push(id);
        }
    }
    if followers.is_empty() {
        return Err("no follower to isolate".into());
    }
    Ok(followers[round % followers.len()])
}

/// Cuts `victim` off silently for `length`, checks it noticed (left broadcast), heals, and
/// returns the time from the heal until it follows in broadcast again.
async fn isolate_and_heal(
    ens: &mut Ensemble,
    victim: usize,
    length: Duration,
) -> Result<Duration, String> {
    ens.isolate(victim, Cut::Silent);
    tokio::time::sleep(length).await;
    let mode = ens.mode(victim).await;
    if mode.as_deref() == Some("follower") {
        ens.heal_links();
        return Err(format!(
            "server {victim} still claims to follow after {length:?} of silence"
        ));
    }
    ens.heal_links();
    let healed = Instant::now();
    loop {
        if ens.mode(victim).await.as_deref() == Some("follower") {
            return Ok(healed.elapsed());
        }
        if healed.elapsed() > GIVE_UP_AFTER {
            return Err(format!(
                "server {victim} not back within {GIVE_UP_AFTER:?} of healing a silent partition"
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}
