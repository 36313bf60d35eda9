//! The learner: decides once, the value a proposer saw chosen.
//!
//! A proposer learns that its value is chosen when a quorum of acceptors accepted it in its
//! ballot; it tells every learner with a Decided message. The decision is persisted before it
//! is reported, so a learner that crashes and restarts neither forgets nor decides twice.

use crate::message::Value;

/// One learner's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Learner {
    pub decided: Option<Value>,
}

impl Learner {
    /// Learns `value`; true if this is the learner's first decision (to persist and report).
    /// A second, different value is kept out: integrity is checked outside, by the simulator,
    /// which sees both the decision and the Decided messages.
    pub fn learn(&mut self, value: &Value) -> bool {
        if self.decided.is_some() {
            return false;
        }
        self.decided = Some(value.clone());
        true
    }
}
