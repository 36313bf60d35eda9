//! The controller's driver: running `partition::Controller` against Quorum.
//!
//! Every broker takes part in [`duty`]: it tries to become controller (`meta::elect`) and, while
//! another broker is, waits for `/controller` to change, answering any ISR request it gets with
//! "not taken" (the leader asks again after its timeout). The elected broker follows the
//! registrations and every partition's state znode, feeds them to its `Controller`, and carries
//! out its writes (fenced multis, `meta::write_state`) until a write finds its controller epoch
//! superseded, when it resigns.

use std::collections::BTreeMap;

use client::zk;
use partition::{
    Assignment, BrokerId, Controller, ControllerAction, ControllerConfig, ControllerInput,
    Injected, PartitionState, TopicPartition, WriteResult,
};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::core::AlterIsr;
use super::session::topics;
use super::watch;
use crate::meta::{self, Elected};
use crate::wire::{BrokerResponse, IsrRefusal};

/// What the controller's helpers tell its loop.
enum Event {
    Brokers(BTreeMap<BrokerId, u64>),
    Topics(BTreeMap<String, Assignment>),
    State {
        tp: TopicPartition,
        state: PartitionState,
        version: u64,
    },
    Written {
        tp: TopicPartition,
        result: WriteResult,
    },
}

/// Takes this broker's turn at being controller, forever (the session's end stops it).
pub async fn duty(
    zk: zk::Client,
    me: BrokerId,
    unclean: bool,
    alter_rx: &mut mpsc::Receiver<AlterIsr>,
) {
    loop {
        match meta::elect(&zk, me).await {
            Ok(Some(elected)) => {
                tracing::info!(
                    controller_epoch = elected.controller_epoch,
                    "this broker is the controller"
                );
                lead(&zk, elected, unclean, alter_rx).await;
                tracing::warn!("resigned as controller");
            }
            Ok(None) => {
                let watcher = zk.check_and_watch_stat(meta::CONTROLLER).await.ok();
                let changed = async {
                    match watcher {
                        Some((Some(_), w)) => {
                            let _ = w.changed().await;
                        }
                        _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                    }
                };
                idle(alter_rx, changed).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "controller election failed; retrying");
                idle(
                    alter_rx,
                    tokio::time::sleep(std::time::Duration::from_secs(1)),
                )
                .await;
            }
        }
    }
}

/// Answers ISR requests with "not taken" until `until` completes.
async fn idle(
    alter_rx: &mut mpsc::Receiver<AlterIsr>,
    until: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => return,
            Some(alter) = alter_rx.recv() => {
                alter.conn.answer(&BrokerResponse::IsrAnswer { tag: alter.tag, refused: None });
            }
        }
    }
}

/// Runs the controller until it resigns.
async fn lead(
    zk: &zk::Client,
    elected: Elected,
    unclean: bool,
    alter_rx: &mut mpsc::Receiver<AlterIsr>,
) {
    let mut controller = Controller::new(ControllerConfig {
        controller_epoch: elected.controller_epoch,
        unclean_election: unclean,
        injected: Injected::NONE,
    });
    let (events, mut rx) = mpsc::channel(1024);
    let mut tasks = JoinSet::new();
    tasks.spawn(follow_brokers(zk.clone(), events.clone()));
    tasks.spawn(follow_topics(zk.clone(), events.clone()));
    let mut assignments = BTreeMap::new();
    let mut watched = std::collections::BTreeSet::new();
    loop {
        let (actions, alter) = tokio::select! {
            Some(event) = rx.recv() => {
                let input = match event {
                    Event::Brokers(live) => Some(ControllerInput::Brokers(live)),
                    Event::Topics(map) => {
                        follow_states(zk, &map, &mut watched, &mut tasks, &events);
                        assignments = map;
                        None
                    }
                    Event::State { tp, state, version } => replicas(&assignments, &tp)
                        .map(|replicas| ControllerInput::Partition { tp, replicas, state, version }),
                    Event::Written { tp, result } => Some(ControllerInput::Written { tp, result }),
                };
                match input {
                    Some(input) => (controller.step(input), None),
                    None => continue,
                }
            }
            Some(alter) = alter_rx.recv() => {
                let input = ControllerInput::IsrRequest { tp: alter.tp.clone(), request: alter.request.clone() };
                (controller.step(input), Some(alter))
            }
        };
        if !carry_out(zk, elected, actions, alter, &mut tasks, &events) {
            return;
        }
    }
}

fn replicas(
    assignments: &BTreeMap<String, Assignment>,
    tp: &TopicPartition,
) -> Option<Vec<BrokerId>> {
    assignments
        .get(&tp.topic)?
        .replicas
        .get(tp.partition as usize)
        .cloned()
}

/// Carries out the controller's actions; false once it resigned. An ISR request is answered
/// with its refusal, if the controller refused it, or else as taken up.
fn carry_out(
    zk: &zk::Client,
    elected: Elected,
    actions: Vec<ControllerAction>,
    alter: Option<AlterIsr>,
    tasks: &mut JoinSet<()>,
    events: &mpsc::Sender<Event>,
) -> bool {
    let mut refused = None;
    for action in actions {
        match action {
            ControllerAction::Write {
                tp,
                expected_version,
                state,
            } => {
                let (zk, events) = (zk.clone(), events.clone());
                tasks.spawn(async move {
                    let result = meta::write_state(&zk, &tp, expected_version, &state, elected).await;
                    tracing::info!(%tp, ?result, state = %state.encode().replace('\n', " "), "partition state written");
                    let _ = events.send(Event::Written { tp, result }).await;
                });
            }
            ControllerAction::Reread { tp } => {
                let (zk, events) = (zk.clone(), events.clone());
                tasks.spawn(async move {
                    if let Ok(Some((state, version))) = meta::read_state(&zk, &tp).await {
                        let _ = events.send(Event::State { tp, state, version }).await;
                    }
                });
            }
            ControllerAction::IsrRefused {
                leader_epoch,
                deposed,
                state_version,
                ..
            } => {
                refused = Some(IsrRefusal {
                    leader_epoch,
                    deposed,
                    state_version,
                })
            }
            ControllerAction::UncleanElection { tp, leader } => {
                tracing::error!(%tp, leader, "UNCLEAN leader election: records this partition had committed may be lost");
            }
            ControllerAction::Resign => return false,
        }
    }
    if let Some(alter) = alter {
        alter.conn.answer(&BrokerResponse::IsrAnswer {
            tag: alter.tag,
            refused,
        });
    }
    true
}

/// Follows the registrations: broker id → broker epoch.
async fn follow_brokers(zk: zk::Client, events: mpsc::Sender<Event>) {
    let (tx, mut rx) = mpsc::channel(4);
    let watching = tokio::spawn(watch::children(zk.clone(), meta::BROKERS.into(), tx, Some));
    while rx.recv().await.is_some() {
        match meta::live_brokers(&zk).await {
            Ok(live) => {
                let epochs = live.into_iter().map(|(id, b)| (id, b.epoch)).collect();
                if events.send(Event::Brokers(epochs)).await.is_err() {
                    break;
                }
            }
            Err(e) => tracing::warn!(error = %e, "controller: reading the brokers failed"),
        }
    }
    watching.abort();
}

/// Follows the topics' assignments.
async fn follow_topics(zk: zk::Client, events: mpsc::Sender<Event>) {
    let (tx, mut rx) = mpsc::channel(4);
    let watching = tokio::spawn(watch::children(zk.clone(), meta::TOPICS.into(), tx, Some));
    while let Some(names) = rx.recv().await {
        match topics(&zk, names).await {
            Ok(map) => {
                if events.send(Event::Topics(map)).await.is_err() {
                    break;
                }
            }
            Err(e) => tracing::warn!(error = %e, "controller: reading the topics failed"),
        }
    }
    watching.abort();
}

/// Starts following the state znode of every partition not followed yet.
fn follow_states(
    zk: &zk::Client,
    assignments: &BTreeMap<String, Assignment>,
    watched: &mut std::collections::BTreeSet<TopicPartition>,
    tasks: &mut JoinSet<()>,
    events: &mpsc::Sender<Event>,
) {
    for (topic, assignment) in assignments {
        for i in 0..assignment.replicas.len() {
            let tp = TopicPartition::new(topic, i as u32);
            if !watched.insert(tp.clone()) {
                continue;
            }
            let path = meta::state_path(&tp);
            tasks.spawn(watch::data(
                zk.clone(),
                path,
                events.clone(),
                move |data, stat| {
                    let (state, version) = meta::decode_state(data, stat).ok()?;
                    Some(Event::State {
                        tp: tp.clone(),
                        state,
                        version,
                    })
                },
            ));
        }
    }
}
