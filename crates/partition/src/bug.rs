//! Deliberately broken variants of the replication protocol, for the teeth tests only.
//!
//! Each breaks one rule the partition log's safety depends on; `crates/sim/tests/log_teeth.rs`
//! shows that a simulator sweep catches every one. [`Bug`] exists in every build so the state
//! machines can name it, but an [`Injected`] holding one can only be made with the `bugs` cargo
//! feature, which the shipped binary is never built with.

/// One broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// acks=all is answered once the batch is durable on the leader alone.
    AckAllOnLeaderOnly,
    /// The high watermark is taken over the replicas the leader currently sees fetching, not over
    /// the ISR recorded in Quorum: a slow ISR member, still electable, is left behind.
    HwIgnoresIsr,
    /// A follower truncates to its own high watermark instead of asking the leader where its last
    /// epoch ends (the KIP-101 bug).
    TruncateToHw,
    /// A leader whose ISR request was refused as deposed applies it anyway and keeps writing.
    LeaderIgnoresRefusal,
}

impl Bug {
    pub const ALL: [Bug; 4] = [
        Bug::AckAllOnLeaderOnly,
        Bug::HwIgnoresIsr,
        Bug::TruncateToHw,
        Bug::LeaderIgnoresRefusal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::AckAllOnLeaderOnly => "ack-all-on-leader-only",
            Bug::HwIgnoresIsr => "hw-ignores-isr",
            Bug::TruncateToHw => "truncate-to-hw",
            Bug::LeaderIgnoresRefusal => "leader-ignores-refusal",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}

/// The broken variant a state machine runs: always none without the `bugs` feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected(Option<Bug>);

impl Injected {
    /// The correct protocol.
    pub const NONE: Injected = Injected(None);

    /// Runs `bug` (test builds only).
    #[cfg(feature = "bugs")]
    pub fn bug(bug: Option<Bug>) -> Injected {
        Injected(bug)
    }

    /// Whether this machine runs `bug`.
    pub fn is(self, bug: Bug) -> bool {
        cfg!(feature = "bugs") && self.0 == Some(bug)
    }
}
