//! The simulated brokers: each runs the real `partition::Replica` for the partitions it holds,
//! and the real `partition::Controller` while it is controller, on simulated disks.

use std::collections::BTreeMap;

use partition::{
    Action, Batch, BatchHeader, BrokerEpoch, BrokerId, Controller, ControllerAction,
    ControllerConfig, ControllerInput, EpochCache, Injected, Input, Offset, Recovered, Replica,
    ReplicaConfig, Response, TopicPartition, WriteResult,
};

use super::world::{Endpoint, LogWorld, Msg, Task, TICK};
use crate::rng::mix;

/// A partition's log on a simulated disk: batches, of which the first `synced` are durable.
#[derive(Clone, Debug, Default)]
pub(super) struct SimLog {
    pub batches: Vec<Batch>,
    pub synced: usize,
    /// A chained hash per record offset (epoch and payload), for O(1) prefix comparisons.
    pub hashes: Vec<u64>,
}

impl SimLog {
    pub fn end(&self) -> Offset {
        self.hashes.len() as Offset
    }

    pub fn append(&mut self, batch: Batch) {
        for record in &batch.records {
            let prev = self.hashes.last().copied().unwrap_or(0);
            let h = mix(mix(prev, &batch.header.epoch.to_be_bytes()), record);
            self.hashes.push(h);
        }
        self.batches.push(batch);
    }

    pub fn truncate(&mut self, to: Offset) {
        self.batches.retain(|b| b.end_offset() <= to);
        self.synced = self.synced.min(self.batches.len());
        self.hashes.truncate(to as usize);
    }

    /// The record at `offset`: its epoch and payload.
    pub fn record(&self, offset: Offset) -> Option<(u32, &[u8])> {
        let batch = self
            .batches
            .iter()
            .find(|b| b.header.base_offset <= offset && offset < b.end_offset())?;
        let index = (offset - batch.header.base_offset) as usize;
        Some((batch.header.epoch, &batch.records[index]))
    }

    /// A crash: unsynced batches are lost, except a prefix of them that happened to reach the disk.
    pub fn crash(&mut self, kept_unsynced: usize) {
        let keep = (self.synced + kept_unsynced).min(self.batches.len());
        let end = self.batches[..keep].last().map_or(0, |b| b.end_offset());
        self.truncate(end);
        self.synced = self.batches.len();
    }

    pub fn recovered(&self) -> Recovered {
        let mut entries: Vec<(u32, Offset)> = Vec::new();
        for b in &self.batches {
            if entries.last().is_none_or(|&(e, _)| e != b.header.epoch) {
                entries.push((b.header.epoch, b.header.base_offset));
            }
        }
        let tail: Vec<BatchHeader> = self.batches.iter().map(|b| b.header).collect();
        Recovered {
            log_end: self.end(),
            epochs: EpochCache::from_entries(entries).expect("a simulated log is in order"),
            tail,
        }
    }

    fn read(&self, from: Offset, up_to: Offset, max_bytes: u32) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for b in self
            .batches
            .iter()
            .filter(|b| b.end_offset() > from && b.end_offset() <= up_to)
        {
            if !out.is_empty() && bytes >= max_bytes as usize {
                break;
            }
            bytes += b.payload_bytes();
            out.push(b.clone());
        }
        out
    }
}

/// The controller role of a broker.
pub(super) struct Hosted {
    pub controller: Controller,
    /// The version of `/controller_epoch` this controller set.
    pub version: u64,
    /// Writes in flight: op and when sent.
    pub writes: BTreeMap<TopicPartition, (u64, u64)>,
}

pub(super) struct SimBroker {
    pub id: BrokerId,
    pub up: bool,
    pub life: u64,
    pub paused_until: u64,
    /// The registration this incarnation holds (None while registering).
    pub epoch: Option<BrokerEpoch>,
    pub disks: BTreeMap<TopicPartition, SimLog>,
    pub replicas: BTreeMap<TopicPartition, Replica>,
    /// Requests a replica must answer: token → (who asked, their tag or id).
    tokens: BTreeMap<u64, (Endpoint, u64)>,
    next_token: u64,
    pub hosted: Option<Hosted>,
    pub disk_busy_until: u64,
    next_op: u64,
    /// Registrations so far (each gives the replicas a fresh range of request ids).
    sessions: u64,
}

impl SimBroker {
    pub fn new(id: BrokerId) -> SimBroker {
        SimBroker {
            id,
            up: false,
            life: 0,
            paused_until: 0,
            epoch: None,
            disks: BTreeMap::new(),
            replicas: BTreeMap::new(),
            tokens: BTreeMap::new(),
            next_token: 1,
            hosted: None,
            disk_busy_until: 0,
            next_op: 0,
            sessions: 0,
        }
    }
}

impl LogWorld {
    fn broker(&mut self, id: BrokerId) -> &mut SimBroker {
        &mut self.brokers[id as usize - 1]
    }

    /// Starts (or restarts) a broker: it registers, then opens its replicas.
    pub(super) fn boot(&mut self, id: BrokerId) {
        let b = self.broker(id);
        b.up = true;
        b.life += 1;
        b.epoch = None;
        b.hosted = None;
        b.replicas.clear();
        b.tokens.clear();
        let life = b.life;
        self.note(|| format!("broker {id} starts (life {life})"));
        self.schedule(1, Task::Tick { broker: id, life });
    }

    pub(super) fn crash(&mut self, id: BrokerId) {
        let kept: Vec<usize> = (0..self.opts.partitions)
            .map(|_| self.rng.below(3) as usize)
            .collect();
        let b = self.broker(id);
        if !b.up {
            return;
        }
        b.up = false;
        b.life += 1;
        b.epoch = None;
        b.hosted = None;
        b.replicas.clear();
        b.tokens.clear();
        for (disk, keep) in b.disks.values_mut().zip(kept) {
            disk.crash(keep);
        }
        self.report.crashes += 1;
        self.note(|| format!("broker {id} crashes"));
    }

    pub(super) fn tick(&mut self, id: BrokerId, life: u64) {
        let b = &self.brokers[id as usize - 1];
        if !b.up || b.life != life {
            return;
        }
        let me = Endpoint::Broker(id);
        match b.epoch {
            None => self.send(me, Endpoint::Store, Msg::Register { life }),
            Some(epoch) => {
                if self.now % (self.opts.session_timeout / 4).max(TICK) < TICK {
                    self.send(me, Endpoint::Store, Msg::Heartbeat { epoch });
                }
                if self.now % 50 < TICK && self.brokers[id as usize - 1].hosted.is_none() {
                    self.send(me, Endpoint::Store, Msg::TryControl { epoch });
                }
                if self.now % 100 < TICK {
                    self.resync(id);
                }
                let tps: Vec<TopicPartition> = self.brokers[id as usize - 1]
                    .replicas
                    .keys()
                    .cloned()
                    .collect();
                for tp in tps {
                    self.replica_step(id, &tp, Input::Tick { now_ms: self.now });
                }
                self.controller_timeouts(id);
            }
        }
        self.schedule(TICK, Task::Tick { broker: id, life });
    }

    /// Re-reads what watches may have missed.
    fn resync(&mut self, id: BrokerId) {
        let me = Endpoint::Broker(id);
        let tps: Vec<TopicPartition> = self.store.states.keys().cloned().collect();
        for tp in tps {
            self.send(me, Endpoint::Store, Msg::ReadState { tp });
        }
        if self.brokers[id as usize - 1].hosted.is_some() {
            self.send(me, Endpoint::Store, Msg::ReadBrokers);
        }
    }

    pub(super) fn at_broker(&mut self, id: BrokerId, from: Endpoint, msg: Msg) {
        let b = &self.brokers[id as usize - 1];
        if !b.up {
            return;
        }
        match msg {
            Msg::Registered { life, epoch } if life == b.life && b.epoch.is_none() => {
                self.registered(id, epoch)
            }
            Msg::SessionExpired { epoch } if b.epoch == Some(epoch) => {
                // The session is gone: start again as a new incarnation, keeping the disk.
                self.note(|| format!("broker {id} learns its session expired"));
                self.session_lost(id);
            }
            Msg::Elected {
                epoch,
                controller_epoch,
                version,
            } if b.epoch == Some(epoch) => self.elected(id, controller_epoch, version),
            Msg::StateIs { tp, state, version } => {
                let replicas = self.assignment.replicas[tp.partition as usize].clone();
                if let Some(hosted) = &mut self.broker(id).hosted {
                    let input = ControllerInput::Partition {
                        tp: tp.clone(),
                        replicas,
                        state: state.clone(),
                        version,
                    };
                    let actions = hosted.controller.step(input);
                    self.controller_actions(id, actions);
                }
                self.replica_step(id, &tp, partition::Input::State { state, version });
            }
            Msg::BrokersAre(live) => self.controller_step(id, ControllerInput::Brokers(live)),
            Msg::WriteDone { tp, op, result } => {
                let Some(hosted) = &mut self.broker(id).hosted else {
                    return;
                };
                if hosted.writes.get(&tp).map(|&(o, _)| o) != Some(op) {
                    return;
                }
                hosted.writes.remove(&tp);
                self.controller_step(id, ControllerInput::Written { tp, result });
            }
            Msg::IsrAsked { tp, request } => {
                self.controller_step(id, ControllerInput::IsrRequest { tp, request })
            }
            Msg::IsrRefused {
                tp,
                leader_epoch,
                deposed,
                state_version,
            } => {
                let input = Input::IsrRefused {
                    leader_epoch,
                    deposed,
                    state_version,
                };
                self.replica_step(id, &tp, input)
            }
            Msg::Replicate {
                tp,
                id: asked,
                request,
            } => {
                let token = self.token(id, from, asked);
                self.replica_request(id, &tp, token, request, from, asked);
            }
            Msg::Replicated {
                tp,
                id: asked,
                response,
            } => self.replica_step(
                id,
                &tp,
                Input::Answer {
                    id: asked,
                    response,
                },
            ),
            Msg::Client { tp, tag, request } => {
                let token = self.token(id, from, tag);
                self.replica_request(id, &tp, token, request, from, tag);
            }
            _ => {}
        }
    }

    /// The process lives on but its session expired: it registers again, and its replicas
    /// carry on (a leader that has not noticed is a zombie) until the new session starts them
    /// afresh (`Replica::new_session`), as the broker does.
    fn session_lost(&mut self, id: BrokerId) {
        let b = self.broker(id);
        b.epoch = None;
        b.hosted = None;
    }

    fn token(&mut self, id: BrokerId, from: Endpoint, tag: u64) -> u64 {
        let b = self.broker(id);
        let token = b.next_token;
        b.next_token += 1;
        b.tokens.insert(token, (from, tag));
        token
    }

    fn replica_request(
        &mut self,
        id: BrokerId,
        tp: &TopicPartition,
        token: u64,
        request: partition::Request,
        from: Endpoint,
        tag: u64,
    ) {
        if self.brokers[id as usize - 1].replicas.contains_key(tp) {
            return self.replica_step(id, tp, Input::Request { token, request });
        }
        self.broker(id).tokens.remove(&token);
        let response = Response::Error(partition::ErrorCode::NotLeader);
        self.answer(id, tp, from, tag, response);
    }

    fn registered(&mut self, id: BrokerId, epoch: BrokerEpoch) {
        let now = self.now;
        let b = &mut self.brokers[id as usize - 1];
        b.sessions += 1;
        let base = b.sessions << 32;
        let held: Vec<(TopicPartition, Vec<BrokerId>)> = self
            .store
            .states
            .keys()
            .map(|tp| {
                (
                    tp.clone(),
                    self.assignment.replicas[tp.partition as usize].clone(),
                )
            })
            .filter(|(_, replicas)| replicas.contains(&id))
            .collect();
        let configs: Vec<ReplicaConfig> = held
            .into_iter()
            .map(|(tp, replicas)| replica_config(&self.opts, base, id, epoch, &tp, replicas))
            .collect();
        let b = self.broker(id);
        b.epoch = Some(epoch);
        let mut replies = Vec::new();
        for config in configs {
            let tp = config.tp.clone();
            if let Some(replica) = b.replicas.get_mut(&tp) {
                replies.push((tp, replica.new_session(epoch, base)));
                continue;
            }
            let disk = b.disks.entry(tp.clone()).or_default();
            b.replicas
                .insert(tp, Replica::new(config, disk.recovered(), now));
        }
        for (tp, actions) in replies {
            for action in actions {
                self.replica_action(id, &tp, None, action);
            }
        }
        self.note(|| format!("broker {id} registered with epoch {epoch}"));
        self.resync(id);
    }

    fn elected(&mut self, id: BrokerId, controller_epoch: u64, version: u64) {
        let config = ControllerConfig {
            controller_epoch,
            unclean_election: false,
            injected: Injected::NONE,
        };
        self.broker(id).hosted = Some(Hosted {
            controller: Controller::new(config),
            version,
            writes: BTreeMap::new(),
        });
        self.note(|| format!("broker {id} becomes controller (epoch {controller_epoch})"));
        self.resync(id);
    }

    pub(super) fn durable(&mut self, id: BrokerId, life: u64, tp: TopicPartition, batches: usize) {
        let b = self.broker(id);
        if !b.up || b.life != life {
            return;
        }
        let Some(disk) = b.disks.get_mut(&tp) else {
            return;
        };
        disk.synced = disk.synced.max(batches.min(disk.batches.len()));
        let end = disk.batches[..disk.synced]
            .last()
            .map_or(0, |b| b.end_offset());
        self.replica_step(id, &tp, Input::Appended { end });
    }

    /// Feeds a replica one input and carries out its actions.
    pub(super) fn replica_step(&mut self, id: BrokerId, tp: &TopicPartition, input: Input) {
        let traced = self.log.is_some().then(|| format!("{input:?}"));
        if let (Some(line), false) = (&traced, matches!(input, Input::Tick { .. })) {
            let line = format!("broker {id} {tp} <- {}", &line[..line.len().min(200)]);
            if let Some(log) = &mut self.log {
                log.push((self.now, line));
            }
        }
        let Some(replica) = self.broker(id).replicas.get_mut(tp) else {
            return;
        };
        let (was_leading, old_hw) = (replica.leading(), replica.high_watermark());
        let actions = replica.step(input);
        let leading = replica.leading();
        let hw = replica.high_watermark();
        let life = self.brokers[id as usize - 1].life;
        if leading != was_leading {
            self.note(|| format!("broker {id} {tp}: leading {was_leading:?} -> {leading:?}"));
        }
        if leading.is_some() && (leading != was_leading || hw != old_hw) {
            let from = if leading == was_leading { old_hw } else { 0 };
            let disk = &self.brokers[id as usize - 1].disks[tp];
            let result = self.checker.leader_committed(id, tp, from, hw, disk);
            self.check(result);
        }
        let result = self.checker.high_watermark(id, life, tp, hw);
        self.check(result);
        for action in actions {
            self.replica_action(id, tp, leading, action);
        }
        let result = self.checker.prefixes(tp, &self.brokers);
        self.check(result);
    }

    fn replica_action(
        &mut self,
        id: BrokerId,
        tp: &TopicPartition,
        leading: Option<u32>,
        action: Action,
    ) {
        let me = Endpoint::Broker(id);
        match action {
            Action::Append { batch } => {
                if leading == Some(batch.header.epoch) {
                    let disk = &self.brokers[id as usize - 1].disks[tp];
                    let result = self.checker.leader_append(id, tp, &batch, disk);
                    self.check(result);
                    self.report.produced_records += u64::from(batch.header.count);
                }
                let latency = self.rng.between(1, self.opts.fsync_max);
                let now = self.now;
                let b = self.broker(id);
                let disk = b.disks.entry(tp.clone()).or_default();
                disk.append(batch);
                let batches = disk.batches.len();
                let done = b.disk_busy_until.max(now) + latency;
                b.disk_busy_until = done;
                let life = b.life;
                let task = Task::Durable {
                    broker: id,
                    life,
                    tp: tp.clone(),
                    batches,
                };
                self.schedule(done - now, task);
            }
            Action::Truncate { to } => {
                self.report.truncations += 1;
                if let Some(disk) = self.broker(id).disks.get_mut(tp) {
                    disk.truncate(to);
                }
            }
            Action::Reply { token, response } => {
                if let Some((to, tag)) = self.broker(id).tokens.remove(&token) {
                    self.answer(id, tp, to, tag, response);
                }
            }
            Action::ServeFetch {
                token,
                from,
                up_to,
                high_watermark,
                log_end,
                max_bytes,
            } => {
                let batches = self.brokers[id as usize - 1].disks[tp].read(from, up_to, max_bytes);
                let response = Response::Fetched {
                    high_watermark,
                    log_end,
                    batches,
                };
                if let Some((to, tag)) = self.broker(id).tokens.remove(&token) {
                    self.answer(id, tp, to, tag, response);
                }
            }
            Action::Send {
                to,
                id: asked,
                request,
            } => {
                let msg = Msg::Replicate {
                    tp: tp.clone(),
                    id: asked,
                    request,
                };
                self.send(me, Endpoint::Broker(to), msg);
            }
            Action::RequestIsr { request } => {
                let msg = Msg::AskIsr {
                    tp: tp.clone(),
                    request,
                };
                self.send(me, Endpoint::Store, msg);
            }
        }
    }

    fn answer(
        &mut self,
        id: BrokerId,
        tp: &TopicPartition,
        to: Endpoint,
        tag: u64,
        response: Response,
    ) {
        let tp = tp.clone();
        let msg = match to {
            Endpoint::Broker(_) => Msg::Replicated {
                tp,
                id: tag,
                response,
            },
            _ => Msg::ClientAnswer { tp, tag, response },
        };
        self.send(Endpoint::Broker(id), to, msg);
    }

    fn controller_step(&mut self, id: BrokerId, input: ControllerInput) {
        let Some(hosted) = &mut self.broker(id).hosted else {
            return;
        };
        let actions = hosted.controller.step(input);
        self.controller_actions(id, actions);
    }

    fn controller_actions(&mut self, id: BrokerId, actions: Vec<ControllerAction>) {
        let me = Endpoint::Broker(id);
        for action in actions {
            match action {
                ControllerAction::Write {
                    tp,
                    expected_version,
                    state,
                } => {
                    let now = self.now;
                    let b = self.broker(id);
                    b.next_op += 1;
                    let op = b.next_op;
                    let Some(hosted) = &mut b.hosted else {
                        return;
                    };
                    hosted.writes.insert(tp.clone(), (op, now));
                    let msg = Msg::Write {
                        tp,
                        op,
                        expected: expected_version,
                        state,
                        controller_version: hosted.version,
                    };
                    self.send(me, Endpoint::Store, msg);
                }
                ControllerAction::Reread { tp } => {
                    self.send(me, Endpoint::Store, Msg::ReadState { tp })
                }
                ControllerAction::IsrRefused {
                    tp,
                    leader,
                    leader_epoch,
                    deposed,
                    state_version,
                } => {
                    let msg = Msg::IsrRefused {
                        tp,
                        leader_epoch,
                        deposed,
                        state_version,
                    };
                    self.send(me, Endpoint::Broker(leader), msg)
                }
                ControllerAction::UncleanElection { .. } => {}
                ControllerAction::Resign => {
                    self.note(|| format!("broker {id} resigns as controller"));
                    self.broker(id).hosted = None;
                    return;
                }
            }
        }
    }

    /// A write with no answer within the timeout is reported as a version conflict (re-read).
    fn controller_timeouts(&mut self, id: BrokerId) {
        let (now, timeout) = (self.now, self.opts.timeout);
        let Some(hosted) = &mut self.broker(id).hosted else {
            return;
        };
        let late: Vec<TopicPartition> = hosted
            .writes
            .iter()
            .filter(|(_, &(_, sent))| now.saturating_sub(sent) >= timeout)
            .map(|(tp, _)| tp.clone())
            .collect();
        hosted.writes.retain(|tp, _| !late.contains(tp));
        for tp in late {
            let result = WriteResult::BadVersion;
            self.controller_step(id, ControllerInput::Written { tp, result });
        }
    }
}

fn replica_config(
    opts: &super::options::LogOptions,
    request_id_base: u64,
    me: BrokerId,
    broker_epoch: BrokerEpoch,
    tp: &TopicPartition,
    replicas: Vec<BrokerId>,
) -> ReplicaConfig {
    ReplicaConfig {
        tp: tp.clone(),
        me,
        broker_epoch,
        replicas,
        min_insync: opts.min_insync,
        lag_max_ms: opts.lag_max,
        fetch_max_wait_ms: opts.fetch_wait,
        request_timeout_ms: opts.timeout,
        retry_backoff_ms: 10,
        fetch_max_bytes: 64,
        max_pending_produces: 64,
        max_parked_fetches: 16,
        max_producers: 64,
        request_id_base,
        injected: injected(opts.bug),
    }
}

#[cfg(feature = "bugs")]
fn injected(bug: Option<partition::Bug>) -> Injected {
    Injected::bug(bug)
}

#[cfg(not(feature = "bugs"))]
fn injected(_bug: Option<partition::Bug>) -> Injected {
    Injected::NONE
}
