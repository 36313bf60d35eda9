//! Deliberately broken variants of the protocol, for the teeth tests only.
//!
//! Each breaks one rule Paxos's safety depends on; the simulator's tests show that a sweep
//! catches every one of them. [`Bug`] exists in every build so that the core can name it, but a
//! node can only be configured with one in builds with the `bugs` cargo feature (see
//! [`crate::Config`]), which the shipped binary is never built with.

/// One broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// An acceptor forgets its promise across a crash (it restarts having promised only the
    /// ballot it last accepted): it then accepts a proposal it had promised to refuse.
    ForgetPromise,
    /// A proposer ignores the highest accepted value reported in the promises and proposes its
    /// own: a value already chosen can be replaced.
    IgnoreAccepted,
    /// An acceptor accepts a proposal below its promise: the fence does not hold.
    AcceptBelowPromise,
    /// A proposer decides once a single acceptor (a minority) has accepted.
    DecideOnMinority,
}

impl Bug {
    pub const ALL: [Bug; 4] = [
        Bug::ForgetPromise,
        Bug::IgnoreAccepted,
        Bug::AcceptBelowPromise,
        Bug::DecideOnMinority,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::ForgetPromise => "forget-promise",
            Bug::IgnoreAccepted => "ignore-accepted",
            Bug::AcceptBelowPromise => "accept-below-promise",
            Bug::DecideOnMinority => "decide-on-minority",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}
