//! What goes into the core ([`Input`]) and what comes out ([`Action`]).
//!
//! # The driver's contract
//! The driver (the server's event loop, or the simulator) feeds inputs one at a time and
//! carries out the actions of each step **in the order they were emitted**:
//! - `PersistAcceptedEpoch`, `PersistCurrentEpoch`, `Truncate` and `InstallSnapshot` are
//!   durable when the driver moves on to the next action. A `Send` that follows them may
//!   therefore rely on them: this is how "durable before you answer" is encoded as data.
//! - `Append` is asynchronous: the records may be written and fsynced later, in batches (group
//!   commit). The driver reports progress with [`Input::LogDurable`], in append order. The core
//!   never acknowledges a transaction before it has been reported durable.
//! - `Deliver` hands committed transactions to the state machine, strictly in zxid order.
//! - `TakeSnapshot` asks for a snapshot of the state machine *as of some delivery made so
//!   far*; the driver answers with [`Input::SnapshotTaken`] when it has it, at once or after
//!   other inputs (the server serializes a big tree off its event loop). An answer that comes
//!   after a [`Input::Compact`] past its zxid is refused with a new `TakeSnapshot`; one for a
//!   follower no longer waiting is dropped.
//! - `ReadLog` asks for the durable log records in a range, for a DIFF older than the payloads
//!   the core holds; the driver answers with [`Input::LogRead`], at once or later, off its event
//!   loop. The answer holds every record in the range, in order, or an error; the core checks
//!   its zxids against its history and sends a SNAP instead if they differ.

use crate::membership::Membership;
use crate::message::Message;
use crate::types::{Epoch, ServerId, Snapshot, Txn, Zxid};

/// An input to the core.
#[derive(Clone, Debug)]
pub enum Input {
    /// A message from a peer.
    Message { from: ServerId, message: Message },
    /// One tick of logical time has passed.
    Tick,
    /// Every record appended with a zxid at or below this one (and not truncated since) is
    /// durable.
    LogDurable(Zxid),
    /// The answer to [`Action::TakeSnapshot`].
    SnapshotTaken {
        for_server: ServerId,
        snapshot: Snapshot,
    },
    /// The answer to [`Action::ReadLog`]: the records with `after < zxid <= up_to`, in order.
    LogRead {
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
        txns: Result<Vec<Txn>, String>,
    },
    /// The connection to this peer broke (its process died, say). A follower of that leader
    /// returns to election at once instead of waiting `syncLimit` ticks for silence.
    PeerDisconnected(ServerId),
    /// The application has durably snapshotted its state at `zxid`; transactions at or below
    /// it may be dropped from memory (and from the log). The core keeps what it has not
    /// delivered, and counts what it drops as durable: the driver must not send this before
    /// the snapshot is on disk (a follower delivers COMMITs its own log may not hold yet).
    Compact(Zxid),
}

/// A role and phase, for observers (traces, metrics, 4lw). The protocol's logic keeps its own
/// state; this is a summary of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Looking,
    FollowingDiscovery,
    FollowingSync,
    FollowingBroadcast,
    LeadingDiscovery,
    LeadingSync,
    LeadingBroadcast,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Looking => "LOOKING",
            Phase::FollowingDiscovery => "FOLLOWING/discovery",
            Phase::FollowingSync => "FOLLOWING/synchronization",
            Phase::FollowingBroadcast => "FOLLOWING/broadcast",
            Phase::LeadingDiscovery => "LEADING/discovery",
            Phase::LeadingSync => "LEADING/synchronization",
            Phase::LeadingBroadcast => "LEADING/broadcast",
        }
    }
}

/// An output of the core, to be carried out by the driver in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send {
        to: ServerId,
        message: Message,
    },
    /// Durably store acceptedEpoch, with the leader that proposed it.
    PersistAcceptedEpoch {
        epoch: Epoch,
        leader: ServerId,
    },
    /// Durably store currentEpoch.
    PersistCurrentEpoch(Epoch),
    /// Append to the log (asynchronous; see [`Input::LogDurable`]).
    Append(Vec<Txn>),
    /// Durably remove every record after `zxid` from the log.
    Truncate(Zxid),
    /// Durably replace the state machine and the log with this snapshot.
    InstallSnapshot(Snapshot),
    /// Apply a committed transaction to the state machine.
    Deliver(Txn),
    /// The configuration in force changed (a reconfiguration was delivered, or a snapshot or
    /// truncation replaced the history): the driver updates who it talks to.
    MembershipChanged(Membership),
    /// Produce a snapshot of the state machine for a follower (answer with
    /// [`Input::SnapshotTaken`]).
    TakeSnapshot {
        for_server: ServerId,
    },
    /// Read the log records with `after < zxid <= up_to` for a follower's DIFF (answer with
    /// [`Input::LogRead`]). They are durable: the core drops a payload only once it is.
    ReadLog {
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
    },
    /// The role or phase changed.
    PhaseChanged {
        phase: Phase,
        epoch: Epoch,
    },
    /// A quorum confirmed this leader's leadership for every round up to `round` (see
    /// [`crate::Peer::confirm_leadership`]).
    LeadershipConfirmed {
        round: u64,
    },
    /// This server was established as the leader of `epoch`: a quorum acknowledged NEWLEADER.
    /// `initial` is the zxid of the last transaction of the history it established.
    Established {
        epoch: Epoch,
        initial: Zxid,
    },
}

/// What a server recovered from its disk when it starts.
#[derive(Clone, Debug, Default)]
pub struct Boot {
    pub accepted_epoch: Epoch,
    /// The leader that proposed `accepted_epoch` (0 when none).
    pub accepted_leader: ServerId,
    pub current_epoch: Epoch,
    /// The zxid of the snapshot the state machine was restored from (zero when none).
    pub snapshot_zxid: Zxid,
    /// The durable log after the snapshot, in order.
    pub log: Vec<Txn>,
    /// The configuration in force at the snapshot (the application keeps it in its state);
    /// `None` for the configuration the server was started with ([`crate::Config::members`]).
    pub membership: Option<Membership>,
    /// The version of the newest configuration this server activated before it stopped (the
    /// driver persists it on [`Action::MembershipChanged`], as ZooKeeper writes its dynamic
    /// configuration file). Configurations up to it in the recovered log were committed: they
    /// are in force at once, not pending again (a restarted ensemble must not wait for a quorum
    /// of servers a committed reconfiguration removed).
    pub activated: Zxid,
    /// A number that differs between starts of this server (randomness is injected): it keeps
    /// link ids of different incarnations apart.
    pub nonce: u64,
}

/// Why a proposal was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotLeader {
    /// This server is not an established leader; `hint` is the leader it follows, if any.
    NotLeader { hint: Option<ServerId> },
}

/// Why a reconfiguration was refused (ZooKeeper's error for each in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconfigRefused {
    NotLeader(NotLeader),
    /// Another configuration is proposed and not yet committed (RECONFIGINPROGRESS).
    InProgress,
    /// The new configuration has no voter (BADARGUMENTS).
    NoVoters,
    /// The new voters that are connected and synced to this leader (it included) are not a
    /// quorum of the new configuration (NEWCONFIGNOQUORUM).
    NoQuorum,
    /// The payload carries no configuration [`crate::Config::decoder`] recognizes (the
    /// application's own checks should have refused it: BADARGUMENTS).
    NotAConfiguration,
}
