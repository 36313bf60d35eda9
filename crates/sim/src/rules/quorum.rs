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
//! Quorums are of voters, of every configuration in force on the leader (see [`super::configs`]):
//! what an observer or a removed server sends is never counted, and none of them ever leads. A
//! commit of `z` needs a quorum of the configuration in force at `z` and of the one in force at
//! the leader's previous commit — both while a reconfiguration is pending, so two
//! configurations that may be active never commit with disjoint quorums.

use std::collections::{BTreeMap, BTreeSet};

use zab::{Epoch, Membership, Message, Phase, ServerId, Zxid};

use super::configs::{self, Configs};
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
    /// The highest zxid checked as committed (commits are cumulative).
    committed: Zxid,
}

fn raise<K: Ord, V: Ord + Copy>(map: &mut BTreeMap<K, V>, key: K, value: V) {
    let entry = map.entry(key).or_insert(value);
    *entry = (*entry).max(value);
}

pub struct Quorums {
    /// The configuration every server starts with.
    initial: Membership,
    attempts: Vec<Option<Attempt>>,
}

fn index(id: ServerId) -> usize {
    id.0 as usize - 1
}

impl Quorums {
    pub fn new(initial: Membership, servers: usize) -> Quorums {
        Quorums {
            initial,
            attempts: (0..servers).map(|_| None).collect(),
        }
    }

    fn configs(&self, server: Server<'_>) -> Configs {
        Configs::of(server, &self.initial)
    }

    /// `None` if `yes` holds for a quorum of every configuration in force on `server`; else
    /// a description of the first configuration it falls short in.
    fn short_in_force(&self, server: Server<'_>, yes: impl Fn(ServerId) -> bool) -> Option<String> {
        let configs = self.configs(server);
        let views = configs.in_force(server.app.zxid);
        configs::short(&views, yes)
            .map(|(m, votes)| format!("{votes} of {} in {}", m.quorum_size(), configs::describe(m)))
    }

    pub fn on_phase(
        &mut self,
        server: Server<'_>,
        phase: Phase,
        epoch: Epoch,
    ) -> Result<(), Violation> {
        let configs = self.configs(server);
        let votes = configs
            .in_force(server.app.zxid)
            .iter()
            .any(|m| m.is_voter(server.id));
        if matches!(phase, Phase::LeadingDiscovery) && !votes {
            return violation(
                "observer leads",
                format!(
                    "{} started leading {epoch} without a vote in {}",
                    server.id,
                    configs::describe(configs.at(server.app.zxid))
                ),
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
                let promised = attempt
                    .as_ref()
                    .map(|a| a.promised.clone())
                    .unwrap_or_default();
                let me = server.id;
                if let Some(short) =
                    self.short_in_force(server, |v| v == me || promised.contains(&v))
                {
                    return violation(
                        "discovery quorum",
                        format!("{me} ended discovery of {epoch} with promised ACK-E from {short}"),
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
        let me = server.id;
        let Some(attempt) = self.attempts[index(me)].as_ref() else {
            return Ok(());
        };
        if attempt.epoch.is_some() {
            return Ok(());
        }
        let joined: BTreeSet<ServerId> = attempt.cepochs.keys().copied().collect();
        let short = self.short_in_force(server, |v| v == me || joined.contains(&v));
        let attempt = self.attempts[index(me)].as_mut().expect("attempt");
        attempt.epoch = Some(epoch);
        if let Some(short) = short {
            return violation(
                "discovery quorum",
                format!("{me} chose {epoch} with CEPOCH from {short}"),
            );
        }
        // Above the promise of every voter that sent CEPOCH (a server with no vote in the
        // configurations in force may learn from this epoch without having raised it).
        let configs = self.configs(server);
        let views = configs.in_force(server.app.zxid);
        let attempt = self.attempts[index(me)].as_ref().expect("attempt");
        let highest = attempt
            .cepochs
            .iter()
            .filter(|(id, _)| views.iter().any(|m| m.is_voter(**id)))
            .map(|(_, &e)| e)
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
    pub fn on_send(&mut self, server: Server<'_>, message: &Message) -> Result<(), Violation> {
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
        let me = server.id;
        let attempt = self.attempts[index(me)].get_or_insert_with(Attempt::default);
        attempt.initial = Some(initial);
        attempt.committed = initial;
        let chosen = attempt.epoch;
        let acked: BTreeSet<ServerId> = attempt
            .ack_new_leader
            .iter()
            .filter(|&(_, &z)| z >= initial)
            .map(|(&id, _)| id)
            .collect();
        let disk = server.disk;
        let own = disk.current_epoch == epoch && disk.durable_end() >= initial;
        let short = self.short_in_force(server, |v| (v == me && own) || acked.contains(&v));
        if short.is_some() || Some(epoch) != chosen {
            return violation(
                "establishment quorum",
                format!(
                    "{me} established {epoch} (history to {initial}) with durable ACK-LD from {}{}",
                    short.unwrap_or_else(|| "a quorum of another epoch".into()),
                    if own { "" } else { " (its own not durable)" }
                ),
            );
        }
        Ok(())
    }

    /// `server` commits `zxid` (`how`): fine within its initial history, else only with durable
    /// acknowledgements from a quorum of the configuration in force at `zxid` and of the one
    /// in force at its previous commit.
    pub fn check_commit(
        &mut self,
        server: Server<'_>,
        zxid: Zxid,
        how: &str,
    ) -> Result<(), Violation> {
        let me = server.id;
        let Some(attempt) = self.attempts[index(me)].as_ref() else {
            return Ok(());
        };
        if attempt.initial.is_none() || zxid <= attempt.committed {
            return Ok(());
        }
        let configs = self.configs(server);
        let views = [configs.at(zxid), configs.at(attempt.committed)];
        let own = server.disk.durable_end() >= zxid;
        let acked =
            |v: ServerId| (v == me && own) || attempt.acks.get(&v).is_some_and(|&z| z >= zxid);
        if let Some((m, votes)) = configs::short(&views, acked) {
            return violation(
                "commit quorum",
                format!(
                    "{me} {how} {zxid} with durable acknowledgements from {votes} of {} in {}",
                    m.quorum_size(),
                    configs::describe(m)
                ),
            );
        }
        self.attempts[index(me)]
            .as_mut()
            .expect("attempt")
            .committed = zxid;
        Ok(())
    }

    pub fn check_confirmed(&self, server: Server<'_>, round: u64) -> Result<(), Violation> {
        let me = server.id;
        let attempt = self.attempts[index(me)].as_ref();
        let answered = |v: ServerId| {
            v == me || attempt.is_some_and(|a| a.rounds.get(&v).is_some_and(|&r| r >= round))
        };
        let short = self.short_in_force(server, answered);
        if short.is_some() || attempt.and_then(|a| a.initial).is_none() {
            return violation(
                "confirmation quorum",
                format!(
                    "{me} confirmed its leadership for round {round} with answers from {}",
                    short.unwrap_or_else(|| "no established epoch".into())
                ),
            );
        }
        Ok(())
    }

    pub fn crashed(&mut self, server: ServerId) {
        self.attempts[index(server)] = None;
    }
}
