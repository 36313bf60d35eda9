//! The reconfiguration nemesis (`--nemesis reconfig`): the ensemble gets one more server, an
//! observer, and each fault changes the membership with `reconfig` while the workload runs —
//! a voter removed and added back (the leader half the time), the observer promoted to voter
//! and demoted, or a voter replaced by the observer — with, half the time, the leader killed
//! or isolated right after the change is asked for. The membership is then put back.
//!
//! A change is asked for through a session authenticated as `super`, and retried until the
//! configuration shows it: a reconfig that timed out or lost its connection may have been
//! applied anyway, so success is read from `/zookeeper/config`, not from the answer.
//!
//! The server lines are taken from `/zookeeper/config` itself, so their peer addresses stay the
//! ones of the leader's view (its proxy ports): after a reconfiguration, every server dials
//! through the proxies of that view, and the partitions of the other faults cut those.

use super::ensemble::Ensemble;
use super::nemesis::{hold, Fault, Window};
use super::workload::Rng;
use super::SESSION_TIMEOUT;
use client::zk;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The password of the chaos ensemble's super user.
const SUPER_PASSWORD: &str = "chaos-reconfig";
/// How long a change is retried before the fault gives up on it.
const CHANGE_DEADLINE: Duration = Duration::from_secs(20);

/// The `superDigest` every server of a reconfig run is configured with.
pub(super) fn super_digest() -> String {
    tree::acl::generate_digest(&format!("super:{SUPER_PASSWORD}"))
}

/// A server line of the configuration, by id: `(line without role and client, role)`.
type Lines = BTreeMap<u64, (String, String)>;

/// One reconfiguration fault, restored before it returns.
pub(super) async fn inject(
    ens: &mut Ensemble,
    rng: &mut Rng,
    start: Instant,
) -> Result<Window, String> {
    let begin = start.elapsed();
    let spare = ens.len() as u64;
    let current = read_config_until(ens, Instant::now() + CHANGE_DEADLINE).await?;
    let voters: Vec<u64> = current
        .iter()
        .filter(|(_, (_, role))| role == "participant")
        .map(|(id, _)| *id)
        .collect();
    let leader = ens.leader().await.map(|l| l as u64);
    let victim = match leader {
        Some(l) if rng.below(2) == 0 && l != spare => l,
        _ => voters[rng.below(voters.len())],
    };
    let (change, restore, what) = match rng.below(3) {
        0 => (
            vec![(victim, None)],
            vec![(victim, Some("participant"))],
            format!("voter {victim} removed and added back"),
        ),
        1 => (
            vec![(spare, Some("participant"))],
            vec![(spare, Some("observer"))],
            format!("observer {spare} made a voter and back"),
        ),
        _ => (
            vec![(victim, None), (spare, Some("participant"))],
            vec![(victim, Some("participant")), (spare, Some("observer"))],
            format!("voter {victim} replaced by {spare} and back"),
        ),
    };
    apply(ens, &current, &change).await?;
    let during = match rng.below(4) {
        0 => kill_leader(ens).await?,
        1 => isolate_leader(ens).await,
        _ => {
            hold(1500).await;
            String::new()
        }
    };
    apply(ens, &current, &restore).await?;
    Ok(Window {
        fault: Fault::Reconfig,
        what: format!("{what}{during}"),
        start: begin,
        end: start.elapsed(),
    })
}

async fn kill_leader(ens: &mut Ensemble) -> Result<String, String> {
    let Some(leader) = ens.leader().await else {
        return Ok(String::new());
    };
    ens.kill(leader);
    hold(2500).await;
    ens.start(leader)?;
    Ok(format!(", leader {leader} killed meanwhile"))
}

async fn isolate_leader(ens: &mut Ensemble) -> String {
    let Some(leader) = ens.leader().await else {
        return String::new();
    };
    ens.isolate(leader, super::links::Cut::Blackhole);
    hold(3000).await;
    ens.heal_links();
    format!(", leader {leader} isolated meanwhile")
}

/// Makes each `(id, role)` of `wanted` hold (`None`: not a member), retrying until the
/// configuration shows it. Lines of servers the configuration no longer lists come from
/// `known`.
async fn apply(
    ens: &mut Ensemble,
    known: &Lines,
    wanted: &[(u64, Option<&str>)],
) -> Result<(), String> {
    let deadline = Instant::now() + CHANGE_DEADLINE;
    let mut last_error = String::from("no attempt");
    while Instant::now() < deadline {
        if let Ok(current) = read_config(ens).await {
            let holds = wanted.iter().all(|(id, role)| {
                current.get(id).map(|(_, r)| r.as_str()) == role.map(|r| r as &str)
            });
            if holds {
                return Ok(());
            }
            let leaving: Vec<String> = wanted
                .iter()
                .filter(|(_, role)| role.is_none())
                .map(|(id, _)| id.to_string())
                .collect();
            let joining: Vec<String> = wanted
                .iter()
                .filter_map(|(id, role)| Some(joining_line(ens, known, *id, (*role)?)))
                .collect();
            match reconfig(ens, &joining, &leaving).await {
                Ok(()) => continue,
                Err(e) => last_error = e,
            }
        }
        hold(300).await;
    }
    Err(format!(
        "reconfig {wanted:?} never took effect: {last_error}\n{}",
        ens.logs_tail(25)
    ))
}

/// `server.N=host:peer:election:role;127.0.0.1:client`.
fn joining_line(ens: &Ensemble, known: &Lines, id: u64, role: &str) -> String {
    let address = &known[&id].0;
    let client = ens.client_port(id as usize);
    format!("server.{id}={address}:{role};127.0.0.1:{client}")
}

async fn admin(ens: &Ensemble) -> Result<zk::Client, String> {
    let servers = ens.connect_string();
    let connecting = zk::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(&servers);
    let client = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "no session in 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    client
        .auth("digest", format!("super:{SUPER_PASSWORD}").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    Ok(client)
}

async fn reconfig(ens: &Ensemble, joining: &[String], leaving: &[String]) -> Result<(), String> {
    let client = admin(ens).await?;
    let update = zk::EnsembleUpdate::Incremental {
        joinings: joining.iter().map(String::as_str),
        leavings: leaving.iter().map(String::as_str),
    };
    match tokio::time::timeout(Duration::from_secs(5), client.update_ensemble(update, None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer in 5 s".into()),
    }
}

/// [`read_config`], retried until `deadline`: the fault before may have left the ensemble
/// electing a leader, and one failed read must not end the run.
async fn read_config_until(ens: &Ensemble, deadline: Instant) -> Result<Lines, String> {
    loop {
        match read_config(ens).await {
            Ok(lines) => return Ok(lines),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("cannot read the configuration: {e}"))
            }
            Err(_) => hold(300).await,
        }
    }
}

/// The configuration as the ensemble shows it (after a sync), by id.
async fn read_config(ens: &Ensemble) -> Result<Lines, String> {
    let client = admin(ens).await?;
    let read = async {
        client.sync("/zookeeper/config").await?;
        client.get_data("/zookeeper/config").await
    };
    let (data, _) = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| "no answer in 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8(data).map_err(|_| "not UTF-8".to_string())?;
    Ok(parse_lines(&text))
}

/// `server.N=host:peer:election:role[;client]` lines, by id.
fn parse_lines(text: &str) -> Lines {
    let mut lines = Lines::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Some(id) = key.strip_prefix("server.").and_then(|id| id.parse().ok()) else {
            continue;
        };
        let address = value.split(';').next().unwrap_or(value);
        let Some((address, role)) = address.rsplit_once(':') else {
            continue;
        };
        lines.insert(id, (address.to_string(), role.to_string()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_by_id_with_their_roles() {
        let text = "server.1=127.0.0.1:10:11:participant\n\
                    server.4=127.0.0.1:40:41:observer;127.0.0.1:42\nversion=100000003";
        let lines = parse_lines(text);
        assert_eq!(lines[&1], ("127.0.0.1:10:11".into(), "participant".into()));
        assert_eq!(lines[&4], ("127.0.0.1:40:41".into(), "observer".into()));
        assert_eq!(lines.len(), 2);
    }
}
