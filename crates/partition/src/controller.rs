//! The controller: the only writer of partition state.
//!
//! One broker at a time is controller (it holds the ephemeral `/controller` and bumped
//! `/controller_epoch`); every write it makes is a compare-and-swap on the state znode's version
//! together with a check that `/controller_epoch` is still its own, so a superseded controller's
//! write fails ([`WriteResult::Fenced`]) and it resigns. It elects leaders from the ISR when a
//! leader's broker is gone or restarted, removes dead or restarted followers from the ISR, and
//! applies the ISR changes leaders ask for — only if the asker still leads in the epoch it names
//! and saw the current version; a request from a deposed leader is refused as such.

use std::collections::BTreeMap;

use crate::bug::Injected;
use crate::ids::{BrokerEpoch, BrokerId, LeaderEpoch, TopicPartition};
use crate::state::{IsrRequest, Member, PartitionState};

#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// The epoch this controller was elected in.
    pub controller_epoch: u64,
    /// `unclean.leader.election.enable`: elect a replica outside the ISR rather than stay
    /// offline (committed records may be lost; every such election is reported).
    pub unclean_election: bool,
    pub injected: Injected,
}

/// What the driver feeds the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerInput {
    /// The live registrations: broker id → broker epoch.
    Brokers(BTreeMap<BrokerId, BrokerEpoch>),
    /// A partition's assigned replicas and its state znode (read, re-read or watched).
    Partition {
        tp: TopicPartition,
        replicas: Vec<BrokerId>,
        state: PartitionState,
        version: u64,
    },
    /// A leader asks for an ISR change.
    IsrRequest {
        tp: TopicPartition,
        request: IsrRequest,
    },
    /// The outcome of the last [`ControllerAction::Write`] for `tp`.
    Written {
        tp: TopicPartition,
        result: WriteResult,
    },
}

/// The outcome of a state write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteResult {
    Done {
        version: u64,
    },
    /// The state znode's version moved (or the reply was lost): re-read and decide again.
    BadVersion,
    /// `/controller_epoch` is no longer ours: resign.
    Fenced,
}

/// What the controller asks the driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerAction {
    /// `multi(check /controller_epoch, setData state at expected_version)`.
    Write {
        tp: TopicPartition,
        expected_version: u64,
        state: PartitionState,
    },
    /// Read the state znode again and feed it back.
    Reread { tp: TopicPartition },
    /// Tell `leader` its ISR request (made as leader of `leader_epoch`) was refused; `deposed`
    /// when a newer leader epoch exists. `state_version` is the version the controller holds:
    /// when it is newer than the one the request was based on, the state has changed (perhaps
    /// by this very request, applied from an earlier copy) and the leader must wait to see it.
    IsrRefused {
        tp: TopicPartition,
        leader: BrokerId,
        leader_epoch: LeaderEpoch,
        deposed: bool,
        state_version: u64,
    },
    /// An unclean election happened: records the partition had committed may be lost.
    UncleanElection {
        tp: TopicPartition,
        leader: BrokerId,
    },
    /// This controller was superseded; it must stop.
    Resign,
}

#[derive(Clone, Debug)]
struct Known {
    replicas: Vec<BrokerId>,
    state: PartitionState,
    version: u64,
    /// A write is in flight (or a re-read is awaited); decide nothing until it is answered.
    busy: bool,
    /// The state being written, adopted when the write is done.
    pending_write: Option<PartitionState>,
    request: Option<IsrRequest>,
}

#[derive(Debug)]
pub struct Controller {
    config: ControllerConfig,
    /// The live registrations; None until first told (deciding before would take every
    /// broker for dead).
    live: Option<BTreeMap<BrokerId, BrokerEpoch>>,
    partitions: BTreeMap<TopicPartition, Known>,
    resigned: bool,
    actions: Vec<ControllerAction>,
}

impl Controller {
    pub fn new(config: ControllerConfig) -> Controller {
        Controller {
            config,
            live: None,
            partitions: BTreeMap::new(),
            resigned: false,
            actions: Vec::new(),
        }
    }

    pub fn controller_epoch(&self) -> u64 {
        self.config.controller_epoch
    }

    pub fn resigned(&self) -> bool {
        self.resigned
    }

    pub fn step(&mut self, input: ControllerInput) -> Vec<ControllerAction> {
        if self.resigned {
            return Vec::new();
        }
        match input {
            ControllerInput::Brokers(live) => {
                self.live = Some(live);
                let all: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
                for tp in all {
                    self.decide(&tp);
                }
            }
            ControllerInput::Partition {
                tp,
                replicas,
                state,
                version,
            } => self.on_partition(tp, replicas, state, version),
            ControllerInput::IsrRequest { tp, request } => {
                if let Some(known) = self.partitions.get_mut(&tp) {
                    known.request = Some(request);
                    self.decide(&tp);
                }
            }
            ControllerInput::Written { tp, result } => self.on_written(tp, result),
        }
        std::mem::take(&mut self.actions)
    }

    fn on_partition(
        &mut self,
        tp: TopicPartition,
        replicas: Vec<BrokerId>,
        state: PartitionState,
        version: u64,
    ) {
        let known = self.partitions.entry(tp.clone()).or_insert(Known {
            replicas: replicas.clone(),
            state: state.clone(),
            version,
            busy: false,
            pending_write: None,
            request: None,
        });
        if version >= known.version {
            known.replicas = replicas;
            known.state = state;
            known.version = version;
            known.busy = false;
            known.pending_write = None;
        }
        self.decide(&tp);
    }

    fn on_written(&mut self, tp: TopicPartition, result: WriteResult) {
        match result {
            WriteResult::Fenced => {
                self.resigned = true;
                self.actions.push(ControllerAction::Resign);
            }
            WriteResult::BadVersion => {
                if let Some(known) = self.partitions.get_mut(&tp) {
                    known.busy = true;
                }
                self.actions.push(ControllerAction::Reread { tp });
            }
            WriteResult::Done { version } => {
                let Some(known) = self.partitions.get_mut(&tp) else {
                    return;
                };
                if let Some(pending) = known.pending_write.take() {
                    known.state = pending;
                    known.version = version;
                }
                known.busy = false;
                self.decide(&tp);
            }
        }
    }

    /// Decides what partition `tp` needs, if nothing is in flight for it.
    fn decide(&mut self, tp: &TopicPartition) {
        let Some(live) = self.live.clone() else {
            return;
        };
        let Some(known) = self.partitions.get_mut(tp) else {
            return;
        };
        if known.busy {
            return;
        }
        if let Some(request) = known.request.take() {
            let verdict = judge(&live, known, &request);
            let state_version = known.version;
            match verdict {
                Ok(isr) => {
                    let mut state = known.state.clone();
                    state.isr = isr;
                    return self.write(tp, state);
                }
                Err(deposed) => self.actions.push(ControllerAction::IsrRefused {
                    tp: tp.clone(),
                    leader: request.leader,
                    leader_epoch: request.leader_epoch,
                    deposed,
                    state_version,
                }),
            }
        }
        let Some(known) = self.partitions.get(tp) else {
            return;
        };
        if let Some((state, unclean)) = repair(&live, known, self.config.unclean_election) {
            if let (Some(leader), true) = (state.leader, unclean) {
                self.actions.push(ControllerAction::UncleanElection {
                    tp: tp.clone(),
                    leader,
                });
            }
            self.write(tp, state);
        }
    }

    fn write(&mut self, tp: &TopicPartition, mut state: PartitionState) {
        let Some(known) = self.partitions.get_mut(tp) else {
            return;
        };
        state.controller_epoch = self.config.controller_epoch;
        known.busy = true;
        known.pending_write = Some(state.clone());
        self.actions.push(ControllerAction::Write {
            tp: tp.clone(),
            expected_version: known.version,
            state,
        });
    }
}

/// Whether a live broker is the one an ISR entry names.
fn current(live: &BTreeMap<BrokerId, BrokerEpoch>, member: Member, never_led: bool) -> bool {
    match live.get(&member.broker) {
        Some(&epoch) => epoch == member.epoch || never_led,
        None => false,
    }
}

/// The ISR a leader's request may set, or why not (`true`: the asker no longer leads).
fn judge(
    live: &BTreeMap<BrokerId, BrokerEpoch>,
    known: &Known,
    request: &IsrRequest,
) -> Result<Vec<Member>, bool> {
    let state = &known.state;
    if request.leader_epoch < state.leader_epoch {
        return Err(true);
    }
    // A newer epoch than ours means this controller's view is behind: not a verdict on the
    // leader (it will see the state again and ask again).
    if request.leader_epoch > state.leader_epoch
        || state.leader != Some(request.leader)
        || request.state_version != known.version
    {
        return Err(false);
    }
    let mut seen = Vec::new();
    for member in &request.isr {
        let ok = known.replicas.contains(&member.broker)
            && !seen.contains(&member.broker)
            && current(live, *member, false);
        if !ok && member.broker != request.leader {
            return Err(false);
        }
        seen.push(member.broker);
    }
    let leader = state.leader_member();
    if leader.is_none() || !request.isr.contains(&leader.expect("checked")) {
        return Err(false);
    }
    Ok(request.isr.clone())
}

/// What a partition's state should become given who is alive, if anything must change; the flag
/// is set when the new leader comes from outside the ISR.
fn repair(
    live: &BTreeMap<BrokerId, BrokerEpoch>,
    known: &Known,
    unclean_allowed: bool,
) -> Option<(PartitionState, bool)> {
    let state = &known.state;
    let never_led = state.leader_epoch == 0;
    let alive = |m: &Member| current(live, *m, never_led);
    if let Some(leader) = state.leader_member().filter(alive) {
        let isr: Vec<Member> = state
            .isr
            .iter()
            .copied()
            .filter(|m| *m == leader || alive(m))
            .collect();
        let mut next = state.clone();
        next.isr = isr;
        return (next.isr != state.isr).then_some((next, false));
    }
    let in_order = |m: &&Member| known.replicas.iter().position(|&r| r == m.broker);
    let mut members: Vec<&Member> = state.isr.iter().collect();
    members.sort_by_key(in_order);
    let live_epoch = |broker: BrokerId| live.get(&broker).copied();
    let renamed = |m: &Member| Member {
        broker: m.broker,
        epoch: live_epoch(m.broker).unwrap_or(m.epoch),
    };
    // Clean: an ISR member still in the incarnation that joined (or, when nobody ever led, any
    // live member); failing that, an ISR member that restarted, which with fsync on every batch
    // still holds everything it acknowledged (the last replica standing).
    let clean = members.iter().find(|m| alive(m));
    let restarted = members.iter().find(|m| live.contains_key(&m.broker));
    let mut next = state.clone();
    next.leader_epoch = state.leader_epoch + 1;
    if let Some(leader) = clean.or(restarted) {
        let mut isr: Vec<Member> = members
            .iter()
            .filter(|m| alive(m))
            .map(|m| renamed(m))
            .collect();
        if !isr.iter().any(|m| m.broker == leader.broker) {
            isr.insert(0, renamed(leader));
        }
        next.leader = Some(leader.broker);
        next.isr = isr;
        return Some((next, false));
    }
    if unclean_allowed {
        if let Some(&broker) = known.replicas.iter().find(|r| live.contains_key(r)) {
            next.leader = Some(broker);
            next.isr = vec![Member {
                broker,
                epoch: live[&broker],
            }];
            return Some((next, true));
        }
    }
    if state.leader.is_some() {
        next.leader = None;
        return Some((next, false));
    }
    None
}
