//! The replica as its partition's leader.
//!
//! It appends produced batches stamped with its leader epoch, serves followers and consumers,
//! keeps the high watermark (the smallest durable log end over the ISR, never going back),
//! answers produces by their acks, and asks the controller to shrink or expand the ISR. It never
//! changes the ISR itself: it adopts a change only when it sees it in the state znode, and when
//! the controller refuses its request as coming from a deposed leader it stops leading.

use std::collections::BTreeMap;

use crate::batch::{Batch, BatchHeader, Producer};
use crate::bug::Bug;
use crate::ids::{BrokerEpoch, BrokerId, LeaderEpoch, Offset};
use crate::message::{Acks, ErrorCode, ReplicaFetch, Response};
use crate::producers::SeqCheck;
use crate::replica::{Action, Replica, Role, Token};
use crate::state::{IsrRequest, Member, PartitionState};

/// What the leader knows of one follower's progress in this epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progress {
    pub fetch_offset: Offset,
    pub broker_epoch: BrokerEpoch,
    pub last_fetch_ms: u64,
    /// The leader's durable end when this follower last fetched.
    pub end_at_last_fetch: Offset,
    /// When the follower last had everything the leader had (replica.lag.time.max.ms).
    pub last_caught_up_ms: u64,
}

/// A produce waiting for durability or the high watermark.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    token: Token,
    acks: Acks,
    base: Offset,
    end: Offset,
}

/// A fetch waiting for records.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parked {
    token: Token,
    from: Offset,
    max_bytes: u32,
    /// The follower fetching (it reads up to the durable end); None for a consumer (up to the
    /// high watermark).
    follower: Option<BrokerId>,
    deadline_ms: u64,
}

#[derive(Debug)]
pub(crate) struct LeaderRole {
    pub epoch: LeaderEpoch,
    pub state_version: u64,
    pub isr: Vec<Member>,
    /// The ISR asked of the controller and not yet seen in the state, and when it was asked
    /// (a request or its refusal can be lost: after `request_timeout_ms` it is asked again).
    /// Until the outcome is known the high watermark counts the joining replica too (KIP-497's
    /// "maximal ISR"): the controller may have applied the request without this leader seeing it.
    pending_isr: Option<Vec<Member>>,
    pending_isr_since: u64,
    /// Where this epoch's records start (a follower must reach it to rejoin the ISR).
    epoch_start: Offset,
    became_ms: u64,
    progress: BTreeMap<BrokerId, Progress>,
    pending: Vec<Pending>,
    parked: Vec<Parked>,
}

impl LeaderRole {
    /// A follower whose fetch waits here at the log end has everything now and is fetching now
    /// (its fetch is held for records that have not come): it counts as caught up and seen at
    /// `now`, however long the hold (`fetch_max_wait`) is against `replica.lag.time.max.ms`.
    fn note_waiting_followers(&mut self, now: u64, durable: Offset) {
        for parked in &self.parked {
            let Some(broker) = parked.follower.filter(|_| parked.from >= durable) else {
                continue;
            };
            if let Some(p) = self.progress.get_mut(&broker) {
                p.last_caught_up_ms = p.last_caught_up_ms.max(now);
                p.last_fetch_ms = p.last_fetch_ms.max(now);
            }
        }
    }

    pub(crate) fn waiting_tokens(&self) -> Vec<Token> {
        let pending = self.pending.iter().filter(|p| p.acks != Acks::None);
        pending
            .map(|p| p.token)
            .chain(self.parked.iter().map(|p| p.token))
            .collect()
    }
}

impl Replica {
    /// Becomes (or stays) the leader of `state.leader_epoch`.
    pub(crate) fn lead(&mut self, state: &PartitionState, version: u64) {
        if let Role::Leader(leader) = &mut self.role {
            if leader.epoch == state.leader_epoch {
                leader.isr = state.isr.clone();
                leader.state_version = version;
                leader.pending_isr = None;
                self.leader_progress();
                return;
            }
        }
        self.become_idle();
        self.role = Role::Leader(LeaderRole {
            epoch: state.leader_epoch,
            state_version: version,
            isr: state.isr.clone(),
            pending_isr: None,
            pending_isr_since: 0,
            epoch_start: self.log_end,
            became_ms: self.now_ms,
            progress: BTreeMap::new(),
            pending: Vec::new(),
            parked: Vec::new(),
        });
    }

    fn leader_mut(&mut self) -> Option<&mut LeaderRole> {
        match &mut self.role {
            Role::Leader(leader) => Some(leader),
            _ => None,
        }
    }

    pub(crate) fn leader_produce(
        &mut self,
        token: Token,
        acks: Acks,
        producer: Option<Producer>,
        records: Vec<Vec<u8>>,
    ) {
        let max_pending = self.config.max_pending_produces;
        let min_insync = self.config.min_insync;
        let Some(leader) = self.leader_mut() else {
            return self.refuse(token, acks, ErrorCode::NotLeader);
        };
        let (epoch, isr_len, waiting) = (leader.epoch, leader.isr.len(), leader.pending.len());
        if records.is_empty() {
            return self.refuse(token, acks, ErrorCode::OffsetOutOfRange);
        }
        if acks == Acks::All && isr_len < min_insync {
            return self.refuse(token, acks, ErrorCode::NotEnoughReplicas);
        }
        if waiting >= max_pending {
            return self.refuse(token, acks, ErrorCode::TooManyPending);
        }
        let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
        let base = match producer.map(|p| self.producers.check(p.id, p.first_seq, count)) {
            Some(SeqCheck::OutOfOrder { .. }) => {
                return self.refuse(token, acks, ErrorCode::OutOfOrderSequence)
            }
            Some(SeqCheck::Duplicate { base_offset }) => base_offset,
            Some(SeqCheck::Append) | None => {
                let base = self.log_end;
                let header = BatchHeader {
                    base_offset: base,
                    count,
                    epoch,
                    producer,
                };
                self.append(Batch { header, records });
                base
            }
        };
        let pending = Pending {
            token,
            acks,
            base,
            end: base + u64::from(count),
        };
        if let Some(leader) = self.leader_mut() {
            leader.pending.push(pending);
        }
        self.leader_progress();
    }

    fn refuse(&mut self, token: Token, acks: Acks, code: ErrorCode) {
        if acks != Acks::None {
            self.reply(token, Response::Error(code));
        }
    }

    pub(crate) fn leader_fetch(
        &mut self,
        token: Token,
        offset: Offset,
        max_bytes: u32,
        replica: Option<ReplicaFetch>,
    ) {
        let (now, durable, hw) = (self.now_ms, self.durable_end, self.high_watermark);
        let assigned = replica.is_none_or(|r| self.config.replicas.contains(&r.broker));
        let Some(leader) = self.leader_mut() else {
            return self.reply(token, Response::Error(ErrorCode::NotLeader));
        };
        if !assigned {
            return self.reply(token, Response::Error(ErrorCode::UnknownPartition));
        }
        if let Some(r) = replica {
            if let Some(code) = epoch_mismatch(r.leader_epoch, leader.epoch) {
                return self.reply(token, Response::Error(code));
            }
        }
        if offset > durable {
            return self.reply(token, Response::Error(ErrorCode::OffsetOutOfRange));
        }
        if let Some(r) = replica {
            let progress = leader.progress.entry(r.broker).or_insert(Progress {
                fetch_offset: 0,
                broker_epoch: r.broker_epoch,
                last_fetch_ms: now,
                end_at_last_fetch: 0,
                last_caught_up_ms: 0,
            });
            if offset >= durable {
                progress.last_caught_up_ms = now;
            } else if offset >= progress.end_at_last_fetch {
                progress.last_caught_up_ms = progress.last_caught_up_ms.max(progress.last_fetch_ms);
            }
            progress.fetch_offset = offset;
            progress.broker_epoch = r.broker_epoch;
            progress.last_fetch_ms = now;
            progress.end_at_last_fetch = durable;
        }
        let deadline_ms = now + self.config.fetch_max_wait_ms;
        let max_parked = self.config.max_parked_fetches;
        let parked = Parked {
            token,
            from: offset,
            max_bytes,
            follower: replica.map(|r| r.broker),
            deadline_ms,
        };
        if let Some(leader) = self.leader_mut() {
            if leader.parked.len() < max_parked {
                leader.parked.push(parked);
            } else {
                let empty = fetched(hw, durable);
                return self.reply(token, empty);
            }
        }
        self.leader_progress();
        self.leader_consider_expand();
    }

    pub(crate) fn leader_epoch_end(
        &mut self,
        token: Token,
        epoch: LeaderEpoch,
        theirs: LeaderEpoch,
    ) {
        let Some(leader) = self.leader_mut() else {
            return self.reply(token, Response::Error(ErrorCode::NotLeader));
        };
        if let Some(code) = epoch_mismatch(theirs, leader.epoch) {
            return self.reply(token, Response::Error(code));
        }
        let end = self
            .epochs
            .end_of(epoch, self.log_end)
            .map(|(e, end)| (e, end.min(self.log_end)));
        self.reply(token, Response::EpochEnd { end });
    }

    /// After anything that may move the durable end, the ISR or a follower: recompute the high
    /// watermark, answer the produces it completes and the fetches it feeds.
    pub(crate) fn leader_progress(&mut self) {
        let candidate = self.hw_candidate();
        let (durable, min_insync, injected) = (
            self.durable_end,
            self.config.min_insync,
            self.config.injected,
        );
        let hw = candidate.max(self.high_watermark).min(durable);
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        self.high_watermark = hw;
        let isr_len = leader.isr.len();
        let mut answers = Vec::new();
        leader.pending.retain(|p| {
            let committed = if injected.is(Bug::AckAllOnLeaderOnly) {
                durable
            } else {
                hw
            };
            let done = match p.acks {
                Acks::None => true,
                Acks::Leader => p.end <= durable,
                Acks::All => p.end <= committed,
            };
            if done && p.acks != Acks::None {
                let response = if p.acks == Acks::All && isr_len < min_insync {
                    Response::Error(ErrorCode::NotEnoughReplicasAfterAppend)
                } else {
                    Response::Produced {
                        base_offset: p.base,
                    }
                };
                answers.push((p.token, response));
            }
            !done
        });
        let now = self.now_ms;
        let mut serve = Vec::new();
        leader.parked.retain(|f| {
            let up_to = if f.follower.is_some() { durable } else { hw };
            let ready = f.from < up_to || f.deadline_ms <= now;
            if ready {
                serve.push((*f, up_to));
            }
            !ready
        });
        for (token, response) in answers {
            self.reply(token, response);
        }
        for (f, up_to) in serve {
            self.serve_fetch(f, up_to);
        }
    }

    fn serve_fetch(&mut self, f: Parked, up_to: Offset) {
        if f.from >= up_to {
            return self.reply(f.token, fetched(self.high_watermark, self.durable_end));
        }
        self.actions.push(Action::ServeFetch {
            token: f.token,
            from: f.from,
            up_to,
            high_watermark: self.high_watermark,
            log_end: self.durable_end,
            max_bytes: f.max_bytes,
        });
    }

    /// The smallest durable end over the ISR (plus a replica being admitted), each follower
    /// counted only under the broker epoch its ISR entry names.
    fn hw_candidate(&self) -> Offset {
        let Role::Leader(leader) = &self.role else {
            return self.high_watermark;
        };
        let me = self.config.me;
        if self.config.injected.is(Bug::HwIgnoresIsr) {
            let lag = self.config.lag_max_ms;
            let fetching = leader
                .progress
                .values()
                .filter(|p| self.now_ms.saturating_sub(p.last_fetch_ms) <= lag);
            return fetching
                .map(|p| p.fetch_offset)
                .fold(self.durable_end, Offset::min);
        }
        let joining = leader.pending_isr.iter().flatten();
        leader
            .isr
            .iter()
            .chain(joining)
            .map(|m| {
                if m.broker == me {
                    return self.durable_end;
                }
                match leader.progress.get(&m.broker) {
                    Some(p) if p.broker_epoch == m.epoch => p.fetch_offset,
                    _ => 0,
                }
            })
            .min()
            .unwrap_or(self.durable_end)
    }

    pub(crate) fn leader_tick(&mut self) {
        let (now, timeout) = (self.now_ms, self.config.request_timeout_ms);
        let resend = match self.leader_mut() {
            Some(leader) if now.saturating_sub(leader.pending_isr_since) >= timeout => {
                leader.pending_isr.clone()
            }
            _ => None,
        };
        if let Some(isr) = resend {
            self.leader_request_isr(isr);
        }
        self.leader_progress();
        self.leader_consider_shrink();
        self.leader_consider_expand();
    }

    /// Proposes removing ISR followers that lag or restarted.
    fn leader_consider_shrink(&mut self) {
        let (me, now, lag) = (self.config.me, self.now_ms, self.config.lag_max_ms);
        let durable = self.durable_end;
        let Some(leader) = self.leader_mut() else {
            return;
        };
        if leader.pending_isr.is_some() {
            return;
        }
        leader.note_waiting_followers(now, durable);
        let keep: Vec<Member> = leader
            .isr
            .iter()
            .copied()
            .filter(|m| {
                if m.broker == me {
                    return true;
                }
                match leader.progress.get(&m.broker) {
                    Some(p) => {
                        p.broker_epoch == m.epoch && now - p.last_caught_up_ms.min(now) <= lag
                    }
                    None => now - leader.became_ms.min(now) <= lag,
                }
            })
            .collect();
        if keep.len() < leader.isr.len() {
            self.leader_request_isr(keep);
        }
    }

    /// Proposes admitting a follower that has caught up to the HW and this epoch's start, and
    /// is fetching now: the progress of a follower that stopped fetching (dead, or restarted
    /// under a new broker epoch it has not fetched with yet) must not be proposed again and
    /// again while a live one waits.
    fn leader_consider_expand(&mut self) {
        let (hw, now, lag) = (self.high_watermark, self.now_ms, self.config.lag_max_ms);
        let durable = self.durable_end;
        let Some(leader) = self.leader_mut() else {
            return;
        };
        if leader.pending_isr.is_some() {
            return;
        }
        leader.note_waiting_followers(now, durable);
        let floor = hw.max(leader.epoch_start);
        let joining = leader.progress.iter().find(|(broker, p)| {
            p.fetch_offset >= floor
                && now.saturating_sub(p.last_fetch_ms) <= lag
                && !leader.isr.iter().any(|m| m.broker == **broker)
        });
        if let Some((&broker, p)) = joining {
            let mut isr = leader.isr.clone();
            isr.push(Member {
                broker,
                epoch: p.broker_epoch,
            });
            self.leader_request_isr(isr);
        }
    }

    fn leader_request_isr(&mut self, isr: Vec<Member>) {
        let (me, now) = (self.config.me, self.now_ms);
        let Some(leader) = self.leader_mut() else {
            return;
        };
        leader.pending_isr = Some(isr.clone());
        leader.pending_isr_since = now;
        let request = IsrRequest {
            leader: me,
            leader_epoch: leader.epoch,
            state_version: leader.state_version,
            isr,
        };
        self.actions.push(Action::RequestIsr { request });
    }

    pub(crate) fn leader_isr_refused(&mut self, epoch: LeaderEpoch, deposed: bool, version: u64) {
        let injected = self.config.injected;
        let Some(leader) = self.leader_mut().filter(|l| l.epoch == epoch) else {
            return;
        };
        if !deposed {
            // Refused as it stands: the state is the one we hold, so nothing was applied. If the
            // controller holds a newer version, wait to see it (it may contain our change).
            if version <= leader.state_version {
                leader.pending_isr = None;
            }
            return;
        }
        let proposed = leader.pending_isr.take();
        if injected.is(Bug::LeaderIgnoresRefusal) {
            if let Some(isr) = proposed {
                leader.isr = isr;
            }
            return self.leader_progress();
        }
        let epoch = leader.epoch;
        self.deposed_in = Some(self.deposed_in.map_or(epoch, |e| e.max(epoch)));
        self.become_idle();
    }
}

/// The refusal for a follower or asker whose leader epoch is not the leader's.
fn epoch_mismatch(theirs: LeaderEpoch, mine: LeaderEpoch) -> Option<ErrorCode> {
    match theirs.cmp(&mine) {
        std::cmp::Ordering::Less => Some(ErrorCode::FencedLeaderEpoch),
        std::cmp::Ordering::Greater => Some(ErrorCode::UnknownLeaderEpoch),
        std::cmp::Ordering::Equal => None,
    }
}

fn fetched(high_watermark: Offset, log_end: Offset) -> Response {
    Response::Fetched {
        high_watermark,
        log_end,
        batches: Vec::new(),
    }
}
