//! The messages peers exchange, named as in the Zab paper.
//!
//! Messages from a leader to one follower travel on a *link*: the follower picks a fresh link
//! id every time it starts following (and sends it in CEPOCH), and the leader numbers every
//! message on that link with consecutive `seq` numbers, opening with NEWEPOCH. The follower
//! accepts exactly the next `seq`, drops duplicates and treats a gap as a broken link (it
//! returns to election and rejoins). Each link the leader opens starts its numbering far above
//! the previous one, so a link re-opened after a stale CEPOCH shows up as a gap. This
//! gives Zab the FIFO, no-duplicate channel it assumes (TCP in a real deployment) even on a
//! network that reorders and duplicates, as the simulator's does. Follower-to-leader messages
//! carry the link id so that replies from an abandoned link are ignored; their content is
//! idempotent (acks are cumulative).

use crate::membership::Membership;
use crate::types::{Epoch, ServerId, Snapshot, Txn, Zxid};

/// What a server says about itself in election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    Looking,
    /// Looking for a leader without standing: this server votes in no configuration in force
    /// here (an observer, a removed or joining server). It is answered like a looking server,
    /// but its vote is never counted nor adopted.
    Observing,
    Following,
    Leading,
}

/// A vote for a leader: the candidate and how up to date its history is. Votes are ordered by
/// (epoch, zxid, leader), as in Fast Leader Election's total order predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vote {
    pub leader: ServerId,
    /// The candidate's currentEpoch (for a server that is following or leading: the epoch of
    /// the leader it is with).
    pub epoch: Epoch,
    /// The candidate's last zxid.
    pub zxid: Zxid,
}

impl Vote {
    fn key(&self) -> (Epoch, Zxid, ServerId) {
        (self.epoch, self.zxid, self.leader)
    }

    /// Whether `self` is a better candidate than `other`.
    pub fn beats(&self, other: &Vote) -> bool {
        self.key() > other.key()
    }
}

/// An election notification (Fast Leader Election style).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The sender's election round (ZooKeeper's logical clock).
    pub round: u64,
    pub state: PeerState,
    pub vote: Vote,
    /// The newest configuration the sender knows (the last its history carries), as
    /// ZooKeeper's notifications carry theirs: a server whose view is older uses it for the
    /// election, so that an ensemble whose servers missed a reconfiguration still agrees on
    /// who may vote and lead.
    pub membership: Membership,
}

/// One message between peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Election vote.
    Vote(Notification),
    /// Follower → prospective leader: my last promise (acceptedEpoch).
    CEpoch { link: u64, accepted_epoch: Epoch },
    /// Leader → follower: adopt epoch `epoch`.
    NewEpoch { link: u64, seq: u64, epoch: Epoch },
    /// Follower → leader: I accepted `epoch`; this is how up to date I am. `promised` is false
    /// when the follower had already promised this epoch number to another prospective
    /// leader: it may follow, but its acknowledgement must not count toward the quorum that
    /// establishes the epoch (ZooKeeper sends -1 for the same reason).
    AckEpoch {
        link: u64,
        epoch: Epoch,
        current_epoch: Epoch,
        last_zxid: Zxid,
        promised: bool,
    },
    /// Leader → follower: the transactions you are missing, in order.
    Diff {
        link: u64,
        seq: u64,
        epoch: Epoch,
        txns: Vec<Txn>,
    },
    /// Leader → follower: drop every transaction after `zxid`.
    Trunc {
        link: u64,
        seq: u64,
        epoch: Epoch,
        zxid: Zxid,
    },
    /// Leader → follower: replace your whole state with this snapshot, at which `membership`
    /// is the configuration in force.
    Snap {
        link: u64,
        seq: u64,
        epoch: Epoch,
        snapshot: Snapshot,
        membership: Membership,
    },
    /// Leader → follower: your history now equals mine up to `last_zxid`; I lead `epoch`.
    NewLeader {
        link: u64,
        seq: u64,
        epoch: Epoch,
        last_zxid: Zxid,
    },
    /// Follower → leader: my history up to `zxid` is durable and my currentEpoch is `epoch`.
    AckNewLeader { link: u64, epoch: Epoch, zxid: Zxid },
    /// Leader → follower: a quorum acknowledged; everything up to `committed` is committed.
    CommitNewLeader {
        link: u64,
        seq: u64,
        epoch: Epoch,
        committed: Zxid,
    },
    /// Leader → follower: a new transaction.
    Propose {
        link: u64,
        seq: u64,
        epoch: Epoch,
        txn: Txn,
    },
    /// Follower → leader: everything up to `zxid` is durable here (cumulative).
    Ack { link: u64, epoch: Epoch, zxid: Zxid },
    /// Leader → follower: everything up to `zxid` is committed (cumulative).
    Commit {
        link: u64,
        seq: u64,
        epoch: Epoch,
        zxid: Zxid,
    },
    /// Leader → follower heartbeat. `round` is the leader's latest leadership-confirmation
    /// round (see `Peer::confirm_leadership`).
    Ping {
        link: u64,
        seq: u64,
        epoch: Epoch,
        round: u64,
    },
    /// Follower → leader heartbeat reply, echoing the ping's round.
    PingAck { link: u64, epoch: Epoch, round: u64 },
}

impl Message {
    /// The protocol name of the message, as used in traces.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Vote(_) => "VOTE",
            Message::CEpoch { .. } => "CEPOCH",
            Message::NewEpoch { .. } => "NEWEPOCH",
            Message::AckEpoch { .. } => "ACK-E",
            Message::Diff { .. } => "DIFF",
            Message::Trunc { .. } => "TRUNC",
            Message::Snap { .. } => "SNAP",
            Message::NewLeader { .. } => "NEWLEADER",
            Message::AckNewLeader { .. } => "ACK-LD",
            Message::CommitNewLeader { .. } => "COMMIT-LD",
            Message::Propose { .. } => "PROPOSE",
            Message::Ack { .. } => "ACK",
            Message::Commit { .. } => "COMMIT",
            Message::Ping { .. } => "PING",
            Message::PingAck { .. } => "PINGACK",
        }
    }

    /// The epoch the message speaks for (for a vote, the candidate's epoch).
    pub fn epoch(&self) -> Epoch {
        match self {
            Message::Vote(n) => n.vote.epoch,
            Message::CEpoch { accepted_epoch, .. } => *accepted_epoch,
            Message::NewEpoch { epoch, .. }
            | Message::AckEpoch { epoch, .. }
            | Message::Diff { epoch, .. }
            | Message::Trunc { epoch, .. }
            | Message::Snap { epoch, .. }
            | Message::NewLeader { epoch, .. }
            | Message::AckNewLeader { epoch, .. }
            | Message::CommitNewLeader { epoch, .. }
            | Message::Propose { epoch, .. }
            | Message::Ack { epoch, .. }
            | Message::Commit { epoch, .. }
            | Message::Ping { epoch, .. }
            | Message::PingAck { epoch, .. } => *epoch,
        }
    }

    /// The zxid the message is about, where it has one (for traces).
    pub fn zxid(&self) -> Option<Zxid> {
        match self {
            Message::Vote(n) => Some(n.vote.zxid),
            Message::AckEpoch { last_zxid, .. } | Message::NewLeader { last_zxid, .. } => {
                Some(*last_zxid)
            }
            Message::Diff { txns, .. } => txns.last().map(|t| t.zxid),
            Message::Trunc { zxid, .. }
            | Message::AckNewLeader { zxid, .. }
            | Message::Ack { zxid, .. }
            | Message::Commit { zxid, .. } => Some(*zxid),
            Message::Snap { snapshot, .. } => Some(snapshot.zxid),
            Message::CommitNewLeader { committed, .. } => Some(*committed),
            Message::Propose { txn, .. } => Some(txn.zxid),
            _ => None,
        }
    }

    /// For a leader-to-follower message: its link and sequence number.
    pub fn link_seq(&self) -> Option<(u64, u64)> {
        match self {
            Message::NewEpoch { link, seq, .. }
            | Message::Diff { link, seq, .. }
            | Message::Trunc { link, seq, .. }
            | Message::Snap { link, seq, .. }
            | Message::NewLeader { link, seq, .. }
            | Message::CommitNewLeader { link, seq, .. }
            | Message::Propose { link, seq, .. }
            | Message::Commit { link, seq, .. }
            | Message::Ping { link, seq, .. } => Some((*link, *seq)),
            _ => None,
        }
    }
}
