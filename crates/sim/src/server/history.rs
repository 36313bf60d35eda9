//! The register operations of a run, in the chaos crate's history format, for its
//! linearizability and session checkers.

use std::collections::HashMap;

use chaos::{Event, Kind, OpKind};

/// Invocations and completions, in the order they happened.
#[derive(Debug, Default)]
pub struct History {
    pub events: Vec<Event>,
    open: HashMap<u64, Event>,
    next_id: u64,
}

impl History {
    /// Records an invocation at `time_us`; returns its id.
    pub fn invoke(
        &mut self,
        time_us: u64,
        session: u32,
        op: OpKind,
        path: &str,
        fill: impl FnOnce(&mut Event),
    ) -> u64 {
        self.next_id += 1;
        let mut event = Event::invoke(self.next_id, session, op, path, time_us * 1_000);
        fill(&mut event);
        self.open.insert(self.next_id, event.clone());
        self.events.push(event);
        self.next_id
    }

    /// Completes operation `id` (once; later completions are ignored).
    pub fn complete(&mut self, id: u64, time_us: u64, kind: Kind, fill: impl FnOnce(&mut Event)) {
        if let Some(invoke) = self.open.remove(&id) {
            let mut event = Event::complete(&invoke, kind, time_us * 1_000);
            fill(&mut event);
            self.events.push(event);
        }
    }
}
