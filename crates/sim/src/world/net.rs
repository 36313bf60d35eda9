//! The simulated network: loss, duplication, delay and reordering while faults are on, and
//! partitions checked when a message arrives.

use zab::{Input, Message};

use super::{Event, World};
use crate::checker::Violation;
use crate::trace::TraceEvent;

impl World {
    pub(super) fn send(&mut self, from: usize, to: usize, message: Message) {
        let n = self.nodes.len();
        self.report.messages += 1;
        if self.tracer.is_some() {
            let (f, t) = (self.nodes[from].id, self.nodes[to].id);
            self.trace(TraceEvent::Send {
                from: f,
                to: t,
                message: &message,
            });
        }
        let faulty = self.faults_on;
        if faulty && self.rng.chance(self.opts.drop_rate) {
            self.report.dropped += 1;
            return self.trace_drop(from, to, &message, "lost");
        }
        if faulty && self.rng.chance(self.opts.duplicate_rate) {
            self.report.duplicated += 1;
            let copy = message.clone();
            self.schedule_delivery(from, to, copy);
        }
        let _ = n;
        self.schedule_delivery(from, to, message);
    }

    pub(super) fn schedule_delivery(&mut self, from: usize, to: usize, message: Message) {
        let n = self.nodes.len();
        let mut at = self.now + self.rng.between(1, self.opts.delay_max);
        if !(self.faults_on && self.opts.reorder) {
            at = at.max(self.fifo[from * n + to]);
            self.fifo[from * n + to] = at;
        }
        let delay = at - self.now;
        self.schedule(delay, Event::Message { from, to, message });
    }

    pub(super) fn trace_drop(
        &mut self,
        from: usize,
        to: usize,
        message: &Message,
        reason: &'static str,
    ) {
        if self.tracer.is_some() {
            let (f, t) = (self.nodes[from].id, self.nodes[to].id);
            self.trace(TraceEvent::Drop {
                from: f,
                to: t,
                message,
                reason,
            });
        }
    }

    pub(super) fn receive(
        &mut self,
        from: usize,
        to: usize,
        message: Message,
    ) -> Result<(), Violation> {
        let n = self.nodes.len();
        if self.blocked[from * n + to] {
            self.report.dropped += 1;
            self.trace_drop(from, to, &message, "partition");
            return Ok(());
        }
        if self.nodes[to].peer.is_none() {
            self.trace_drop(from, to, &message, "receiver down");
            return Ok(());
        }
        if self.tracer.is_some() {
            let (f, t) = (self.nodes[from].id, self.nodes[to].id);
            self.trace(TraceEvent::Receive {
                from: f,
                to: t,
                message: &message,
            });
        }
        let from_id = self.nodes[from].id;
        self.step(
            to,
            Input::Message {
                from: from_id,
                message,
            },
        )
    }
}
