//! The core task: every replica of this broker, and the routing of what they ask.
//!
//! It owns the `partition::Replica` of each partition the broker holds, feeds each one its
//! inputs (requests from connections, answers from peers, durability reports from its disk
//! thread, state znodes from the Quorum session, the clock) and carries out its actions: disk
//! commands go to the partition's disk thread, answers to the asking connection, requests to
//! the peers task. It does no IO itself beyond opening an empty partition's store.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use partition::{
    Action, Assignment, BrokerEpoch, Input, IsrRequest, PartitionState, Recovered, Replica,
    ReplicaConfig, Response, RoleView, Token, TopicPartition,
};
use tokio::sync::mpsc;

use super::config::Config;
use super::conn::ConnHandle;
use super::disk::{self, DiskCmd};
use super::peers::PeerMsg;
use crate::store::{partition_dir, PartitionStore, StoreConfig};
use crate::wire::{BrokerRequest, BrokerResponse, IsrRefusal, Role};

pub type ConnId = u64;

/// Everything the core hears.
pub enum CoreMsg {
    Open {
        id: ConnId,
        handle: ConnHandle,
    },
    Closed {
        id: ConnId,
    },
    Request {
        id: ConnId,
        request: BrokerRequest,
    },
    /// The Quorum session: registered under a broker epoch, or lost.
    Session(Option<BrokerEpoch>),
    /// Every topic's assignment.
    Topics(BTreeMap<String, Assignment>),
    State {
        tp: TopicPartition,
        state: PartitionState,
        version: u64,
    },
    Appended {
        tp: TopicPartition,
        end: u64,
    },
    DiskFailed {
        tp: TopicPartition,
        error: String,
    },
    PeerAnswer {
        tp: TopicPartition,
        id: u64,
        response: Response,
    },
    PeerLost {
        tp: TopicPartition,
        id: u64,
    },
    IsrAnswer {
        tp: TopicPartition,
        refused: Option<IsrRefusal>,
    },
    Tick,
}

/// A leader's ISR request for the controller, with where to answer it.
pub struct AlterIsr {
    pub tp: TopicPartition,
    pub request: IsrRequest,
    pub conn: ConnHandle,
    pub tag: u64,
}

struct Slot {
    replica: Replica,
    disk: mpsc::Sender<DiskCmd>,
}

pub struct Core {
    config: Config,
    epoch: Option<BrokerEpoch>,
    sessions: u64,
    /// Stores opened at start, waiting for their topic's assignment and a session.
    unattached: BTreeMap<TopicPartition, (PartitionStore, Recovered)>,
    slots: BTreeMap<TopicPartition, Slot>,
    assignments: BTreeMap<String, Assignment>,
    conns: HashMap<ConnId, ConnHandle>,
    tokens: HashMap<Token, (ConnId, u64)>,
    next_token: Token,
    peers: mpsc::Sender<PeerMsg>,
    controller: mpsc::Sender<AlterIsr>,
    me: mpsc::Sender<CoreMsg>,
    started: Instant,
}

impl Core {
    pub fn new(
        config: Config,
        unattached: BTreeMap<TopicPartition, (PartitionStore, Recovered)>,
        peers: mpsc::Sender<PeerMsg>,
        controller: mpsc::Sender<AlterIsr>,
        me: mpsc::Sender<CoreMsg>,
    ) -> Core {
        Core {
            config,
            epoch: None,
            sessions: 0,
            unattached,
            slots: BTreeMap::new(),
            assignments: BTreeMap::new(),
            conns: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 1,
            peers,
            controller,
            me,
            started: Instant::now(),
        }
    }

    /// Runs until every sender is gone or a disk fails (the error is returned: the broker
    /// must stop rather than serve from a log it can no longer write).
    pub async fn run(mut self, mut rx: mpsc::Receiver<CoreMsg>) -> Result<(), String> {
        while let Some(msg) = rx.recv().await {
            self.handle(msg).await?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: CoreMsg) -> Result<(), String> {
        match msg {
            CoreMsg::Open { id, handle } => {
                self.conns.insert(id, handle);
            }
            CoreMsg::Closed { id } => {
                self.conns.remove(&id);
            }
            CoreMsg::Request { id, request } => self.request(id, request).await,
            CoreMsg::Session(epoch) => self.session(epoch).await,
            CoreMsg::Topics(assignments) => {
                self.assignments = assignments;
                self.attach().await?;
            }
            CoreMsg::State { tp, state, version } => {
                self.step(&tp, Input::State { state, version }).await
            }
            CoreMsg::Appended { tp, end } => self.step(&tp, Input::Appended { end }).await,
            CoreMsg::DiskFailed { tp, error } => {
                return Err(format!("the log of {tp} failed: {error}"));
            }
            CoreMsg::PeerAnswer { tp, id, response } => {
                self.step(&tp, Input::Answer { id, response }).await
            }
            CoreMsg::PeerLost { tp, id } => self.step(&tp, Input::AnswerLost { id }).await,
            CoreMsg::IsrAnswer { tp, refused } => {
                if let Some(why) = refused {
                    let input = Input::IsrRefused {
                        leader_epoch: why.leader_epoch,
                        deposed: why.deposed,
                        state_version: why.state_version,
                    };
                    self.step(&tp, input).await;
                }
            }
            CoreMsg::Tick => {
                let now_ms = self.started.elapsed().as_millis() as u64;
                let tps: Vec<TopicPartition> = self.slots.keys().cloned().collect();
                for tp in tps {
                    self.step(&tp, Input::Tick { now_ms }).await;
                }
            }
        }
        Ok(())
    }

    async fn request(&mut self, id: ConnId, request: BrokerRequest) {
        let Some(conn) = self.conns.get(&id).cloned() else {
            return;
        };
        match request {
            BrokerRequest::Partition {
                tag,
                tp,
                mut request,
            } => {
                // A fetch asks for at most what one answer frame may carry.
                if let partition::Request::Fetch { max_bytes, .. } = &mut request {
                    *max_bytes = (*max_bytes).min(self.config.limits.max_fetch_bytes);
                }
                if !self.slots.contains_key(&tp) {
                    let response = Response::Error(partition::ErrorCode::NotLeader);
                    return conn.answer(&BrokerResponse::Partition { tag, response });
                }
                let token = self.next_token;
                self.next_token += 1;
                self.tokens.insert(token, (id, tag));
                self.step(&tp, Input::Request { token, request }).await;
            }
            BrokerRequest::Describe { tag, tp } => conn.answer(&self.describe(tag, &tp)),
            BrokerRequest::AlterIsr { tag, tp, request } => {
                let forward = AlterIsr {
                    tp,
                    request,
                    conn: conn.clone(),
                    tag,
                };
                if self.controller.try_send(forward).is_err() {
                    conn.answer(&BrokerResponse::IsrAnswer { tag, refused: None });
                }
            }
        }
    }

    fn describe(&self, tag: u64, tp: &TopicPartition) -> BrokerResponse {
        let Some(slot) = self.slots.get(tp) else {
            return BrokerResponse::Described {
                tag,
                role: Role::NoReplica,
                leader_epoch: None,
                high_watermark: 0,
                log_end: 0,
            };
        };
        let r = &slot.replica;
        let (role, leader_epoch) = match r.role() {
            RoleView::Idle => (Role::Idle, None),
            RoleView::Leader { epoch } => (Role::Leader, Some(epoch)),
            RoleView::Follower { epoch, .. } => (Role::Follower, Some(epoch)),
        };
        BrokerResponse::Described {
            tag,
            role,
            leader_epoch,
            high_watermark: r.high_watermark(),
            log_end: r.durable_end(),
        }
    }

    /// A new session restarts every replica under the new broker epoch; a lost one changes
    /// nothing until then (a leader that has not noticed goes on, and cannot commit alone).
    async fn session(&mut self, epoch: Option<BrokerEpoch>) {
        self.epoch = epoch;
        let Some(epoch) = epoch else {
            return;
        };
        self.sessions += 1;
        let base = self.sessions << 32;
        let tps: Vec<TopicPartition> = self.slots.keys().cloned().collect();
        for tp in tps {
            let Some(slot) = self.slots.get_mut(&tp) else {
                continue;
            };
            let actions = slot.replica.new_session(epoch, base);
            self.carry_out(&tp, actions).await;
        }
        if let Err(e) = self.attach().await {
            tracing::error!(error = %e, "opening partitions failed");
        }
    }

    /// Creates a replica for every assigned partition that has none yet.
    async fn attach(&mut self) -> Result<(), String> {
        let Some(epoch) = self.epoch else {
            return Ok(());
        };
        let me = self.config.id;
        let mut wanted = Vec::new();
        for (topic, assignment) in &self.assignments {
            for (i, replicas) in assignment.replicas.iter().enumerate() {
                let tp = TopicPartition::new(topic, i as u32);
                if replicas.contains(&me) && !self.slots.contains_key(&tp) {
                    let min = assignment.min_insync.unwrap_or(self.config.min_insync);
                    wanted.push((tp, replicas.clone(), min));
                }
            }
        }
        for (tp, replicas, min_insync) in wanted {
            let (store, recovered) = match self.unattached.remove(&tp) {
                Some(opened) => opened,
                None => {
                    let dir =
                        partition_dir(&self.config.data_dir, &tp).map_err(|e| e.to_string())?;
                    let config = StoreConfig {
                        fsync: self.config.fsync,
                        ..StoreConfig::default()
                    };
                    // Creating a log preallocates its first segment: let the runtime's other
                    // tasks run meanwhile.
                    tokio::task::block_in_place(|| PartitionStore::open(&dir, &config))
                        .map_err(|e| e.to_string())?
                }
            };
            let config = self.replica_config(&tp, replicas, min_insync, epoch);
            let replica =
                Replica::new(config, recovered, self.started.elapsed().as_millis() as u64);
            let (disk_tx, disk_rx) = mpsc::channel(self.config.limits.disk_queue_commands);
            let (core, fsync, name) = (self.me.clone(), self.config.fsync, tp.clone());
            std::thread::Builder::new()
                .name(format!("disk-{tp}"))
                .spawn(move || disk::run(name, store, fsync, disk_rx, core))
                .map_err(|e| format!("disk thread: {e}"))?;
            tracing::info!(%tp, "replica opened");
            self.slots.insert(
                tp,
                Slot {
                    replica,
                    disk: disk_tx,
                },
            );
        }
        Ok(())
    }

    fn replica_config(
        &self,
        tp: &TopicPartition,
        replicas: Vec<partition::BrokerId>,
        min_insync: usize,
        epoch: BrokerEpoch,
    ) -> ReplicaConfig {
        let c = &self.config;
        ReplicaConfig {
            tp: tp.clone(),
            me: c.id,
            broker_epoch: epoch,
            replicas,
            min_insync,
            lag_max_ms: c.lag_max.as_millis() as u64,
            fetch_max_wait_ms: c.fetch_max_wait.as_millis() as u64,
            request_timeout_ms: c.request_timeout.as_millis() as u64,
            retry_backoff_ms: 50,
            fetch_max_bytes: c.limits.replica_fetch_bytes,
            max_pending_produces: c.limits.max_pending_produces,
            max_parked_fetches: c.limits.max_parked_fetches,
            max_producers: c.limits.max_producers,
            request_id_base: self.sessions << 32,
            injected: partition::Injected::NONE,
        }
    }

    async fn step(&mut self, tp: &TopicPartition, input: Input) {
        let Some(slot) = self.slots.get_mut(tp) else {
            return;
        };
        let actions = slot.replica.step(input);
        self.carry_out(tp, actions).await;
    }

    async fn carry_out(&mut self, tp: &TopicPartition, actions: Vec<Action>) {
        let mut inputs = Vec::new();
        for action in actions {
            if let Some(input) = self.action(tp, action).await {
                inputs.push(input);
            }
        }
        for input in inputs {
            Box::pin(self.step(tp, input)).await;
        }
    }

    /// Carries out one action; returns an input to feed back when it failed at once.
    async fn action(&mut self, tp: &TopicPartition, action: Action) -> Option<Input> {
        let disk = self.slots.get(tp)?.disk.clone();
        match action {
            Action::Append { batch } => {
                let _ = disk.send(DiskCmd::Append(batch)).await;
            }
            Action::Truncate { to } => {
                let _ = disk.send(DiskCmd::Truncate(to)).await;
            }
            Action::Reply { token, response } => {
                let (conn, tag) = self.tokens.remove(&token)?;
                let conn = self.conns.get(&conn)?;
                conn.answer(&BrokerResponse::Partition { tag, response });
            }
            Action::ServeFetch {
                token,
                from,
                up_to,
                high_watermark,
                log_end,
                max_bytes,
            } => {
                let (conn, tag) = self.tokens.remove(&token)?;
                let conn = self.conns.get(&conn)?.clone();
                let read = DiskCmd::Read {
                    conn,
                    tag,
                    from,
                    up_to,
                    max_bytes,
                    high_watermark,
                    log_end,
                };
                let _ = disk.send(read).await;
            }
            Action::Send { to, id, request } => {
                let msg = PeerMsg::Send {
                    to,
                    tp: tp.clone(),
                    id,
                    request,
                };
                if self.peers.try_send(msg).is_err() {
                    return Some(Input::AnswerLost { id });
                }
            }
            Action::RequestIsr { request } => {
                let _ = self.peers.try_send(PeerMsg::AlterIsr {
                    tp: tp.clone(),
                    request,
                });
            }
        }
        None
    }
}
