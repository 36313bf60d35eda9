//! What a run did, as JSON lines (for tools) and as readable lines (for people).
//!
//! The JSON format is documented in docs/protocol.md ("Simulator traces"). It is meant to let a
//! checker outside the simulator replay the run's protocol-relevant facts: every message with
//! its link, sequence number and flags, every write to a server's disk (epochs, appends,
//! fsyncs, truncations, snapshots), what a restart restored, and the leadership events. The
//! world writes each event *before* checking it, so a run that breaks an invariant shows the
//! offending event in its trace, followed by the `violation` line.
//!
//! Tracing costs nothing when it is off: events only borrow what they describe, and are only
//! formatted when a tracer is attached.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::Write;

use zab::{Epoch, Message, ServerId, Txn, Zxid};

/// A durable write of a small piece of state.
#[derive(Clone, Copy, Debug)]
pub enum Persisted {
    AcceptedEpoch {
        epoch: Epoch,
        leader: ServerId,
    },
    CurrentEpoch(Epoch),
    /// The log was cut after this zxid.
    Truncate(Zxid),
}

/// A write a crash interrupted, and what of it survived.
#[derive(Clone, Copy, Debug)]
pub enum Interrupted {
    /// An epoch file was being replaced; `kept_new` says whether the new value survived (the
    /// file holds the old value otherwise, never a mix).
    Epoch { what: Persisted, kept_new: bool },
    /// A SNAP's snapshot was being installed: `written` says whether the snapshot file was
    /// complete (the log was then not reset yet); otherwise it was half written and the old
    /// snapshot and log stand.
    Install {
        zxid: Zxid,
        count: u64,
        written: bool,
    },
}

/// What a server found on its disk when it (re)started.
#[derive(Clone, Copy, Debug, Default)]
pub struct Restored {
    /// The snapshot the application was restored from (zero when none), with its transaction
    /// count and state digest.
    pub snapshot: Zxid,
    pub count: u64,
    pub digest: u64,
    /// The last zxid of the durable history (the log's last record, or the snapshot's zxid).
    pub log_end: Zxid,
    pub accepted_epoch: Epoch,
    pub accepted_leader: ServerId,
    pub current_epoch: Epoch,
}

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
        zxid: Zxid,
        /// The replica's state digest after applying.
        digest: u64,
    },
    Phase {
        server: ServerId,
        phase: &'static str,
        epoch: u32,
    },
    Persist {
        server: ServerId,
        what: Persisted,
    },
    /// Records written to the log (not yet durable).
    Append {
        server: ServerId,
        txns: &'a [Txn],
    },
    /// An fsync completed: the log is durable up to `zxid`.
    Durable {
        server: ServerId,
        zxid: Zxid,
    },
    /// A snapshot became durable: installed from a leader's SNAP (`why` = "install", the log is
    /// reset to it) or taken locally (`why` = "compact", the log before it dropped).
    Snapshot {
        server: ServerId,
        why: &'static str,
        zxid: Zxid,
        count: u64,
        digest: u64,
    },
    /// A leader was established (a quorum acknowledged NEWLEADER).
    Established {
        server: ServerId,
        epoch: Epoch,
        initial: Zxid,
    },
    /// A leadership confirmation (a client's sync) was asked of a leader.
    ConfirmAsked {
        server: ServerId,
        epoch: Epoch,
        round: u64,
    },
    /// The leader says a quorum confirmed every round up to `round`.
    Confirmed {
        server: ServerId,
        round: u64,
    },
    Crash {
        server: ServerId,
        /// The durable history's last zxid after the crash.
        log_end: Zxid,
        /// A write the crash interrupted, and what of it survived.
        during: Option<Interrupted>,
    },
    Restart {
        server: ServerId,
        restored: Restored,
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
                | TraceEvent::Append { .. }
                | TraceEvent::Durable { .. }
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

/// One JSON object, built field by field.
struct Json(String);

impl Json {
    fn new(t: u64, ev: &str) -> Json {
        Json(format!("{{\"t\":{t},\"ev\":\"{ev}\""))
    }

    fn num(mut self, key: &str, value: impl std::fmt::Display) -> Json {
        let _ = write!(self.0, ",\"{key}\":{value}");
        self
    }

    fn text(mut self, key: &str, value: &str) -> Json {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = write!(self.0, ",\"{key}\":\"{escaped}\"");
        self
    }

    fn zxid(self, key: &str, zxid: Zxid) -> Json {
        self.text(key, &zxid.to_string())
    }

    fn hex(self, key: &str, value: u64) -> Json {
        self.text(key, &format!("{value:016x}"))
    }

    /// Link ids are 64-bit: written as hex strings, which JSON tools read without rounding.
    fn link(self, link: u64) -> Json {
        self.text("link", &format!("{link:x}"))
    }

    fn server(self, key: &str, id: ServerId) -> Json {
        self.num(key, id.0)
    }

    fn message(mut self, message: &Message) -> Json {
        self = self
            .text("type", message.name())
            .num("epoch", message.epoch().0);
        if let Some(z) = message.zxid() {
            self = self.zxid("zxid", z);
        }
        if let Some((link, seq)) = message.link_seq() {
            self = self.link(link).num("seq", seq);
        }
        match message {
            Message::Vote(n) => self
                .num("round", n.round)
                .text("state", &format!("{:?}", n.state))
                .server("leader", n.vote.leader),
            Message::CEpoch { link, .. } => self.link(*link),
            Message::AckEpoch {
                link,
                current_epoch,
                promised,
                ..
            } => self
                .link(*link)
                .num("current", current_epoch.0)
                .num("promised", promised),
            Message::AckNewLeader { link, .. } | Message::Ack { link, .. } => self.link(*link),
            Message::PingAck { link, round, .. } => self.link(*link).num("round", round),
            Message::Ping { round, .. } => self.num("round", round),
            Message::Diff { txns, .. } => {
                let first = txns.first().map(|t| t.zxid).unwrap_or_default();
                self.num("n", txns.len()).zxid("first", first)
            }
            _ => self,
        }
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn json_line(t: u64, event: &TraceEvent<'_>) -> String {
    let json = match event {
        TraceEvent::Send { from, to, message } => Json::new(t, "send")
            .server("from", *from)
            .server("to", *to)
            .message(message),
        TraceEvent::Receive { from, to, message } => Json::new(t, "recv")
            .server("from", *from)
            .server("to", *to)
            .message(message),
        TraceEvent::Drop {
            from,
            to,
            message,
            reason,
        } => Json::new(t, "drop")
            .server("from", *from)
            .server("to", *to)
            .message(message)
            .text("reason", reason),
        TraceEvent::Deliver {
            server,
            zxid,
            digest,
        } => Json::new(t, "deliver")
            .server("server", *server)
            .zxid("zxid", *zxid)
            .hex("digest", *digest),
        TraceEvent::Phase {
            server,
            phase,
            epoch,
        } => Json::new(t, "phase")
            .server("server", *server)
            .text("phase", phase)
            .num("epoch", epoch),
        TraceEvent::Persist { server, what } => {
            let json = Json::new(t, "persist").server("server", *server);
            match what {
                Persisted::AcceptedEpoch { epoch, leader } => json
                    .text("what", "acceptedEpoch")
                    .text("value", &format!("{epoch} from {leader}"))
                    .num("epoch", epoch.0)
                    .server("leader", *leader),
                Persisted::CurrentEpoch(epoch) => json
                    .text("what", "currentEpoch")
                    .text("value", &epoch.to_string())
                    .num("epoch", epoch.0),
                Persisted::Truncate(zxid) => json
                    .text("what", "truncate")
                    .text("value", &zxid.to_string())
                    .zxid("zxid", *zxid),
            }
        }
        TraceEvent::Append { server, txns } => {
            let zxids: Vec<String> = txns.iter().map(|t| format!("\"{}\"", t.zxid)).collect();
            Json::new(t, "append")
                .server("server", *server)
                .num("zxids", format!("[{}]", zxids.join(",")))
        }
        TraceEvent::Durable { server, zxid } => Json::new(t, "durable")
            .server("server", *server)
            .zxid("zxid", *zxid),
        TraceEvent::Snapshot {
            server,
            why,
            zxid,
            count,
            digest,
        } => Json::new(t, "snapshot")
            .server("server", *server)
            .text("why", why)
            .zxid("zxid", *zxid)
            .num("count", count)
            .hex("digest", *digest),
        TraceEvent::Established {
            server,
            epoch,
            initial,
        } => Json::new(t, "established")
            .server("server", *server)
            .num("epoch", epoch.0)
            .zxid("initial", *initial),
        TraceEvent::ConfirmAsked {
            server,
            epoch,
            round,
        } => Json::new(t, "confirm")
            .server("server", *server)
            .num("epoch", epoch.0)
            .num("round", round),
        TraceEvent::Confirmed { server, round } => Json::new(t, "confirmed")
            .server("server", *server)
            .num("round", round),
        TraceEvent::Crash {
            server,
            log_end,
            during,
        } => {
            let json = Json::new(t, "crash")
                .server("server", *server)
                .zxid("log_end", *log_end);
            match during {
                None => json,
                Some(Interrupted::Epoch { what, kept_new }) => {
                    let json = json.text("kept", if *kept_new { "new" } else { "old" });
                    match what {
                        Persisted::AcceptedEpoch { epoch, leader } => json
                            .text("during", "acceptedEpoch")
                            .num("epoch", epoch.0)
                            .server("leader", *leader),
                        Persisted::CurrentEpoch(epoch) => {
                            json.text("during", "currentEpoch").num("epoch", epoch.0)
                        }
                        Persisted::Truncate(zxid) => {
                            json.text("during", "truncate").zxid("zxid", *zxid)
                        }
                    }
                }
                Some(Interrupted::Install {
                    zxid,
                    count,
                    written,
                }) => json
                    .text("during", "install")
                    .text("kept", if *written { "snapshot" } else { "old" })
                    .zxid("zxid", *zxid)
                    .num("count", count),
            }
        }
        TraceEvent::Restart { server, restored } => Json::new(t, "restart")
            .server("server", *server)
            .zxid("snapshot", restored.snapshot)
            .num("count", restored.count)
            .hex("digest", restored.digest)
            .zxid("log_end", restored.log_end)
            .num("accepted", restored.accepted_epoch.0)
            .server("accepted_leader", restored.accepted_leader)
            .num("current", restored.current_epoch.0),
        TraceEvent::Fault { kind, detail } => Json::new(t, "fault")
            .text("kind", kind)
            .text("detail", detail),
        TraceEvent::Violation { invariant, detail } => Json::new(t, "violation")
            .text("invariant", invariant)
            .text("detail", detail),
    };
    json.finish()
}

fn message_text(message: &Message) -> String {
    let mut s = format!("{} {}", message.name(), message.epoch());
    if let Some(z) = message.zxid() {
        let _ = write!(s, " zxid {z}");
    }
    match message {
        Message::Vote(n) => {
            let _ = write!(s, " round {} {:?} for {}", n.round, n.state, n.vote.leader);
        }
        Message::AckEpoch {
            promised: false, ..
        } => s.push_str(" (not promised)"),
        Message::Ping { round, .. } | Message::PingAck { round, .. } if *round > 0 => {
            let _ = write!(s, " round {round}");
        }
        _ => {}
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
            format!("{time} {server} delivers {zxid} (state {digest:016x})")
        }
        TraceEvent::Phase {
            server,
            phase,
            epoch,
        } => {
            format!("{time} {server} is {phase} in e{epoch}")
        }
        TraceEvent::Persist { server, what } => match what {
            Persisted::AcceptedEpoch { epoch, leader } => {
                format!("{time} {server} persists acceptedEpoch = {epoch} from {leader}")
            }
            Persisted::CurrentEpoch(epoch) => {
                format!("{time} {server} persists currentEpoch = {epoch}")
            }
            Persisted::Truncate(zxid) => format!("{time} {server} truncates its log after {zxid}"),
        },
        TraceEvent::Append { server, txns } => match (txns.first(), txns.last()) {
            (Some(first), Some(last)) if txns.len() > 1 => format!(
                "{time} {server} appends {} records {}..{}",
                txns.len(),
                first.zxid,
                last.zxid
            ),
            (Some(first), _) => format!("{time} {server} appends {}", first.zxid),
            _ => format!("{time} {server} appends nothing"),
        },
        TraceEvent::Durable { server, zxid } => {
            format!("{time} {server} log durable up to {zxid}")
        }
        TraceEvent::Snapshot {
            server,
            why,
            zxid,
            count,
            digest,
        } => format!(
            "{time} {server} snapshot ({why}) at {zxid}: {count} transactions, state {digest:016x}"
        ),
        TraceEvent::Established {
            server,
            epoch,
            initial,
        } => format!("{time} {server} ESTABLISHED leader of {epoch} with history to {initial}"),
        TraceEvent::ConfirmAsked {
            server,
            epoch,
            round,
        } => format!("{time} {server} asked to confirm its leadership of {epoch} (round {round})"),
        TraceEvent::Confirmed { server, round } => {
            format!("{time} {server} confirmed its leadership up to round {round}")
        }
        TraceEvent::Crash {
            server,
            log_end,
            during,
        } => match during {
            None => format!("{time} {server} CRASHES (durable log to {log_end})"),
            Some(Interrupted::Epoch { what, kept_new }) => format!(
                "{time} {server} CRASHES while writing {what:?}: the {} value survives (durable log to {log_end})",
                if *kept_new { "new" } else { "old" }
            ),
            Some(Interrupted::Install { zxid, written, .. }) => format!(
                "{time} {server} CRASHES while installing the snapshot at {zxid}: {} (durable log to {log_end})",
                if *written {
                    "the snapshot is written, the log not reset"
                } else {
                    "the snapshot is half written, the old one stands"
                }
            ),
        },
        TraceEvent::Restart { server, restored } => format!(
            "{time} {server} restarts: snapshot {} ({} transactions), log to {}, acceptedEpoch {} from {}, currentEpoch {}",
            restored.snapshot,
            restored.count,
            restored.log_end,
            restored.accepted_epoch,
            restored.accepted_leader,
            restored.current_epoch
        ),
        TraceEvent::Fault { kind, detail } => format!("{time} fault {kind}: {detail}"),
        TraceEvent::Violation { invariant, detail } => {
            format!("{time} VIOLATION of {invariant}: {detail}")
        }
    }
}
