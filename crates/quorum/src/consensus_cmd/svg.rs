//! The demo's run as an SVG sequence diagram: a lane per process, time flowing down, an arrow
//! per message from its sending to its arrival, refused messages and the Nacks answering them
//! in red, writes as dots and decisions as boxes, the story's steps captioned on the right.

use std::collections::BTreeSet;
use std::fmt::Write;

use paxos::{Message, ProcessId};
use sim::paxos::trace::Event;

use super::demo::Story;

const LANE_X: [f64; 3] = [110.0, 290.0, 470.0];
const TOP: f64 = 70.0;
const ROW: f64 = 16.0;
const WIDTH: f64 = 1180.0;

fn x(p: ProcessId) -> f64 {
    LANE_X[p as usize - 1]
}

fn y(t: u64) -> f64 {
    TOP + t as f64 * ROW
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Index of each message's arrival (by event index of its sending), and the set of arrivals
/// that were refused (the receiver answered with a Nack).
fn arrivals(events: &[(u64, Event)]) -> (Vec<(usize, usize)>, BTreeSet<usize>) {
    let mut pairs = Vec::new();
    let mut used = BTreeSet::new();
    let mut refused = BTreeSet::new();
    for (i, (_, e)) in events.iter().enumerate() {
        let Event::Recv { from, to, msg } = e else {
            continue;
        };
        let send = events[..i].iter().enumerate().position(|(j, (_, s))| {
            !used.contains(&j)
                && matches!(s, Event::Send { from: f, to: t, msg: m } if f == from && t == to && m == msg)
        });
        if let Some(j) = send {
            used.insert(j);
            pairs.push((j, i));
        }
        // A refusal follows its arrival at once, from the receiver.
        if let Some((
            _,
            Event::Send {
                from: f,
                msg: Message::Nack { .. },
                ..
            },
        )) = events.get(i + 1)
        {
            if f == to {
                refused.insert(i);
            }
        }
    }
    (pairs, refused)
}

/// The SVG document.
pub fn render(story: &Story) -> String {
    let events = &story.events;
    let end = events.last().map_or(0, |(t, _)| *t) + 2;
    let height = y(end) + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    s += r##"<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker><marker id="head-red" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker></defs>
"##;
    s += r##"<rect width="100%" height="100%" fill="white"/>
<text x="20" y="24" font-size="15" font-weight="bold">Paxos, the talk's story: ballot 1 (P1, red) and ballot 2 (P2, blue)</text>
"##;
    for p in 1..=3u32 {
        let _ = writeln!(
            s,
            r##"<g class="lane" id="lane-P{p}"><text x="{}" y="{}" text-anchor="middle" font-size="14" font-weight="bold">P{p}</text><line x1="{0}" y1="{}" x2="{0}" y2="{}" stroke="#999" stroke-width="2"/></g>"##,
            x(p),
            TOP - 18.0,
            TOP - 10.0,
            y(end)
        );
    }
    // The story's steps, captioned on the right at their first event.
    for (n, (caption, from, _)) in story.steps.iter().enumerate() {
        let t = events.get(*from).map_or(end, |(t, _)| *t);
        let _ = writeln!(
            s,
            r##"<g class="step"><line x1="20" y1="{0}" x2="560" y2="{0}" stroke="#eee"/><text x="575" y="{1}" fill="#444">{2}. {3}</text></g>"##,
            y(t) - ROW / 2.0,
            y(t) + 3.0,
            n + 1,
            esc(caption)
        );
    }
    let (pairs, refused) = arrivals(events);
    for (j, i) in pairs {
        let (ts, Event::Send { from, to, msg }) = &events[j] else {
            continue;
        };
        let tr = events[i].0;
        let bad = refused.contains(&i) || matches!(msg, Message::Nack { .. });
        let (class, colour, head) = if bad {
            ("arrow refused", "#c62828", "head-red")
        } else {
            ("arrow", "#333", "head")
        };
        let label = esc(&msg.to_string());
        let (x1, y1, x2, y2) = (x(*from), y(*ts), x(*to), y(tr));
        if from == to {
            let _ = writeln!(
                s,
                r##"<g class="{class}"><path d="M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}" fill="none" stroke="{colour}" marker-end="url(#{head})"/><text x="{}" y="{}" fill="{colour}" font-size="9">{label}</text></g>"##,
                x1 + 40.0,
                x1 + 40.0,
                x1 + 44.0,
                (y1 + y2) / 2.0 + 3.0
            );
        } else {
            let mx = (x1 + x2) / 2.0;
            let my = (y1 + y2) / 2.0 - 3.0;
            let _ = writeln!(
                s,
                r##"<g class="{class}"><line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{colour}" marker-end="url(#{head})"{}/><text x="{mx}" y="{my}" text-anchor="middle" fill="{colour}" font-size="9">{label}</text></g>"##,
                if bad {
                    r#" stroke-dasharray="5,3""#
                } else {
                    ""
                }
            );
        }
        if refused.contains(&i) {
            let _ = writeln!(
                s,
                r##"<text class="refused-mark" x="{}" y="{}" fill="#c62828" font-weight="bold">✗ refused</text>"##,
                x2 + 8.0,
                y2 + 4.0
            );
        }
    }
    for (t, e) in events {
        match e {
            Event::Persist { server, state, .. } => {
                let _ = writeln!(
                    s,
                    r##"<circle class="persist" cx="{}" cy="{}" r="3" fill="#555"><title>P{server} persists promise {}</title></circle>"##,
                    x(*server),
                    y(*t),
                    state.promised
                );
            }
            Event::Decide { server, value } => {
                let _ = writeln!(
                    s,
                    r##"<g class="decide"><rect x="{}" y="{}" width="90" height="16" rx="4" fill="{}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle" fill="white" font-weight="bold">decides {}</text></g>"##,
                    x(*server) - 45.0,
                    y(*t) - 8.0,
                    if value == "blue" {
                        "#1565c0"
                    } else {
                        "#c62828"
                    },
                    x(*server),
                    y(*t) + 4.0,
                    esc(value)
                );
            }
            _ => {}
        }
    }
    s += "</svg>\n";
    s
}
