//! Quorum as the brokers see it: a linearizable store of sessions and registrations, the
//! `/controller` znode and controller epoch, and the partition state znodes.
//!
//! Registrations are ephemeral: a session expires `session_timeout` units after its last
//! heartbeat, and its registration and, if it held it, `/controller` go with it. A state write
//! is the controller's multi — the controller epoch's version must be the writer's, the state's
//! version the expected one — and applies atomically when it arrives; its reply can still be
//! lost. Every change is pushed to the brokers (a watch) and can be late or lost, so brokers
//! also re-read periodically.

use std::collections::BTreeMap;

use partition::{Assignment, BrokerEpoch, BrokerId, PartitionState, TopicPartition, WriteResult};

use super::world::{Endpoint, LogWorld, Msg, Task};

#[derive(Clone, Copy, Debug)]
pub(super) struct Session {
    pub epoch: BrokerEpoch,
    pub last_heard: u64,
}

pub(super) struct SimStore {
    pub sessions: BTreeMap<BrokerId, Session>,
    /// The czxid the next registration gets.
    next_czxid: u64,
    pub controller: Option<BrokerId>,
    pub controller_epoch: u64,
    /// The version of `/controller_epoch`: what a controller's multi checks.
    pub controller_version: u64,
    pub states: BTreeMap<TopicPartition, (PartitionState, u64)>,
}

impl SimStore {
    pub fn new(tps: &[TopicPartition], assignment: &Assignment) -> SimStore {
        let states = tps
            .iter()
            .map(|tp| {
                let replicas = &assignment.replicas[tp.partition as usize];
                (tp.clone(), (PartitionState::initial(replicas), 0))
            })
            .collect();
        SimStore {
            sessions: BTreeMap::new(),
            next_czxid: 1 << 32,
            controller: None,
            controller_epoch: 0,
            controller_version: 0,
            states,
        }
    }

    pub fn live(&self) -> BTreeMap<BrokerId, BrokerEpoch> {
        self.sessions.iter().map(|(&b, s)| (b, s.epoch)).collect()
    }
}

impl LogWorld {
    pub(super) fn at_store(&mut self, from: Endpoint, msg: Msg) {
        let Endpoint::Broker(broker) = from else {
            if let (Endpoint::Client(_), Msg::Lookup { tp }) = (from, &msg) {
                let leader = self.store.states.get(tp).and_then(|(s, _)| s.leader);
                let tp = tp.clone();
                self.send(Endpoint::Store, from, Msg::LeaderIs { tp, leader });
            }
            return;
        };
        let reply = match msg {
            Msg::Heartbeat { epoch } => self.heartbeat(broker, epoch),
            Msg::Register { life } => self.register(broker, life),
            Msg::TryControl { epoch } => self.try_control(broker, epoch),
            Msg::ReadState { tp } => {
                self.store
                    .states
                    .get(&tp)
                    .map(|(state, version)| Msg::StateIs {
                        tp: tp.clone(),
                        state: state.clone(),
                        version: *version,
                    })
            }
            Msg::ReadBrokers => Some(Msg::BrokersAre(self.store.live())),
            Msg::Write {
                tp,
                op,
                expected,
                state,
                controller_version,
            } => {
                let result = self.write(&tp, expected, state, controller_version);
                Some(Msg::WriteDone { tp, op, result })
            }
            Msg::AskIsr { tp, request } => {
                if let Some(controller) = self.store.controller {
                    let msg = Msg::IsrAsked { tp, request };
                    self.send(Endpoint::Store, Endpoint::Broker(controller), msg);
                }
                None
            }
            _ => None,
        };
        if let Some(reply) = reply {
            self.send(Endpoint::Store, from, reply);
        }
    }

    fn heartbeat(&mut self, broker: BrokerId, epoch: BrokerEpoch) -> Option<Msg> {
        match self.store.sessions.get_mut(&broker) {
            Some(session) if session.epoch == epoch => {
                session.last_heard = self.now;
                None
            }
            _ => Some(Msg::SessionExpired { epoch }),
        }
    }

    /// A registration succeeds once the broker's previous one (if any) has expired.
    fn register(&mut self, broker: BrokerId, life: u64) -> Option<Msg> {
        if self.store.sessions.contains_key(&broker) {
            return None;
        }
        let epoch = self.store.next_czxid;
        self.store.next_czxid += 1;
        self.store.sessions.insert(
            broker,
            Session {
                epoch,
                last_heard: self.now,
            },
        );
        self.note(|| format!("store: broker {broker} registered with epoch {epoch}"));
        self.brokers_changed();
        Some(Msg::Registered { life, epoch })
    }

    fn try_control(&mut self, broker: BrokerId, epoch: BrokerEpoch) -> Option<Msg> {
        let holds = self.store.sessions.get(&broker).map(|s| s.epoch) == Some(epoch);
        if !holds {
            return None;
        }
        if let Some(holder) = self.store.controller {
            // The broker finds itself in /controller after a lost reply: it is the controller.
            return (holder == broker).then_some(Msg::Elected {
                epoch,
                controller_epoch: self.store.controller_epoch,
                version: self.store.controller_version,
            });
        }
        self.store.controller = Some(broker);
        self.store.controller_epoch += 1;
        self.store.controller_version += 1;
        self.report.controllers += 1;
        let controller_epoch = self.store.controller_epoch;
        self.note(|| format!("store: broker {broker} is controller in epoch {controller_epoch}"));
        Some(Msg::Elected {
            epoch,
            controller_epoch,
            version: self.store.controller_version,
        })
    }

    fn write(
        &mut self,
        tp: &TopicPartition,
        expected: u64,
        state: PartitionState,
        controller_version: u64,
    ) -> WriteResult {
        if controller_version != self.store.controller_version {
            return WriteResult::Fenced;
        }
        let Some((current, version)) = self.store.states.get_mut(tp) else {
            return WriteResult::BadVersion;
        };
        if *version != expected {
            return WriteResult::BadVersion;
        }
        let old = std::mem::replace(current, state.clone());
        *version += 1;
        let version = *version;
        if old.leader_epoch != state.leader_epoch {
            self.report.leader_elections += 1;
        } else if old.isr != state.isr {
            self.report.isr_changes += 1;
        }
        self.note(|| {
            format!(
                "store: {tp} v{version} {}",
                state.encode().replace('\n', " ")
            )
        });
        let result = self.checker.state_written(tp, &old, &state);
        self.check(result);
        for b in self.store.sessions.keys().copied().collect::<Vec<_>>() {
            let msg = Msg::StateIs {
                tp: tp.clone(),
                state: state.clone(),
                version,
            };
            self.send(Endpoint::Store, Endpoint::Broker(b), msg);
        }
        WriteResult::Done { version }
    }

    /// Expires sessions whose heartbeats stopped.
    pub(super) fn store_tick(&mut self) {
        let deadline = self.opts.session_timeout;
        let now = self.now;
        let expired: Vec<BrokerId> = self
            .store
            .sessions
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_heard) > deadline)
            .map(|(&b, _)| b)
            .collect();
        for broker in &expired {
            self.store.sessions.remove(broker);
            self.report.sessions_expired += 1;
            self.note(|| format!("store: session of broker {broker} expired"));
            if self.store.controller == Some(*broker) {
                self.store.controller = None;
            }
        }
        if !expired.is_empty() {
            self.brokers_changed();
        }
        self.schedule(10, Task::StoreTick);
    }

    /// The controller's watch on `/brokers/ids`.
    fn brokers_changed(&mut self) {
        if let Some(controller) = self.store.controller {
            let msg = Msg::BrokersAre(self.store.live());
            self.send(Endpoint::Store, Endpoint::Broker(controller), msg);
        }
    }
}
