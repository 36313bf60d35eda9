//! The broker's Quorum session: registration, and following the metadata it needs.
//!
//! Each session registers `/brokers/ids/<id>` (waiting out a registration an older session of
//! this broker still holds), tells the core its broker epoch (the znode's czxid), and then
//! follows `/topics` (assignments, to the core), the state znode of every partition this broker
//! holds (to the core), `/brokers/ids` (addresses, to the peers task) and `/controller` (to the
//! peers task), while taking its turn at being controller (`controller::duty`). When the session
//! ends it tells the core and starts over.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use client::zk;
use partition::{BrokerEpoch, TopicPartition};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::config::Config;
use super::controller;
use super::core::{AlterIsr, CoreMsg};
use super::peers::PeerMsg;
use super::watch;
use crate::meta::{self, MetaError};

/// Wait after a failed connection or registration.
const RETRY: Duration = Duration::from_secs(1);

/// Keeps the broker in Quorum until the core goes away.
pub async fn run(
    config: Config,
    advertise: String,
    core: mpsc::Sender<CoreMsg>,
    peers: mpsc::Sender<PeerMsg>,
    mut alter_rx: mpsc::Receiver<AlterIsr>,
) {
    loop {
        let zk = match client::connect(&config.quorum, config.session_timeout).await {
            Ok(zk) => zk,
            Err(e) => {
                tracing::warn!(quorum = %config.quorum, error = %e, "cannot reach Quorum; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        let epoch = match register(&zk, &config, &advertise).await {
            Ok(epoch) => epoch,
            Err(e) => {
                tracing::warn!(error = %e, "broker registration failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        tracing::info!(id = config.id, epoch, %advertise, "broker registered");
        if core.send(CoreMsg::Session(Some(epoch))).await.is_err() {
            return;
        }
        let why = follow(&zk, &config, &core, &peers, &mut alter_rx).await;
        tracing::warn!(%why, "Quorum session ended; registering again");
        if core.send(CoreMsg::Session(None)).await.is_err() {
            return;
        }
    }
}

/// Creates the ephemeral registration; returns its czxid, the broker epoch.
async fn register(
    zk: &zk::Client,
    config: &Config,
    advertise: &str,
) -> Result<BrokerEpoch, MetaError> {
    meta::ensure_roots(zk).await?;
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let path = meta::broker_path(config.id);
    let data = meta::encode_registration(advertise);
    let mut logged = false;
    loop {
        match zk.create(&path, &data, &ephemeral).await {
            Ok((stat, _)) => return Ok(stat.czxid as BrokerEpoch),
            Err(zk::Error::NodeExists) => match zk.check_stat(&path).await? {
                Some(stat) if stat.ephemeral_owner == zk.session_id().0 => {
                    return Ok(stat.czxid as BrokerEpoch)
                }
                Some(stat) => {
                    if !std::mem::replace(&mut logged, true) {
                        tracing::info!(%path, owner = stat.ephemeral_owner, "registration held by an older session; waiting for it to expire");
                    }
                    tokio::time::sleep(RETRY).await;
                }
                None => {}
            },
            Err(e) => return Err(e.into()),
        }
    }
}

/// Follows the metadata until the session ends; returns why it ended.
async fn follow(
    zk: &zk::Client,
    config: &Config,
    core: &mpsc::Sender<CoreMsg>,
    peers: &mpsc::Sender<PeerMsg>,
    alter_rx: &mut mpsc::Receiver<AlterIsr>,
) -> String {
    let mut tasks = JoinSet::new();
    let (topics_tx, mut topics_rx) = mpsc::channel(4);
    let (ids_tx, mut ids_rx) = mpsc::channel(4);
    tasks.spawn(watch::children(
        zk.clone(),
        meta::TOPICS.into(),
        topics_tx,
        Some,
    ));
    tasks.spawn(watch::children(
        zk.clone(),
        meta::BROKERS.into(),
        ids_tx,
        Some,
    ));
    tasks.spawn(watch::data(
        zk.clone(),
        meta::CONTROLLER.into(),
        peers.clone(),
        |data, _| {
            let id = String::from_utf8_lossy(data).lines().find_map(|l| {
                l.strip_prefix("broker=")
                    .and_then(|v| v.trim().parse().ok())
            });
            Some(PeerMsg::Controller(id))
        },
    ));
    let duty = controller::duty(zk.clone(), config.id, config.unclean_election, alter_rx);
    tokio::pin!(duty);
    let mut states = zk.state_watcher();
    let mut watched = BTreeSet::new();
    loop {
        tokio::select! {
            state = states.changed() => {
                if state.is_terminated() {
                    return format!("{state:?}");
                }
            }
            Some(names) = topics_rx.recv() => {
                match topics(zk, names).await {
                    Ok(assignments) => {
                        // The core opens the replicas first, so that the states find them.
                        if core.send(CoreMsg::Topics(assignments.clone())).await.is_err() {
                            return "the core stopped".into();
                        }
                        watch_states(zk, config, &assignments, &mut watched, &mut tasks, core);
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the topics failed"),
                }
            }
            Some(_) = ids_rx.recv() => match meta::live_brokers(zk).await {
                Ok(live) => {
                    let book = live.into_iter().map(|(id, b)| (id, b.address)).collect();
                    let _ = peers.send(PeerMsg::Brokers(book)).await;
                }
                Err(e) => tracing::warn!(error = %e, "reading the brokers failed"),
            },
            () = &mut duty => return "the controller duty ended".into(),
        }
    }
}

/// Every topic's assignment (a topic deleted meanwhile is left out).
pub async fn topics(
    zk: &zk::Client,
    names: Vec<String>,
) -> Result<BTreeMap<String, partition::Assignment>, MetaError> {
    let mut assignments = BTreeMap::new();
    for name in names {
        if let Some(assignment) = meta::read_assignment(zk, &name).await? {
            assignments.insert(name, assignment);
        }
    }
    Ok(assignments)
}

/// Starts following the state znode of every partition this broker holds and does not follow yet.
fn watch_states(
    zk: &zk::Client,
    config: &Config,
    assignments: &BTreeMap<String, partition::Assignment>,
    watched: &mut BTreeSet<TopicPartition>,
    tasks: &mut JoinSet<()>,
    core: &mpsc::Sender<CoreMsg>,
) {
    for (topic, assignment) in assignments {
        for (i, replicas) in assignment.replicas.iter().enumerate() {
            let tp = TopicPartition::new(topic, i as u32);
            if !replicas.contains(&config.id) || !watched.insert(tp.clone()) {
                continue;
            }
            let path = meta::state_path(&tp);
            tasks.spawn(watch::data(
                zk.clone(),
                path,
                core.clone(),
                move |data, stat| match meta::decode_state(data, stat) {
                    Ok((state, version)) => Some(CoreMsg::State {
                        tp: tp.clone(),
                        state,
                        version,
                    }),
                    Err(e) => {
                        tracing::error!(%tp, error = %e, "a partition state znode does not decode");
                        None
                    }
                },
            ));
        }
    }
}
