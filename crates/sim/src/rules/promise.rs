//! Promises: once a server durably promised epoch e (acceptedEpoch = e), it takes nothing from
//! an epoch below e; durable epochs never go down; and the epoch files keep, across a crash,
//! the old or the new value of a write, never a mix.
//!
//! The rules, in the paper's terms (DSN 2011, phase 1, step f.1.2, and phase 2): a follower
//! accepts NEWEPOCH(e') only if e' is not below its promise f.p, and then sets f.p = e'; it
//! accepts NEWLEADER(e') only if f.p = e' (ZooKeeper's Zab.tla: `FollowerProcessNEWEPOCH`
//! requires `mepoch >= acceptedEpoch`, `FollowerProcessNEWLEADER` requires
//! `acceptedEpoch = mepoch` and sets `currentEpoch` to it). Everything a follower takes after
//! that (DIFF, TRUNC, SNAP, PROPOSE, COMMIT) comes from the leader of f.p. The storage contract
//! (storage crate, `epoch.rs`) replaces an epoch file atomically: temporary file, fsync,
//! rename.

use zab::{Epoch, Message, Phase, ServerId};

use super::{violation, Server};
use crate::checker::Violation;
use crate::trace::Persisted;

/// The contents of one server's two epoch files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EpochFiles {
    pub accepted: Epoch,
    pub accepted_leader: ServerId,
    pub current: Epoch,
}

impl EpochFiles {
    pub fn of(disk: &crate::disk::Disk) -> EpochFiles {
        EpochFiles {
            accepted: disk.accepted_epoch,
            accepted_leader: disk.accepted_leader,
            current: disk.current_epoch,
        }
    }
}

/// What the promise rules remember.
pub struct Promises {
    /// Per server: what its epoch files must hold, from the writes that completed.
    written: Vec<EpochFiles>,
    /// Per server: a write its last crash interrupted, which the files may hold instead.
    interrupted: Vec<Option<EpochFiles>>,
    /// The leader's message being stepped on, when it speaks for an epoch below the receiver's
    /// durable promise: (receiver, the message's epoch, its name).
    stale: Option<(ServerId, Epoch, &'static str)>,
}

fn index(id: ServerId) -> usize {
    id.0 as usize - 1
}

impl Promises {
    pub fn new(servers: usize) -> Promises {
        Promises {
            written: vec![EpochFiles::default(); servers],
            interrupted: vec![None; servers],
            stale: None,
        }
    }

    /// A leader-to-follower message arrives: remember it if it is below the promise, so that
    /// nothing the receiver does on it may take it.
    pub fn on_receive(&mut self, server: Server<'_>, message: &Message) {
        let from_a_leader = message.link_seq().is_some();
        if from_a_leader && message.epoch() < server.disk.accepted_epoch {
            self.stale = Some((server.id, message.epoch(), message.name()));
        }
    }

    pub fn end_step(&mut self) {
        self.stale = None;
    }

    /// A follower took something (`what`) in the step of a message below its promise.
    pub fn check_accept(&self, server: Server<'_>, what: &str) -> Result<(), Violation> {
        match self.stale {
            Some((id, epoch, name)) if id == server.id => violation(
                "promise kept",
                format!(
                    "{id} {what} on {name} of {epoch} after durably promising {}",
                    server.disk.accepted_epoch
                ),
            ),
            _ => Ok(()),
        }
    }

    /// An epoch write completed: from now on the files must hold what it wrote.
    pub fn written(&mut self, server: ServerId, write: impl FnOnce(&mut EpochFiles)) {
        write(&mut self.written[index(server)]);
    }

    pub fn crashed(&mut self, server: ServerId, interrupted: Option<Persisted>) {
        let written = self.written[index(server)];
        self.interrupted[index(server)] = match interrupted {
            Some(Persisted::AcceptedEpoch { epoch, leader }) => Some(EpochFiles {
                accepted: epoch,
                accepted_leader: leader,
                ..written
            }),
            Some(Persisted::CurrentEpoch(epoch)) => Some(EpochFiles {
                current: epoch,
                ..written
            }),
            Some(Persisted::Truncate(_)) | None => None,
        };
    }

    /// On restart the epoch files hold the last completed write, or the write a crash
    /// interrupted — nothing older (epochs never go down), and no mix of the two.
    pub fn check_restart(&mut self, server: Server<'_>) -> Result<(), Violation> {
        let i = index(server.id);
        let found = EpochFiles::of(server.disk);
        let interrupted = self.interrupted[i].take();
        if found == self.written[i] {
            return Ok(());
        }
        if interrupted == Some(found) {
            self.written[i] = found;
            return Ok(());
        }
        violation(
            "storage contract",
            format!(
                "{} restarted with epoch files {found:?}; the last completed write left {:?}{}",
                server.id,
                self.written[i],
                interrupted.map_or(String::new(), |w| format!(" and the interrupted one {w:?}"))
            ),
        )
    }
}

/// A follower's answers (ACK-E, ACK-LD, ACK, PINGACK) speak for the epoch of the leader it
/// follows, which must be its promise: answering for a lower one breaks it.
pub fn check_answer(server: Server<'_>, message: &Message) -> Result<(), Violation> {
    let answer = matches!(
        message,
        Message::AckEpoch { .. }
            | Message::AckNewLeader { .. }
            | Message::Ack { .. }
            | Message::PingAck { .. }
    );
    let promised = server.disk.accepted_epoch;
    if answer && message.epoch() < promised {
        return violation(
            "promise kept",
            format!(
                "{} sent {} of {} after durably promising {promised}",
                server.id,
                message.name(),
                message.epoch()
            ),
        );
    }
    Ok(())
}

/// A follower synchronizes with, or follows in broadcast, only the leader of its promise.
pub fn check_phase(server: Server<'_>, phase: Phase, epoch: Epoch) -> Result<(), Violation> {
    let following = matches!(phase, Phase::FollowingSync | Phase::FollowingBroadcast);
    let promised = server.disk.accepted_epoch;
    if following && epoch < promised {
        return violation(
            "promise kept",
            format!(
                "{} is {} in {epoch} after durably promising {promised}",
                server.id,
                phase.name()
            ),
        );
    }
    Ok(())
}

/// acceptedEpoch only goes up (a promise is never withdrawn).
pub fn check_accepted_write(server: Server<'_>, epoch: Epoch) -> Result<(), Violation> {
    let before = server.disk.accepted_epoch;
    if epoch < before {
        return violation(
            "epochs never decrease",
            format!("{} writes acceptedEpoch {epoch} over {before}", server.id),
        );
    }
    Ok(())
}

/// currentEpoch only goes up, and only to the promised epoch (NEWLEADER is accepted only from
/// the leader of f.p).
pub fn check_current_write(server: Server<'_>, epoch: Epoch) -> Result<(), Violation> {
    let (before, promised) = (server.disk.current_epoch, server.disk.accepted_epoch);
    if epoch < before {
        return violation(
            "epochs never decrease",
            format!("{} writes currentEpoch {epoch} over {before}", server.id),
        );
    }
    if epoch != promised {
        return violation(
            "promise kept",
            format!(
                "{} writes currentEpoch {epoch} while its promise is {promised}",
                server.id
            ),
        );
    }
    Ok(())
}
