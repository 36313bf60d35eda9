//! One broker's replica of one partition, as a pure state machine.
//!
//! The same replica is, as the partition state in Quorum says, the partition's leader (see
//! `leader.rs`), a follower of another broker (`follower.rs`), or idle (no leader, or a leader
//! this broker may not be). The driver feeds it the state znode as it changes, requests from
//! clients and other brokers, the answers to its own requests, the progress of its disk writes,
//! and the time; it does what the [`Action`]s say. The log itself (the records) stays with the
//! driver: the replica sees batch headers and the offsets that matter.

use crate::batch::{Batch, BatchHeader};
use crate::bug::Injected;
use crate::epochs::EpochCache;
use crate::follower::FollowerRole;
use crate::ids::{BrokerEpoch, BrokerId, LeaderEpoch, Offset, TopicPartition};
use crate::leader::LeaderRole;
use crate::message::{ErrorCode, Request, Response};
use crate::producers::ProducerTable;
use crate::state::{IsrRequest, PartitionState};

/// The driver's name for a request it must answer (a connection and a correlation id).
pub type Token = u64;

/// How a replica is set up.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub tp: TopicPartition,
    pub me: BrokerId,
    /// This broker's current registration (the czxid of `/brokers/ids/N`).
    pub broker_epoch: BrokerEpoch,
    /// The partition's assigned replicas.
    pub replicas: Vec<BrokerId>,
    /// `min.insync.replicas`: acks=all needs an ISR at least this large.
    pub min_insync: usize,
    /// `replica.lag.time.max.ms`.
    pub lag_max_ms: u64,
    /// How long a fetch with nothing to return waits at the leader for records.
    pub fetch_max_wait_ms: u64,
    /// A follower's request to its leader that has not been answered in this time is sent again.
    pub request_timeout_ms: u64,
    /// How long a follower waits after an error before asking again.
    pub retry_backoff_ms: u64,
    /// Bytes a follower asks for in one fetch.
    pub fetch_max_bytes: u32,
    /// Produces waiting for durability or the HW; more are refused (TOO_MANY_PENDING).
    pub max_pending_produces: usize,
    /// Fetches waiting at the leader for records; more are answered empty at once.
    pub max_parked_fetches: usize,
    /// Idempotent producers remembered.
    pub max_producers: usize,
    /// The ids this replica gives its own requests start above this. A driver that replaces a
    /// replica within one process (after its session expired) gives the new one a fresh range,
    /// so a late answer to the old one cannot be taken for an answer to the new one.
    pub request_id_base: u64,
    pub injected: Injected,
}

/// What a replica finds on its disk at start.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    pub log_end: Offset,
    pub epochs: EpochCache,
    /// The last batches (at least the last few per producer), oldest first.
    pub tail: Vec<BatchHeader>,
}

/// What the driver feeds a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The partition's state znode, as read or watched.
    State {
        state: PartitionState,
        version: u64,
    },
    /// A request from a client or another broker, to be answered under `token`.
    Request {
        token: Token,
        request: Request,
    },
    /// Records up to `end` are durable (under the fsync policy).
    Appended {
        end: Offset,
    },
    /// The answer to this replica's own request `id` (sent by [`Action::Send`]).
    Answer {
        id: u64,
        response: Response,
    },
    /// Request `id` failed (connection refused or closed).
    AnswerLost {
        id: u64,
    },
    /// The controller refused the ISR request this replica made as leader of `leader_epoch`;
    /// `deposed` when a newer leader epoch exists; `state_version` is the controller's version.
    IsrRefused {
        leader_epoch: LeaderEpoch,
        deposed: bool,
        state_version: u64,
    },
    Tick {
        now_ms: u64,
    },
}

/// What a replica asks the driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Append `batch` to the log, then report [`Input::Appended`].
    Append { batch: Batch },
    /// Remove every record at or after `to` (durably) before anything else.
    Truncate { to: Offset },
    /// Answer a request.
    Reply { token: Token, response: Response },
    /// Answer a fetch with the stored batches from `from` up to (not including) `up_to`, at
    /// least one batch and otherwise at most `max_bytes`.
    ServeFetch {
        token: Token,
        from: Offset,
        up_to: Offset,
        high_watermark: Offset,
        log_end: Offset,
        max_bytes: u32,
    },
    /// Send `request` to broker `to`; answer with [`Input::Answer`] under `id`.
    Send {
        to: BrokerId,
        id: u64,
        request: Request,
    },
    /// Ask the controller to set the ISR.
    RequestIsr { request: IsrRequest },
}

/// A replica's role, as it can be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleView {
    Idle,
    Leader {
        epoch: LeaderEpoch,
    },
    Follower {
        leader: BrokerId,
        epoch: LeaderEpoch,
    },
}

/// The replica's role now.
#[derive(Debug)]
pub(crate) enum Role {
    Idle,
    Leader(LeaderRole),
    Follower(FollowerRole),
}

#[derive(Debug)]
pub struct Replica {
    pub(crate) config: ReplicaConfig,
    pub(crate) role: Role,
    /// Records assigned an offset (appended or being appended).
    pub(crate) log_end: Offset,
    /// Records durable; what this replica tells others it has.
    pub(crate) durable_end: Offset,
    pub(crate) high_watermark: Offset,
    pub(crate) epochs: EpochCache,
    pub(crate) producers: ProducerTable,
    /// The newest state seen, and its version.
    pub(crate) state: Option<(PartitionState, u64)>,
    /// This replica refuses to lead any epoch ≤ this one (it was deposed in it).
    pub(crate) deposed_in: Option<LeaderEpoch>,
    pub(crate) now_ms: u64,
    pub(crate) next_request_id: u64,
    pub(crate) actions: Vec<Action>,
}

impl Replica {
    pub fn new(config: ReplicaConfig, recovered: Recovered, now_ms: u64) -> Replica {
        let mut producers = ProducerTable::new(config.max_producers);
        for header in &recovered.tail {
            producers.record(header);
        }
        Replica {
            next_request_id: config.request_id_base + 1,
            config,
            role: Role::Idle,
            log_end: recovered.log_end,
            durable_end: recovered.log_end,
            high_watermark: 0,
            epochs: recovered.epochs,
            producers,
            state: None,
            deposed_in: None,
            now_ms,
            actions: Vec::new(),
        }
    }

    pub fn config(&self) -> &ReplicaConfig {
        &self.config
    }

    /// The end of what is durable: what this replica tells others it has.
    pub fn durable_end(&self) -> Offset {
        self.durable_end
    }

    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    /// The leader epoch this replica leads in, if it is the leader.
    pub fn leading(&self) -> Option<LeaderEpoch> {
        match &self.role {
            Role::Leader(leader) => Some(leader.epoch),
            _ => None,
        }
    }

    /// What this replica is now.
    pub fn role(&self) -> RoleView {
        match &self.role {
            Role::Idle => RoleView::Idle,
            Role::Leader(leader) => RoleView::Leader {
                epoch: leader.epoch,
            },
            Role::Follower(f) => RoleView::Follower {
                leader: f.leader,
                epoch: f.epoch,
            },
        }
    }

    /// The ISR as this replica (when leader) counts it.
    pub fn leader_isr(&self) -> Option<Vec<BrokerId>> {
        match &self.role {
            Role::Leader(leader) => Some(leader.isr.iter().map(|m| m.broker).collect()),
            _ => None,
        }
    }

    /// The broker registered again under a new session (its old one expired while the process
    /// ran on): the replica keeps its log but forgets its role and the state it had seen, and
    /// acts again only on states read under the new broker epoch. Waiting clients are told
    /// NOT_LEADER; `request_id_base` gives its requests a fresh range of ids.
    pub fn new_session(&mut self, broker_epoch: BrokerEpoch, request_id_base: u64) -> Vec<Action> {
        self.become_idle();
        self.config.broker_epoch = broker_epoch;
        self.config.request_id_base = request_id_base;
        self.next_request_id = request_id_base + 1;
        self.state = None;
        self.deposed_in = None;
        std::mem::take(&mut self.actions)
    }

    /// Feeds one input; returns what to do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        match input {
            Input::State { state, version } => self.on_state(state, version),
            Input::Request { token, request } => self.on_request(token, request),
            Input::Appended { end } => self.on_appended(end),
            Input::Answer { id, response } => self.follower_answer(id, Some(response)),
            Input::AnswerLost { id } => self.follower_answer(id, None),
            Input::IsrRefused {
                leader_epoch,
                deposed,
                state_version,
            } => self.leader_isr_refused(leader_epoch, deposed, state_version),
            Input::Tick { now_ms } => self.on_tick(now_ms),
        }
        self.follower_poll();
        std::mem::take(&mut self.actions)
    }

    fn on_state(&mut self, state: PartitionState, version: u64) {
        if let Some((_, seen)) = &self.state {
            if version <= *seen {
                return;
            }
        }
        self.state = Some((state.clone(), version));
        let me = self.config.me;
        match state.leader {
            Some(leader) if leader == me => {
                let mine = state.member(me).map(|m| m.epoch) == Some(self.config.broker_epoch);
                let fresh = self.deposed_in.is_none_or(|e| state.leader_epoch > e)
                    && self.epochs.latest().is_none_or(|e| state.leader_epoch >= e);
                if mine && fresh {
                    self.lead(&state, version);
                } else {
                    self.become_idle();
                }
            }
            Some(leader) if self.config.replicas.contains(&me) => {
                self.follow(leader, state.leader_epoch);
            }
            _ => self.become_idle(),
        }
    }

    fn on_request(&mut self, token: Token, request: Request) {
        match request {
            Request::Produce {
                acks,
                producer,
                records,
            } => self.leader_produce(token, acks, producer, records),
            Request::Fetch {
                offset,
                max_bytes,
                replica,
            } => self.leader_fetch(token, offset, max_bytes, replica),
            Request::OffsetForEpoch {
                epoch,
                leader_epoch,
            } => self.leader_epoch_end(token, epoch, leader_epoch),
        }
    }

    fn on_appended(&mut self, end: Offset) {
        debug_assert!(
            end <= self.log_end,
            "appended {end} beyond {}",
            self.log_end
        );
        self.durable_end = self.durable_end.max(end.min(self.log_end));
        match self.role {
            Role::Leader(_) => self.leader_progress(),
            Role::Follower(_) => self.follower_appended(),
            Role::Idle => {}
        }
    }

    fn on_tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        match self.role {
            Role::Leader(_) => self.leader_tick(),
            Role::Follower(_) => self.follower_tick(),
            Role::Idle => {}
        }
    }

    /// Leaves whatever role this replica had: waiting clients are told NOT_LEADER.
    pub(crate) fn become_idle(&mut self) {
        if let Role::Leader(leader) = std::mem::replace(&mut self.role, Role::Idle) {
            for token in leader.waiting_tokens() {
                self.reply(token, Response::Error(ErrorCode::NotLeader));
            }
        }
    }

    /// Appends a batch to the log (leader or follower): offsets, epochs and producers follow.
    pub(crate) fn append(&mut self, batch: Batch) {
        let header = batch.header;
        assert_eq!(
            header.base_offset, self.log_end,
            "append must extend the log"
        );
        assert!(header.count > 0, "empty batch");
        self.epochs.assign(header.epoch, header.base_offset);
        self.producers.record(&header);
        self.log_end = header.end_offset();
        self.actions.push(Action::Append { batch });
    }

    /// Removes records at and after `to` (a follower aligning with its leader).
    pub(crate) fn truncate(&mut self, to: Offset) {
        assert_eq!(
            self.durable_end, self.log_end,
            "truncate with appends in flight"
        );
        if to >= self.log_end {
            return;
        }
        self.log_end = to;
        self.durable_end = to;
        self.high_watermark = self.high_watermark.min(to);
        self.epochs.truncate(to);
        self.producers.truncate(to);
        self.actions.push(Action::Truncate { to });
    }

    pub(crate) fn reply(&mut self, token: Token, response: Response) {
        self.actions.push(Action::Reply { token, response });
    }

    pub(crate) fn send(&mut self, to: BrokerId, request: Request) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.actions.push(Action::Send { to, id, request });
        id
    }
}
