//! What a run did, for replaying a failure: JSON lines (`quorum sim --level server --seed S
//! --trace FILE`) and the last lines kept in memory to print before a violation.

use std::collections::VecDeque;
use std::io::Write;

/// Records notes; keeps the last `keep` in memory.
pub struct Trace {
    out: Option<Box<dyn Write>>,
    recent: VecDeque<String>,
    keep: usize,
}

impl Trace {
    pub fn new(out: Option<Box<dyn Write>>, keep: usize) -> Trace {
        Trace {
            out,
            recent: VecDeque::new(),
            keep,
        }
    }

    /// No output at all (sweeps).
    pub fn off() -> Trace {
        Trace::new(None, 0)
    }

    pub fn on(&self) -> bool {
        self.out.is_some() || self.keep > 0
    }

    /// One event: when, what kind, a description.
    pub fn note(&mut self, time_us: u64, kind: &str, detail: &str) {
        if !self.on() {
            return;
        }
        let line = format!(
            "{{\"t_us\":{time_us},\"ev\":{},\"detail\":{}}}",
            json_string(kind),
            json_string(detail)
        );
        if let Some(out) = self.out.as_mut() {
            let _ = writeln!(out, "{line}");
        }
        if self.keep > 0 {
            if self.recent.len() == self.keep {
                self.recent.pop_front();
            }
            self.recent.push_back(line);
        }
    }

    pub fn recent(&self) -> impl Iterator<Item = &String> {
        self.recent.iter()
    }

    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let _ = out.flush();
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
