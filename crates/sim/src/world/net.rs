//! The simulated network: loss, duplication, delay and reordering while faults are on, and
//! partitions checked when a message arrives.

use zab::{Input, Message};

use super::{Event, World};
use crate::checker::Violation;
use crate::rules;
use crate::trace::TraceEvent;

impl World {
    /// Server `from` sends `message` to `to`: traced, judged by the per-step rules, then lost,
    /// duplicated or delayed by the network.
    pub(super) fn send(
        &mut self,
        from: usize,
        to: usize,
        message: Message,
    ) -> Result<(), Violation> {
        self.report.messages += 1;
        let (id, to_id) = (self.nodes[from].id, self.nodes[to].id);
        self.trace(TraceEvent::Send {
            from: id,
            to: to_id,
            message: &message,
        });
        let (disk, app) = (&self.nodes[from].disk, &self.nodes[from].app);
        let canonical = self.checker.canonical();
        self.rules
            .on_send(rules::Server { id, disk, app }, to_id, &message, canonical)?;
        let faulty = self.faults_on;
        if faulty && self.rng.chance(self.opts.drop_rate) {
            self.report.dropped += 1;
            self.trace_drop(from, to, &message, "lost");
            return Ok(());
        }
        if faulty && self.rng.chance(self.opts.duplicate_rate) {
            self.report.duplicated += 1;
            let copy = message.clone();
            self.schedule_delivery(from, to, copy);
        }
        self.schedule_delivery(from, to, message);
        Ok(())
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
        let (id, disk, app) = (self.nodes[to].id, &self.nodes[to].disk, &self.nodes[to].app);
        self.rules
            .on_receive(rules::Server { id, disk, app }, from_id, &message);
        let result = self.step(
            to,
            Input::Message {
                from: from_id,
                message,
            },
        );
        self.rules.end_step();
        result
    }
}
