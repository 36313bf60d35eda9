//! Quorums: every decision a leader makes rests on a quorum it heard from, counted from the
//! messages the world delivered to it and from its own disk — never from its own bookkeeping.
//!
//! - Discovery (paper phase 1, l.1.1; Zab.tla `LeaderProcessCEPOCH`): the new epoch is chosen
//!   once a quorum (the leader included) sent CEPOCH, and lies above every promise among them.
//! - The end of discovery (l.1.2; `LeaderProcessACKEPOCH`): a quorum, the leader included,
//!   acknowledged the new epoch with ACK-E, each a fresh promise (`promised`).
//! - Establishment (l.2.2; `LeaderProcessACKLD`): a quorum acknowledged NEWLEADER, the leader
//!   counting only once its own currentEpoch and initial history are durable.
//! - Commit (l.3.3; `LeaderProcessACK`): a transaction beyond the initial history is committed
//!   (COMMIT or COMMIT-LD sent, or delivered by the leader) only once a quorum of the epoch,
//!   the leader included if its log holds it durably, acknowledged it.
//! - Leadership confirmation (Quorum's linearizable sync): a round is confirmed only once a
//!   quorum, the leader included, answered a ping of that round or a later one.
//!
//! Quorums are of voters: what an observer sends is never counted here, and an observer never
//! leads, so a leader that counts an observer is caught at its first decision that needed it.

use std::collections::{BTreeMap, BTreeSet};

use zab::{Epoch, Message, Phase, ServerId, Zxid};

use super::{violation, Server};
use crate::checker::Violation;

/// One leadership attempt, as the world saw it: from becoming a prospective leader until it
/// stops leading or crashes.
#[derive(Default)]
struct Attempt {
    /// The leader's promise when the attempt began.
    promise: Epoch,
    /// The epoch it chose, once chosen.
    epoch: Option<Epoch>,
    /// CEPOCH received before the epoch was chosen: sender → its promise.
    cepochs: BTreeMap<ServerId, Epoch>,
    /// Senders of a promised ACK-E of the chosen epoch.
    promised: BTreeSet<ServerId>,
    /// The highest ACK-LD zxid received from each follower (this epoch).
    ack_new_leader: BTreeMap<ServerId, Zxid>,
    /// The highest zxid acknowledged (ACK-LD or ACK) by each follower (this epoch).
    acks: BTreeMap<ServerId, Zxid>,
    /// The highest confirmation round each follower answered (this epoch).
    rounds: BTreeMap<ServerId, u64>,
    /// The initial history's last zxid, once established.
    initial: Option<Zxid>,
}

fn raise<K: Ord, V: Ord + Copy>(map: &mut BTreeMap<K, V>, key: K, value: V) {
    let entry = map.entry(key).or_insert(value);
    *entry = (*entry).max(value);
}

pub struct Quorums {
    size: usize,
    /// Servers `1..=voters` vote; the others observe.
    voters: usize,
    attempts: Vec<Option<Attempt>>,
}

fn index(id: ServerId) -> usize {
    id.0 as usize - 1
}

impl Quorums {
    pub fn new(voters: usize, servers: usize) -> Quorums {
        Quorums {
            size: voters / 2 + 1,
            voters,
            attempts: (0..servers).map(|_| None).collect(),
        }
    }

    fn is_voter(&self, id: ServerId) -> bool {
        index(id) < self.voters
    }

    pub fn on_phase(
        &mut self,
        server: Server<'_>,
        phase: Phase,
        epoch: Epoch,
    ) -> Result<(), Violation> {
        if matches!(phase, Phase::LeadingDiscovery) && !self.is_voter(server.id) {
            return violation(
                "observer leads",
                format!("observer {} started leading {epoch}", server.id),
            );
        }
        let attempt = &mut self.attempts[index(server.id)];
        match phase {
            Phase::LeadingDiscovery => {
                attempt.get_or_insert_with(|| Attempt {
                    promise: server.disk.accepted_epoch,
                    ..Default::default()
                });
            }
            Phase::LeadingSync => {
                let votes = attempt.as_ref().map_or(0, |a| a.promised.len()) + 1;
                if votes < self.size {
                    return violation(
                        "discovery quorum",
                        format!(
                            "{} ended discovery of {epoch} with {votes} promised ACK-E of {}",
                            server.id, self.size
                        ),
                    );
                }
            }
            Phase::LeadingBroadcast => {}
            _ => *attempt = None,
        }
        Ok(())
    }

    /// A prospective leader writes acceptedEpoch: that is its choice of the new epoch.
    pub fn on_choose_epoch(&mut self, server: Server<'_>, epoch: Epoch) -> Result<(), Violation> {
        let size = self.size;
        let Some(attempt) = self.attempts[index(server.id)].as_mut() else {
            return Ok(());
        };
        if attempt.epoch.is_some() {
            return Ok(());
        }
        attempt.epoch = Some(epoch);
        let votes = attempt.cepochs.len() + 1;
        if votes < size {
            return violation(
                "discovery quorum",
                format!(
                    "{} chose {epoch} with CEPOCH from {votes} servers of {size}",
                    server.id
                ),
            );
        }
        let highest = attempt
            .cepochs
            .values()
            .copied()
            .fold(attempt.promise, Epoch::max);
        if epoch <= highest {
            return violation(
                "discovery quorum",
                format!(
                    "{} chose {epoch}, not above the promise {highest} of its quorum",
                    server.id
                ),
            );
        }
        Ok(())
    }

    /// A message reaches `to` (before it steps on it).
    pub fn on_receive(&mut self, to: ServerId, from: ServerId, message: &Message) {
        if !self.is_voter(from) {
            return;
        }
        let Some(attempt) = self.attempts[index(to)].as_mut() else {
            return;
        };
        let ours = Some(message.epoch()) == attempt.epoch;
        match *message {
            Message::CEpoch { accepted_epoch, .. } if attempt.epoch.is_none() => {
                raise(&mut attempt.cepochs, from, accepted_epoch);
            }
            Message::AckEpoch { promised: true, .. } if ours => {
                attempt.promised.insert(from);
            }
            Message::AckNewLeader { zxid, .. } if ours => {
                raise(&mut attempt.ack_new_leader, from, zxid);
                raise(&mut attempt.acks, from, zxid);
            }
            Message::Ack { zxid, .. } if ours => raise(&mut attempt.acks, from, zxid),
            Message::PingAck { round, .. } if ours => raise(&mut attempt.rounds, from, round),
            _ => {}
        }
    }

    /// A leader sends: COMMIT and COMMIT-LD announce a commit.
    pub fn on_send(&self, server: Server<'_>, message: &Message) -> Result<(), Violation> {
        match *message {
            Message::Commit { zxid, .. } => self.check_commit(server, zxid, "sent COMMIT"),
            Message::CommitNewLeader { committed, .. } => {
                self.check_commit(server, committed, "sent COMMIT-LD")
            }
            _ => Ok(()),
        }
    }

    pub fn on_established(
        &mut self,
        server: Server<'_>,
        epoch: Epoch,
        initial: Zxid,
    ) -> Result<(), Violation> {
        let size = self.size;
        let attempt = self.attempts[index(server.id)].get_or_insert_with(Attempt::default);
        attempt.initial = Some(initial);
        let disk = server.disk;
        let own = disk.current_epoch == epoch && disk.durable_end() >= initial;
        let votes = usize::from(own)
            + attempt
                .ack_new_leader
                .values()
                .filter(|&&z| z >= initial)
                .count();
        if votes < size || Some(epoch) != attempt.epoch {
            return violation(
                "establishment quorum",
                format!(
                    "{} established {epoch} (history to {initial}) with {votes} durable ACK-LD of {size}{}",
                    server.id,
                    if own { "" } else { " (its own not durable)" }
                ),
            );
        }
        Ok(())
    }

    /// `server` commits `zxid` (`how`): fine within its initial history, else only with a
    /// quorum of durable acknowledgements.
    pub fn check_commit(&self, server: Server<'_>, zxid: Zxid, how: &str) -> Result<(), Violation> {
        let Some(attempt) = self.attempts[index(server.id)].as_ref() else {
            return Ok(());
        };
        let Some(initial) = attempt.initial else {
            return Ok(());
        };
        if zxid <= initial {
            return Ok(());
        }
        let own = server.disk.durable_end() >= zxid;
        let votes = usize::from(own) + attempt.acks.values().filter(|&&z| z >= zxid).count();
        if votes < self.size {
            return violation(
                "commit quorum",
                format!(
                    "{} {how} {zxid} with {votes} durable acknowledgements of {}",
                    server.id, self.size
                ),
            );
        }
        Ok(())
    }

    pub fn check_confirmed(&self, server: Server<'_>, round: u64) -> Result<(), Violation> {
        let attempt = self.attempts[index(server.id)].as_ref();
        let votes = 1 + attempt.map_or(0, |a| a.rounds.values().filter(|&&r| r >= round).count());
        if votes < self.size || attempt.and_then(|a| a.initial).is_none() {
            return violation(
                "confirmation quorum",
                format!(
                    "{} confirmed its leadership for round {round} with {votes} answers of {}",
                    server.id, self.size
                ),
            );
        }
        Ok(())
    }

    pub fn crashed(&mut self, server: ServerId) {
        self.attempts[index(server)] = None;
    }
}
