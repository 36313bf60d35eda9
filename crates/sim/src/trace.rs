//! What a run did, as JSON lines (for tools) and as readable lines (for people).
//!
//! The JSON format is documented in docs/protocol.md ("Simulator traces"). Tracing costs
//! nothing when it is off: events are only built when a tracer is attached.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write;

use zab::{Message, ServerId};

/// One traced event. `t` is simulated time in units (see [`crate::options::UNITS_PER_TICK`]).
pub enum TraceEvent<'a> {
    Send {
        from: ServerId,
        to: ServerId,
        message: &'a Message,
    },
    Receive {
        from: ServerId,
        to: ServerId,
        message: &'a Message,
    },
    Drop {
        from: ServerId,
        to: ServerId,
        message: &'a Message,
        reason: &'static str,
    },
    Deliver {
        server: ServerId,
        zxid: u64,
        digest: u64,
    },
    Phase {
        server: ServerId,
        phase: &'static str,
        epoch: u32,
    },
    Persist {
        server: ServerId,
        what: &'static str,
        value: String,
    },
    Crash {
        server: ServerId,
    },
    Restart {
        server: ServerId,
    },
    Fault {
        kind: &'static str,
        detail: String,
    },
    Violation {
        invariant: &'static str,
        detail: &'a str,
    },
}

/// Collects trace events: JSON lines to a writer, and the last readable lines in memory.
pub struct Tracer {
    json: Option<Box<dyn Write>>,
    recent: VecDeque<String>,
    recent_max: usize,
    /// Readable lines of the events that tell the story (roles, epochs, crashes, faults),
    /// without the individual messages and deliveries.
    story: Option<Box<dyn Write>>,
}

impl Tracer {
    pub fn new(json: Option<Box<dyn Write>>, recent_max: usize) -> Tracer {
        Tracer {
            json,
            recent: VecDeque::new(),
            recent_max,
            story: None,
        }
    }

    /// Also tells the story of the run, as readable lines, to `out`.
    pub fn with_story(mut self, out: Box<dyn Write>) -> Tracer {
        self.story = Some(out);
        self
    }

    /// The last readable lines, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &String> {
        self.recent.iter()
    }

    pub fn record(&mut self, t: u64, event: TraceEvent<'_>) {
        if self.json.is_some() {
            let line = json_line(t, &event);
            if let Some(out) = self.json.as_mut() {
                // A trace that cannot be written is not worth stopping the run for.
                let _ = writeln!(out, "{line}");
            }
        }
        let story_worthy = !matches!(
            event,
            TraceEvent::Send { .. }
                | TraceEvent::Receive { .. }
                | TraceEvent::Drop { .. }
                | TraceEvent::Deliver { .. }
        );
        if story_worthy {
            if let Some(out) = self.story.as_mut() {
                let _ = writeln!(out, "{}", text_line(t, &event));
            }
        }
        if self.recent_max > 0 {
            if self.recent.len() == self.recent_max {
                self.recent.pop_front();
            }
            self.recent.push_back(text_line(t, &event));
        }
    }

    pub fn flush(&mut self) {
        if let Some(out) = self.json.as_mut() {
            let _ = out.flush();
        }
    }
}

fn message_fields(message: &Message) -> String {
    let mut s = format!(
        "\"type\":\"{}\",\"epoch\":{}",
        message.name(),
        message.epoch().0
    );
    if let Some(z) = message.zxid() {
        let _ = write!(s, ",\"zxid\":\"{z}\"");
    }
    s
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn json_line(t: u64, event: &TraceEvent<'_>) -> String {
    match event {
        TraceEvent::Send { from, to, message } => format!(
            "{{\"t\":{t},\"ev\":\"send\",\"from\":{},\"to\":{},{}}}",
            from.0,
            to.0,
            message_fields(message)
        ),
        TraceEvent::Receive { from, to, message } => format!(
            "{{\"t\":{t},\"ev\":\"recv\",\"from\":{},\"to\":{},{}}}",
            from.0,
            to.0,
            message_fields(message)
        ),
        TraceEvent::Drop { from, to, message, reason } => format!(
            "{{\"t\":{t},\"ev\":\"drop\",\"from\":{},\"to\":{},{},\"reason\":\"{reason}\"}}",
            from.0,
            to.0,
            message_fields(message)
        ),
        TraceEvent::Deliver { server, zxid, digest } => format!(
            "{{\"t\":{t},\"ev\":\"deliver\",\"server\":{},\"zxid\":\"0x{zxid:x}\",\"digest\":\"{digest:016x}\"}}",
            server.0
        ),
        TraceEvent::Phase { server, phase, epoch } => format!(
            "{{\"t\":{t},\"ev\":\"phase\",\"server\":{},\"phase\":\"{phase}\",\"epoch\":{epoch}}}",
            server.0
        ),
        TraceEvent::Persist { server, what, value } => format!(
            "{{\"t\":{t},\"ev\":\"persist\",\"server\":{},\"what\":\"{what}\",\"value\":\"{}\"}}",
            server.0,
            escape(value)
        ),
        TraceEvent::Crash { server } => {
            format!("{{\"t\":{t},\"ev\":\"crash\",\"server\":{}}}", server.0)
        }
        TraceEvent::Restart { server } => {
            format!("{{\"t\":{t},\"ev\":\"restart\",\"server\":{}}}", server.0)
        }
        TraceEvent::Fault { kind, detail } => format!(
            "{{\"t\":{t},\"ev\":\"fault\",\"kind\":\"{kind}\",\"detail\":\"{}\"}}",
            escape(detail)
        ),
        TraceEvent::Violation { invariant, detail } => format!(
            "{{\"t\":{t},\"ev\":\"violation\",\"invariant\":\"{invariant}\",\"detail\":\"{}\"}}",
            escape(detail)
        ),
    }
}

fn message_text(message: &Message) -> String {
    let mut s = format!("{} {}", message.name(), message.epoch());
    if let Some(z) = message.zxid() {
        let _ = write!(s, " zxid {z}");
    }
    if let Message::Vote(n) = message {
        let _ = write!(s, " round {} {:?} for {}", n.round, n.state, n.vote.leader);
    }
    s
}

fn text_line(t: u64, event: &TraceEvent<'_>) -> String {
    let time = format!(
        "[{:>6}.{}]",
        t / crate::options::UNITS_PER_TICK,
        t % crate::options::UNITS_PER_TICK
    );
    match event {
        TraceEvent::Send { from, to, message } => {
            format!("{time} {from} -> {to}  {}", message_text(message))
        }
        TraceEvent::Receive { from, to, message } => {
            format!("{time} {to} <- {from}  {}", message_text(message))
        }
        TraceEvent::Drop {
            from,
            to,
            message,
            reason,
        } => {
            format!(
                "{time} {from} -x {to}  {} ({reason})",
                message_text(message)
            )
        }
        TraceEvent::Deliver {
            server,
            zxid,
            digest,
        } => {
            format!("{time} {server} delivers 0x{zxid:x} (state {digest:016x})")
        }
        TraceEvent::Phase {
            server,
            phase,
            epoch,
        } => {
            format!("{time} {server} is {phase} in e{epoch}")
        }
        TraceEvent::Persist {
            server,
            what,
            value,
        } => {
            format!("{time} {server} persists {what} = {value}")
        }
        TraceEvent::Crash { server } => format!("{time} {server} CRASHES"),
        TraceEvent::Restart { server } => format!("{time} {server} restarts"),
        TraceEvent::Fault { kind, detail } => format!("{time} fault {kind}: {detail}"),
        TraceEvent::Violation { invariant, detail } => {
            format!("{time} VIOLATION of {invariant}: {detail}")
        }
    }
}
