//! Static configuration of one peer: membership, timeouts in ticks, and test-only bugs.

use crate::membership::{self, Decoder, Membership};
use crate::types::ServerId;

/// How one peer is configured. Timeouts are counted in ticks, with ZooKeeper's meanings:
/// the driver feeds one [`crate::Input::Tick`] per `tickTime`.
#[derive(Clone, Debug)]
pub struct Config {
    /// This server.
    pub id: ServerId,
    /// Every voting member of the configuration this server was started with (`id` included,
    /// unless this server observes). 2f+1 voters tolerate f crashes. It is the configuration in
    /// force until the history says otherwise: a snapshot's configuration
    /// ([`crate::Boot::membership`]) and reconfiguration transactions replace it.
    pub members: Vec<ServerId>,
    /// Non-voting members (ZooKeeper's observers): they join a leader and learn every
    /// committed transaction like followers, but are never counted toward a quorum, never vote
    /// and never lead, so adding them adds read capacity without slowing commits or elections.
    pub observers: Vec<ServerId>,
    /// Ticks a follower (or prospective leader) may spend connecting to its leader and
    /// synchronizing before it gives up and returns to election (ZooKeeper's `initLimit`).
    pub init_limit: u64,
    /// Ticks without hearing from the other side after which a follower abandons its leader
    /// and a leader counts a follower as lost (ZooKeeper's `syncLimit`).
    pub sync_limit: u64,
    /// While looking, re-send our vote every this many ticks.
    pub election_resend_ticks: u64,
    /// Largest number of transactions sent in one DIFF message.
    pub diff_batch_max: usize,
    /// Payloads kept in memory after they are durable and delivered, the newest ones: a DIFF
    /// from within them is sent from memory, one from further back reads the log
    /// (`Action::ReadLog`). The history keeps every zxid back to its base either way.
    pub history_tail_txns: usize,
    /// The same tail's bound in payload bytes; whichever bound is reached first drops payloads.
    pub history_tail_bytes: usize,
    /// Recognizes the application's reconfiguration transactions (see [`Decoder`]).
    pub decoder: Decoder,
    /// A deliberately broken behaviour, for the teeth tests only. It exists only in builds
    /// with the `bugs` cargo feature, which the shipped binary is never built with.
    #[cfg(feature = "bugs")]
    pub bug: Option<Bug>,
}

impl Config {
    /// A configuration with ZooKeeper-like defaults (initLimit 10, syncLimit 5).
    pub fn new(id: ServerId, members: Vec<ServerId>) -> Config {
        Config {
            id,
            members,
            observers: Vec::new(),
            init_limit: 10,
            sync_limit: 5,
            election_resend_ticks: 2,
            diff_batch_max: 1000,
            history_tail_txns: 10_000,
            history_tail_bytes: 8 << 20,
            decoder: membership::no_reconfig,
            #[cfg(feature = "bugs")]
            bug: None,
        }
    }

    /// Whether this peer runs the broken variant `bug` (never, without the `bugs` feature).
    #[inline]
    pub(crate) fn has_bug(&self, bug: Bug) -> bool {
        #[cfg(feature = "bugs")]
        {
            self.bug == Some(bug)
        }
        #[cfg(not(feature = "bugs"))]
        {
            let _ = bug;
            false
        }
    }

    /// The configuration this server was started with, as version zero.
    pub fn initial_membership(&self) -> Membership {
        Membership::new(self.members.clone(), self.observers.clone())
    }

    /// Whether `id` votes in the configuration this server was started with.
    pub fn is_voter(&self, id: ServerId) -> bool {
        self.members.contains(&id)
    }
}

/// Deliberately broken protocol variants. Each breaks one rule the protocol depends on; the
/// simulator's teeth tests show that a sweep catches every one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// A follower ACKs a proposal as soon as it is appended, before it is durable.
    AckBeforeDurable,
    /// A follower sends ACK-LD before its synchronized history is durable.
    AckNewLeaderBeforeDurable,
    /// A leader commits a proposal as soon as it alone has it (a minority).
    CommitOnMinority,
    /// A follower accepts a NEWEPOCH below its acceptedEpoch.
    AcceptStaleNewEpoch,
    /// A leader sends DIFF where it should send TRUNC, leaving a follower's divergent suffix.
    SkipTrunc,
    /// A leader confirms its leadership (for a sync) without asking a quorum, as ZooKeeper's
    /// sync does (ZOOKEEPER-1675): a deposed leader then answers.
    ConfirmWithoutQuorum,
    /// A leader counts observers' promises and acknowledgements toward its quorums.
    ObserverCounts,
    /// While a reconfiguration is pending, a leader counts a quorum of the proposed
    /// configuration only, forgetting the one still active.
    NewQuorumOnly,
    /// While a reconfiguration is pending, a leader counts a quorum of the active
    /// configuration only: a configuration commits without a quorum of its own voters.
    OldQuorumOnly,
    /// A leader removed by a reconfiguration keeps leading, and counts itself as a voter.
    RemovedLeaderLeads,
    /// A leader trusts a log read for a DIFF without checking its zxids against its history,
    /// and the read came back one record short.
    ShortLogRead,
}

impl Bug {
    pub const ALL: [Bug; 11] = [
        Bug::AckBeforeDurable,
        Bug::AckNewLeaderBeforeDurable,
        Bug::CommitOnMinority,
        Bug::AcceptStaleNewEpoch,
        Bug::SkipTrunc,
        Bug::ConfirmWithoutQuorum,
        Bug::ObserverCounts,
        Bug::NewQuorumOnly,
        Bug::OldQuorumOnly,
        Bug::RemovedLeaderLeads,
        Bug::ShortLogRead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::AckBeforeDurable => "ack-before-durable",
            Bug::AckNewLeaderBeforeDurable => "ack-newleader-before-durable",
            Bug::CommitOnMinority => "commit-on-minority",
            Bug::AcceptStaleNewEpoch => "accept-stale-newepoch",
            Bug::SkipTrunc => "skip-trunc",
            Bug::ConfirmWithoutQuorum => "confirm-without-quorum",
            Bug::ObserverCounts => "observer-counts",
            Bug::NewQuorumOnly => "new-quorum-only",
            Bug::OldQuorumOnly => "old-quorum-only",
            Bug::RemovedLeaderLeads => "removed-leader-leads",
            Bug::ShortLogRead => "short-log-read",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}
