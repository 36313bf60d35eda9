//! What a Paxos run did, event by event: JSON lines in the Zab simulator's trace schema
//! (docs/protocol.md, "Simulator traces": `t`, `ev`, `from`/`to`/`type` for messages,
//! `server` for local events), and a readable line for people.

use paxos::{Ballot, Durable, Message, ProcessId};

/// One traced event. Times are simulated units.
#[derive(Clone, Debug)]
pub enum Event {
    Send {
        from: ProcessId,
        to: ProcessId,
        msg: Message,
    },
    Recv {
        from: ProcessId,
        to: ProcessId,
        msg: Message,
    },
    /// A message that never arrived: `lost`, `partition`, `receiver down`.
    Drop {
        from: ProcessId,
        to: ProcessId,
        msg: Message,
        reason: &'static str,
    },
    /// A process wrote its state (durable once the matching `durable` line comes).
    Persist {
        server: ProcessId,
        seq: u64,
        state: Durable,
    },
    Durable {
        server: ProcessId,
        seq: u64,
    },
    Decide {
        server: ProcessId,
        value: String,
    },
    /// A crash: what was written but not durable is lost (`lost` writes).
    Crash {
        server: ProcessId,
        lost: usize,
    },
    Restart {
        server: ProcessId,
        state: Durable,
    },
    Fault {
        kind: &'static str,
        detail: String,
    },
    Violation {
        invariant: &'static str,
        detail: String,
    },
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn ballot_json(b: Ballot) -> String {
    format!("\"{b}\"")
}

/// The message's own fields, as `,"key":value` pairs.
fn message_fields(msg: &Message) -> String {
    let mut s = format!(",\"type\":\"{}\"", msg.name());
    if let Some(b) = msg.ballot() {
        s += &format!(",\"ballot\":{}", ballot_json(b));
    }
    match msg {
        Message::Promise {
            accepted: Some((b, v)),
            ..
        } => s += &format!(",\"accepted\":{},\"value\":\"{}\"", ballot_json(*b), esc(v)),
        Message::Accept { value, .. }
        | Message::Accepted { value, .. }
        | Message::Decided { value } => s += &format!(",\"value\":\"{}\"", esc(value)),
        Message::Nack { promised, .. } => s += &format!(",\"promised\":{}", ballot_json(*promised)),
        _ => {}
    }
    s
}

fn state_fields(state: &Durable) -> String {
    let mut s = format!(
        ",\"promised\":{},\"round\":{}",
        ballot_json(state.promised),
        state.round
    );
    if let Some((b, v)) = &state.accepted {
        s += &format!(",\"accepted\":{},\"value\":\"{}\"", ballot_json(*b), esc(v));
    }
    if let Some(v) = &state.decided {
        s += &format!(",\"decided\":\"{}\"", esc(v));
    }
    s
}

/// The event as one JSON line (no newline).
pub fn json(t: u64, event: &Event) -> String {
    let head = |ev: &str| format!("{{\"t\":{t},\"ev\":\"{ev}\"");
    let body = match event {
        Event::Send { from, to, msg } => {
            format!(
                "{},\"from\":{from},\"to\":{to}{}",
                head("send"),
                message_fields(msg)
            )
        }
        Event::Recv { from, to, msg } => {
            format!(
                "{},\"from\":{from},\"to\":{to}{}",
                head("recv"),
                message_fields(msg)
            )
        }
        Event::Drop {
            from,
            to,
            msg,
            reason,
        } => format!(
            "{},\"from\":{from},\"to\":{to}{},\"reason\":\"{reason}\"",
            head("drop"),
            message_fields(msg)
        ),
        Event::Persist { server, seq, state } => format!(
            "{},\"server\":{server},\"seq\":{seq}{}",
            head("persist"),
            state_fields(state)
        ),
        Event::Durable { server, seq } => {
            format!("{},\"server\":{server},\"seq\":{seq}", head("durable"))
        }
        Event::Decide { server, value } => format!(
            "{},\"server\":{server},\"value\":\"{}\"",
            head("decide"),
            esc(value)
        ),
        Event::Crash { server, lost } => {
            format!("{},\"server\":{server},\"lost\":{lost}", head("crash"))
        }
        Event::Restart { server, state } => {
            format!(
                "{},\"server\":{server}{}",
                head("restart"),
                state_fields(state)
            )
        }
        Event::Fault { kind, detail } => format!(
            "{},\"kind\":\"{kind}\",\"detail\":\"{}\"",
            head("fault"),
            esc(detail)
        ),
        Event::Violation { invariant, detail } => format!(
            "{},\"invariant\":\"{invariant}\",\"detail\":\"{}\"",
            head("violation"),
            esc(detail)
        ),
    };
    body + "}"
}

fn state_text(state: &Durable) -> String {
    let accepted = match &state.accepted {
        Some((b, v)) => format!("{v} in {b}"),
        None => "nothing".into(),
    };
    let mut s = format!("promise {}, accepted {accepted}", state.promised);
    if state.round > 0 {
        s += &format!(", round {}", state.round);
    }
    if let Some(v) = &state.decided {
        s += &format!(", decided {v}");
    }
    s
}

/// The event as one readable line.
pub fn text(t: u64, event: &Event) -> String {
    let time = format!("{t:>6}");
    match event {
        Event::Send { from, to, msg } => format!("{time} P{from} -> P{to}  {msg}"),
        Event::Recv { from, to, msg } => format!("{time} P{to} <- P{from}  {msg}"),
        Event::Drop {
            from,
            to,
            msg,
            reason,
        } => format!("{time} P{from} -> P{to}  {msg} dropped ({reason})"),
        Event::Persist { server, state, .. } => {
            format!("{time} P{server} persists {}", state_text(state))
        }
        Event::Durable { server, seq } => format!("{time} P{server} write {seq} durable"),
        Event::Decide { server, value } => format!("{time} P{server} decides {value}"),
        Event::Crash { server, lost } => {
            format!("{time} P{server} crashes ({lost} undurable writes lost)")
        }
        Event::Restart { server, state } => {
            format!("{time} P{server} restarts with {}", state_text(state))
        }
        Event::Fault { kind, detail } => format!("{time} fault {kind}: {detail}"),
        Event::Violation { invariant, detail } => {
            format!("{time} VIOLATION of {invariant}: {detail}")
        }
    }
}
