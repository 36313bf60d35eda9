//! Deliberately broken variants of the client side of the protocol, for the teeth tests only.
//!
//! Each breaks one rule a ledger's safety depends on; the simulator's tests (`sim::ledger`,
//! `crates/sim/tests/ledger_teeth.rs`) show that a sweep catches every one of them. [`Bug`]
//! exists in every build so that the state machines can name it, but an [`Injected`] holding
//! one can only be made in builds with the `bugs` cargo feature, which the shipped binary is
//! never built with.

/// One broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// Recovery reads the LAC and the entries without fencing: the old writer keeps getting
    /// entries acknowledged after recovery has looked past them.
    RecoveryWithoutFence,
    /// Recovery counts the fence complete after one answer in total instead of (Qw − Qa) + 1
    /// in every write quorum: a write quorum keeps Qa unfenced bookies.
    FenceTooFew,
    /// Recovery closes the ledger at the LAC reported by the first bookie that answers, without
    /// reading forward (the class of bug BookKeeper's TLA+ model found).
    RecoveryTrustsOneLac,
    /// The writer replaces a failed bookie in its own view and keeps writing without CASing the
    /// new fragment into the metadata: recovery looks for entries on the wrong bookies.
    EnsembleChangeWithoutCas,
}

impl Bug {
    pub const ALL: [Bug; 4] = [
        Bug::RecoveryWithoutFence,
        Bug::FenceTooFew,
        Bug::RecoveryTrustsOneLac,
        Bug::EnsembleChangeWithoutCas,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::RecoveryWithoutFence => "recovery-without-fence",
            Bug::FenceTooFew => "fence-too-few",
            Bug::RecoveryTrustsOneLac => "recovery-trusts-one-lac",
            Bug::EnsembleChangeWithoutCas => "ensemble-change-without-cas",
        }
    }

    pub fn from_name(name: &str) -> Option<Bug> {
        Bug::ALL.into_iter().find(|bug| bug.name() == name)
    }
}

/// The broken variant a state machine runs: always none without the `bugs` feature (the only
/// constructor that sets one exists only with it).
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
