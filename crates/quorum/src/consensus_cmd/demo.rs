//! `quorum consensus demo`: the talk's Paxos story, driven by the real `paxos` crate through a
//! fixed schedule (which message arrives when), printed step by step.
//!
//! Three processes, P1, P2 and P3, each a proposer, acceptor and learner; the values are
//! colours. P1 leads first with ballot 1 (1.1: round 1 of P1) and proposes red; it gets
//! promises from P1 and P2 and sends its Accepts, but only its own arrives before it falls
//! silent. P2 then proposes blue with ballot 2 (2.2), above the ballot 1 it promised: P2 and P3
//! promise, neither accepted anything, so blue is free; they accept it and P2 decides blue. The
//! former leader's ballot-1 Accept then reaches P3 and is refused — the ballot number is the
//! fence — and every process learns blue. Disks are instantaneous here: each write is durable
//! at once (the simulator is where they are not).

use std::fs::File;
use std::io::{BufWriter, Write};

use paxos::{Action, Config, Input, Message, Node, ProcessId};
use sim::paxos::trace::{self, Event};

/// Arguments of `quorum consensus demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Also write the run as an SVG sequence diagram to this file.
    #[arg(long)]
    svg: Option<String>,
    /// Also write the run as JSON lines (the simulator trace schema, docs/protocol.md).
    #[arg(long)]
    trace: Option<String>,
}

/// A message in flight, as sent.
struct InFlight {
    from: ProcessId,
    to: ProcessId,
    msg: Message,
}

/// The demo's world: three nodes, the messages in flight, and everything that happened.
pub struct Story {
    nodes: Vec<Node>,
    in_flight: Vec<InFlight>,
    /// Events with their time (one unit per event, so the diagram reads top to bottom).
    pub events: Vec<(u64, Event)>,
    /// The story's steps: a caption and the range of events it covers.
    pub steps: Vec<(String, usize, usize)>,
    now: u64,
}

impl Story {
    fn new() -> Story {
        let all: Vec<ProcessId> = vec![1, 2, 3];
        Story {
            nodes: all
                .iter()
                .map(|&id| Node::new(Config::new(id, all.clone()), None))
                .collect(),
            in_flight: Vec::new(),
            events: Vec::new(),
            steps: Vec::new(),
            now: 0,
        }
    }

    fn log(&mut self, event: Event) {
        self.now += 1;
        self.events.push((self.now, event));
    }

    /// Starts a step of the story.
    fn step(&mut self, caption: &str) {
        let at = self.events.len();
        if let Some(last) = self.steps.last_mut() {
            last.2 = at;
        }
        self.steps.push((caption.to_string(), at, at));
    }

    fn finish(&mut self) {
        let at = self.events.len();
        if let Some(last) = self.steps.last_mut() {
            last.2 = at;
        }
    }

    /// Feeds `input` to `id`; writes are durable at once.
    fn input(&mut self, id: ProcessId, input: Input) {
        let mut queue = vec![input];
        while let Some(input) = queue.pop() {
            let actions = self.nodes[id as usize - 1].step(input);
            for action in actions {
                match action {
                    Action::Send { to, msg } => {
                        self.log(Event::Send {
                            from: id,
                            to,
                            msg: msg.clone(),
                        });
                        self.in_flight.push(InFlight { from: id, to, msg });
                    }
                    Action::Persist { seq, state } => {
                        self.log(Event::Persist {
                            server: id,
                            seq,
                            state,
                        });
                        queue.push(Input::Durable { seq });
                    }
                    Action::Decide { value } => self.log(Event::Decide { server: id, value }),
                }
            }
        }
    }

    /// Delivers the oldest message in flight from `from` to `to` named `name`.
    fn deliver(&mut self, from: ProcessId, to: ProcessId, name: &str) {
        let i = self
            .in_flight
            .iter()
            .position(|m| m.from == from && m.to == to && m.msg.name() == name)
            .unwrap_or_else(|| panic!("the story expects {name} from P{from} to P{to}"));
        let m = self.in_flight.remove(i);
        self.log(Event::Recv {
            from,
            to,
            msg: m.msg.clone(),
        });
        self.input(to, Input::Receive { from, msg: m.msg });
    }

    /// Delivers every message in flight named `name` to `to`, oldest first.
    fn deliver_all(&mut self, name: &str, to: &[ProcessId]) {
        while let Some(m) = self
            .in_flight
            .iter()
            .find(|m| m.msg.name() == name && to.contains(&m.to))
        {
            let (from, dest) = (m.from, m.to);
            self.deliver(from, dest, name);
        }
    }

    pub fn decided(&self, id: ProcessId) -> Option<&String> {
        self.nodes[id as usize - 1].decided()
    }
}

/// The talk's story, step by step.
pub fn story() -> Story {
    let mut s = Story::new();
    s.step("P1 leads first: it proposes red with ballot 1 (1.1) and sends Prepare to everyone");
    s.input(1, Input::Propose("red".into()));
    s.step("P1 and P2 promise ballot 1 (persisting the promise before answering); P3's Prepare is slow");
    s.deliver(1, 1, "Prepare");
    s.deliver(1, 2, "Prepare");
    s.deliver(1, 1, "Promise");
    s.step(
        "P1 has a quorum of promises, none reporting an accepted value: it may propose its own red",
    );
    s.deliver(2, 1, "Promise");
    s.step("P1 accepts red itself; then P1 falls silent, its other Accepts still in flight: the former leader");
    s.deliver(1, 1, "Accept");
    s.deliver(1, 1, "Accepted");
    s.step(
        "P2 gives up on P1 and proposes blue with ballot 2 (2.2), above the ballot 1 it promised",
    );
    s.input(2, Input::Propose("blue".into()));
    s.step("P2 and P3 promise ballot 2: neither accepted anything, so blue is free");
    s.deliver(2, 2, "Prepare");
    s.deliver(2, 3, "Prepare");
    s.deliver(2, 2, "Promise");
    s.deliver(3, 2, "Promise");
    s.step("P2 and P3 accept blue in ballot 2; with a quorum of Accepted, P2 decides blue");
    s.deliver(2, 2, "Accept");
    s.deliver(2, 3, "Accept");
    s.deliver(2, 2, "Accepted");
    s.deliver(3, 2, "Accepted");
    s.step(
        "The former leader's ballot-1 Accept reaches P3 and P2: refused, they promised ballot 2",
    );
    s.deliver(1, 3, "Accept");
    s.deliver(1, 2, "Accept");
    s.deliver(1, 3, "Prepare");
    s.deliver_all("Nack", &[1]);
    s.step("Everyone learns the decision: blue (P1 too, although it accepted red)");
    s.deliver_all("Decided", &[1, 3]);
    // Ballot 2's Accept to P1 is still in flight: it changes nothing decided.
    s.deliver(2, 1, "Accept");
    s.deliver(1, 2, "Accepted");
    s.finish();
    s
}

/// How the demo prints a message event: the simulator's readable line, with refusals marked.
fn line(t: u64, event: &Event) -> String {
    let text = trace::text(t, event);
    match event {
        Event::Send {
            msg: Message::Nack { .. },
            ..
        } => format!("{text}   ✗ refused"),
        _ => text,
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let s = story();
    for (n, (caption, from, to)) in s.steps.iter().enumerate() {
        println!("\nStep {}. {caption}", n + 1);
        for (t, e) in &s.events[*from..*to] {
            println!("  {}", line(*t, e));
        }
    }
    let decided: Vec<String> = (1..=3)
        .map(|id| format!("P{id}: {}", s.decided(id).map_or("?", |v| v.as_str())))
        .collect();
    println!("\nDecided: {}", decided.join(", "));
    if let Some(path) = &args.svg {
        std::fs::write(path, super::svg::render(&s)).map_err(|e| format!("--svg {path}: {e}"))?;
        println!("sequence diagram written to {path}");
    }
    if let Some(path) = &args.trace {
        let file = File::create(path).map_err(|e| format!("--trace {path}: {e}"))?;
        let mut out = BufWriter::new(file);
        for (t, e) in &s.events {
            writeln!(out, "{}", trace::json(*t, e)).map_err(|e| format!("--trace: {e}"))?;
        }
        out.flush().map_err(|e| format!("--trace: {e}"))?;
        println!("trace written to {path}");
    }
    Ok(())
}
