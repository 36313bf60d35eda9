//! The replica as a follower: align the log with the leader's, then copy it.
//!
//! Alignment is by leader epoch, never by high watermark (the KIP-101 bug): the follower asks the
//! leader where its latest epoch ends in the leader's log, and truncates to the smaller of that
//! and its own end of that epoch; if the leader answers with an older epoch that the follower
//! does not have, it asks again with its next older one (KIP-279). Because each epoch has one
//! leader that never rewrites its own log, logs that agree at the end of a common epoch agree on
//! everything before it. Then it fetches from its log end, one request at a time, each sent only
//! once the previous batches are durable, so the offset it reports is one it will not lose.

use crate::batch::Batch;
use crate::bug::Bug;
use crate::ids::{BrokerId, LeaderEpoch, Offset};
use crate::message::{ReplicaFetch, Request, Response};
use crate::replica::{Replica, Role};

#[derive(Debug)]
pub(crate) struct FollowerRole {
    pub leader: BrokerId,
    pub epoch: LeaderEpoch,
    phase: Phase,
    /// The request in flight: its id and when it was sent.
    awaiting: Option<(u64, u64)>,
    /// No request before this time (after an error).
    retry_at_ms: u64,
    /// The leader's high watermark from the last fetch answer.
    leader_hw: Offset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Asking where epoch `ask` ends in the leader's log.
    Aligning {
        ask: LeaderEpoch,
    },
    Fetching,
}

impl Replica {
    /// Becomes (or stays) a follower of `leader` in `epoch`.
    pub(crate) fn follow(&mut self, leader: BrokerId, epoch: LeaderEpoch) {
        if let Role::Follower(f) = &self.role {
            if f.leader == leader && f.epoch == epoch {
                return;
            }
        }
        self.become_idle();
        let phase = if self.config.injected.is(Bug::TruncateToHw) {
            let hw = self.high_watermark;
            self.truncate_when_idle(hw);
            Phase::Fetching
        } else {
            match self.epochs.latest() {
                Some(ask) => Phase::Aligning { ask },
                None => Phase::Fetching,
            }
        };
        self.role = Role::Follower(FollowerRole {
            leader,
            epoch,
            phase,
            awaiting: None,
            retry_at_ms: 0,
            leader_hw: 0,
        });
    }

    /// The broken variant's truncation happens at once; appends in flight are waited for by
    /// clamping to what is durable.
    fn truncate_when_idle(&mut self, to: Offset) {
        if self.durable_end == self.log_end {
            self.truncate(to);
        }
    }

    /// Sends the next request if none is in flight and the log is durable to its end.
    pub(crate) fn follower_poll(&mut self) {
        let (me, broker_epoch, max_bytes) = (
            self.config.me,
            self.config.broker_epoch,
            self.config.fetch_max_bytes,
        );
        let (now, log_end, durable) = (self.now_ms, self.log_end, self.durable_end);
        let Role::Follower(f) = &self.role else {
            return;
        };
        if f.awaiting.is_some() || now < f.retry_at_ms || durable != log_end {
            return;
        }
        let (leader, epoch) = (f.leader, f.epoch);
        let request = match f.phase {
            Phase::Aligning { ask } => Request::OffsetForEpoch {
                epoch: ask,
                leader_epoch: epoch,
            },
            Phase::Fetching => Request::Fetch {
                offset: log_end,
                max_bytes,
                replica: Some(ReplicaFetch {
                    broker: me,
                    broker_epoch,
                    leader_epoch: epoch,
                }),
            },
        };
        let id = self.send(leader, request);
        if let Role::Follower(f) = &mut self.role {
            f.awaiting = Some((id, now));
        }
    }

    pub(crate) fn follower_answer(&mut self, id: u64, response: Option<Response>) {
        let backoff = self.config.retry_backoff_ms;
        let now = self.now_ms;
        let Role::Follower(f) = &mut self.role else {
            return;
        };
        if f.awaiting.map(|(awaited, _)| awaited) != Some(id) {
            return;
        }
        f.awaiting = None;
        let phase = f.phase;
        match (phase, response) {
            (Phase::Aligning { .. }, Some(Response::EpochEnd { end })) => self.align(end),
            (
                Phase::Fetching,
                Some(Response::Fetched {
                    high_watermark,
                    batches,
                    ..
                }),
            ) => self.copy(high_watermark, batches),
            (_, Some(Response::Error(crate::message::ErrorCode::OffsetOutOfRange))) => {
                self.realign()
            }
            _ => {
                if let Role::Follower(f) = &mut self.role {
                    f.retry_at_ms = now + backoff;
                }
            }
        }
    }

    /// The leader's answer to "where does `ask` end": truncate, or ask about an older epoch.
    fn align(&mut self, end: Option<(LeaderEpoch, Offset)>) {
        let phase = match end {
            Some((epoch, leader_end)) if self.epochs.start_of(epoch).is_some() => {
                let (_, mine) = self
                    .epochs
                    .end_of(epoch, self.log_end)
                    .expect("an epoch this log has has an end");
                self.truncate(leader_end.min(mine));
                Phase::Fetching
            }
            // The leader's epoch is one this log lacks: ask about our next older one.
            Some((epoch, _)) => match self
                .epochs
                .entries()
                .iter()
                .rev()
                .find(|&&(e, _)| e < epoch)
            {
                Some(&(ask, _)) => Phase::Aligning { ask },
                None => {
                    self.truncate(0);
                    Phase::Fetching
                }
            },
            // Every epoch the leader has is newer than ours: nothing of ours is in its log.
            None => {
                self.truncate(0);
                Phase::Fetching
            }
        };
        if let Role::Follower(f) = &mut self.role {
            f.phase = phase;
        }
    }

    /// Aligns again from the latest epoch (the leader said our offset is past its log).
    fn realign(&mut self) {
        let latest = self.epochs.latest();
        if let Role::Follower(f) = &mut self.role {
            f.phase = match latest {
                Some(ask) => Phase::Aligning { ask },
                None => Phase::Fetching,
            };
        }
    }

    /// Appends what the leader sent, if it extends this log in order; otherwise aligns again.
    fn copy(&mut self, leader_hw: Offset, batches: Vec<Batch>) {
        let Role::Follower(f) = &mut self.role else {
            return;
        };
        f.leader_hw = f.leader_hw.max(leader_hw);
        let epoch = f.epoch;
        for batch in batches {
            let header = batch.header;
            let in_order = header.base_offset == self.log_end
                && header.count > 0
                && header.epoch <= epoch
                && self.epochs.latest().is_none_or(|e| header.epoch >= e);
            if !in_order {
                self.realign();
                break;
            }
            self.append(batch);
        }
        self.follower_appended();
    }

    /// The follower's high watermark: the leader's, as far as this log is durable.
    pub(crate) fn follower_appended(&mut self) {
        let Role::Follower(f) = &self.role else {
            return;
        };
        let hw = f.leader_hw.min(self.durable_end);
        self.high_watermark = self.high_watermark.max(hw);
    }

    pub(crate) fn follower_tick(&mut self) {
        let (now, timeout) = (self.now_ms, self.config.request_timeout_ms);
        if let Role::Follower(f) = &mut self.role {
            if let Some((_, sent)) = f.awaiting {
                if now.saturating_sub(sent) >= timeout {
                    f.awaiting = None;
                }
            }
        }
    }
}
