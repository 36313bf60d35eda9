//! The history format: JSON lines, one [`Event`] per invocation and one per completion.
//!
//! ```json
//! {"kind":"invoke","id":7,"session":3,"op":"cas","path":"/chaos/r1","value":"3-12","version":4,"time_ns":1500000}
//! {"kind":"ok","id":7,"session":3,"op":"cas","path":"/chaos/r1","version":5,"zxid":4294967310,"time_ns":2100000}
//! ```
//!
//! An invocation carries the arguments, a completion the result; both carry the id that pairs
//! them, the logical session and the operation. An invocation with no completion is
//! indeterminate, like one completed with `info`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Invocation or one of the three completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The client is about to send the request.
    Invoke,
    /// The server answered with success.
    Ok,
    /// The server answered with an error: the operation did not take effect.
    Fail,
    /// Indeterminate: timeout, connection loss, session expired while in flight. It may or may
    /// not have taken effect.
    Info,
}

/// The operations of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// getData: result `value`, `version`, `zxid` (the znode's mzxid).
    Read,
    /// setData without a version: argument `value`; result `version`, `zxid` (mzxid).
    Write,
    /// setData with a version: arguments `value`, `version` (expected); result `version`, `zxid`;
    /// `fail` with error `bad-version` when the version did not match.
    Cas,
    /// sync then getData, as one operation: result as for `read`.
    SyncRead,
    /// create, persistent sequential: `path` is the prefix (parent/name-), argument `value`;
    /// result `name` (the full path created) and `zxid` (czxid).
    CreateSeq,
    /// create, ephemeral: `path` is the node; result `zxid` (czxid).
    CreateEphemeral,
    /// sync then getChildren of `path`: result `children` (names, not paths).
    List,
    /// The client learned that its session expired (`ok`), or closed it (`ok`, error `closed`).
    SessionEnd,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: Kind,
    /// Pairs an invocation with its completion; unique in a history.
    pub id: u64,
    /// The logical session: one ZooKeeper session of one worker (a worker whose session expires
    /// continues under a new number).
    pub session: u32,
    pub op: OpKind,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zxid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nanoseconds since the run started, from a monotonic clock.
    pub time_ns: u64,
}

impl Event {
    /// An invocation with no arguments; set the fields the operation needs.
    pub fn invoke(id: u64, session: u32, op: OpKind, path: &str, time_ns: u64) -> Event {
        Event {
            kind: Kind::Invoke,
            id,
            session,
            op,
            path: path.to_string(),
            value: None,
            version: None,
            zxid: None,
            name: None,
            children: None,
            error: None,
            time_ns,
        }
    }

    /// A completion of `invoke` of the given kind with no result fields.
    pub fn complete(invoke: &Event, kind: Kind, time_ns: u64) -> Event {
        Event {
            kind,
            ..Event::invoke(invoke.id, invoke.session, invoke.op, &invoke.path, time_ns)
        }
    }
}

/// Outcome of a paired operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

/// An invocation paired with its completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub id: u64,
    pub session: u32,
    pub op: OpKind,
    pub path: String,
    /// Arguments: the value written, the version expected (cas).
    pub arg_value: Option<String>,
    pub arg_version: Option<i32>,
    pub outcome: Outcome,
    /// Results (ok) or the error (fail, info).
    pub value: Option<String>,
    pub version: Option<i32>,
    pub zxid: Option<i64>,
    pub name: Option<String>,
    pub children: Option<Vec<String>>,
    pub error: Option<String>,
    pub invoke_ns: u64,
    /// None when the history ends before a completion.
    pub complete_ns: Option<u64>,
}

impl Op {
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// Completion time, or `u64::MAX` for indeterminate operations (they may take effect at any
    /// time after their invocation).
    pub fn end(&self) -> u64 {
        match self.outcome {
            Outcome::Info => u64::MAX,
            _ => self.complete_ns.unwrap_or(u64::MAX),
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |ns: u64| ns as f64 / 1e6;
        write!(
            f,
            "#{} s{} {:?} {}",
            self.id, self.session, self.op, self.path
        )?;
        if let Some(v) = &self.arg_value {
            write!(f, " value={v:?}")?;
        }
        if let Some(v) = self.arg_version {
            write!(f, " expect-version={v}")?;
        }
        write!(f, " [{:.1}ms..", ms(self.invoke_ns))?;
        match self.complete_ns {
            Some(t) => write!(f, "{:.1}ms]", ms(t))?,
            None => write!(f, "?]")?,
        }
        write!(f, " -> {:?}", self.outcome)?;
        if let Some(v) = &self.value {
            write!(f, " value={v:?}")?;
        }
        if let Some(v) = self.version {
            write!(f, " version={v}")?;
        }
        if let Some(z) = self.zxid {
            write!(f, " zxid={z:#x}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " name={n}")?;
        }
        if let Some(c) = &self.children {
            write!(f, " children={}", c.len())?;
        }
        if let Some(e) = &self.error {
            write!(f, " error={e}")?;
        }
        Ok(())
    }
}

/// Pairs invocations with completions (by id), in invocation order. Completions without an
/// invocation are ignored; invocations without a completion are indeterminate.
pub fn pair(events: &[Event]) -> Vec<Op> {
    let mut done: HashMap<u64, &Event> = HashMap::new();
    for e in events {
        if e.kind != Kind::Invoke {
            done.insert(e.id, e);
        }
    }
    let mut ops: Vec<Op> = events
        .iter()
        .filter(|e| e.kind == Kind::Invoke)
        .map(|inv| {
            let c = done.get(&inv.id);
            let outcome = match c.map(|c| c.kind) {
                Some(Kind::Ok) => Outcome::Ok,
                Some(Kind::Fail) => Outcome::Fail,
                _ => Outcome::Info,
            };
            Op {
                id: inv.id,
                session: inv.session,
                op: inv.op,
                path: inv.path.clone(),
                arg_value: inv.value.clone(),
                arg_version: inv.version,
                outcome,
                value: c.and_then(|c| c.value.clone()),
                version: c.and_then(|c| c.version),
                zxid: c.and_then(|c| c.zxid),
                name: c.and_then(|c| c.name.clone()),
                children: c.and_then(|c| c.children.clone()),
                error: c.and_then(|c| c.error.clone()),
                invoke_ns: inv.time_ns,
                complete_ns: c.map(|c| c.time_ns),
            }
        })
        .collect();
    ops.sort_by_key(|o| (o.invoke_ns, o.id));
    ops
}

/// Writes events as JSON lines.
pub fn write_jsonl(mut out: impl Write, events: &[Event]) -> std::io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads JSON lines (blank lines skipped); the error names the line.
pub fn read_jsonl(input: impl BufRead) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("line {}: {e}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        events.push(serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", n + 1))?);
    }
    Ok(events)
}

/// Builds histories in tests: `invoke` then `ok`/`fail`/`info` with fields filled by closures.
#[derive(Default)]
pub struct Builder {
    pub events: Vec<Event>,
    next_id: u64,
}

impl Builder {
    /// Records an invocation at `t` (ms) and returns its id.
    pub fn invoke(&mut self, t: u64, session: u32, op: OpKind, path: &str) -> u64 {
        self.invoke_with(t, session, op, path, |_| {})
    }

    pub fn invoke_with(
        &mut self,
        t: u64,
        session: u32,
        op: OpKind,
        path: &str,
        f: impl FnOnce(&mut Event),
    ) -> u64 {
        self.next_id += 1;
        let mut e = Event::invoke(self.next_id, session, op, path, t * 1_000_000);
        f(&mut e);
        self.events.push(e);
        self.next_id
    }

    /// Completes operation `id` at `t` (ms).
    pub fn complete(&mut self, id: u64, t: u64, kind: Kind, f: impl FnOnce(&mut Event)) {
        let inv = self
            .events
            .iter()
            .find(|e| e.id == id && e.kind == Kind::Invoke)
            .expect("invoked")
            .clone();
        let mut e = Event::complete(&inv, kind, t * 1_000_000);
        f(&mut e);
        self.events.push(e);
    }

    /// A write of `value` over [t0, t1] acknowledged with `version` (zxid = version).
    pub fn write(
        &mut self,
        t0: u64,
        t1: u64,
        s: u32,
        path: &str,
        value: &str,
        version: i32,
    ) -> u64 {
        let id = self.invoke_with(t0, s, OpKind::Write, path, |e| e.value = Some(value.into()));
        self.complete(id, t1, Kind::Ok, |e| {
            e.version = Some(version);
            e.zxid = Some(version as i64);
        });
        id
    }

    /// A read (`sync` selects sync-read) over [t0, t1] returning `value` at `version`
    /// (zxid = version).
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        &mut self,
        t0: u64,
        t1: u64,
        s: u32,
        sync: bool,
        path: &str,
        value: &str,
        version: i32,
    ) -> u64 {
        let op = if sync { OpKind::SyncRead } else { OpKind::Read };
        let id = self.invoke(t0, s, op, path);
        self.complete(id, t1, Kind::Ok, |e| {
            e.value = Some(value.into());
            e.version = Some(version);
            e.zxid = Some(version as i64);
        });
        id
    }

    /// A compare-and-set over [t0, t1]: `Some(v)` = acknowledged with version v, `None` =
    /// failed with bad-version.
    #[allow(clippy::too_many_arguments)]
    pub fn cas(
        &mut self,
        t0: u64,
        t1: u64,
        s: u32,
        path: &str,
        value: &str,
        expect: i32,
        result: Option<i32>,
    ) -> u64 {
        let id = self.invoke_with(t0, s, OpKind::Cas, path, |e| {
            e.value = Some(value.into());
            e.version = Some(expect);
        });
        match result {
            Some(v) => self.complete(id, t1, Kind::Ok, |e| {
                e.version = Some(v);
                e.zxid = Some(v as i64);
            }),
            None => self.complete(id, t1, Kind::Fail, |e| e.error = Some("bad-version".into())),
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_pairing() {
        let mut b = Builder::default();
        b.write(0, 5, 1, "/r", "a", 1);
        let pending = b.invoke_with(2, 2, OpKind::Write, "/r", |e| e.value = Some("b".into()));
        let mut buf = Vec::new();
        write_jsonl(&mut buf, &b.events).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().next().unwrap().contains("\"kind\":\"invoke\""));
        let back = read_jsonl(&buf[..]).unwrap();
        assert_eq!(back, b.events);
        let ops = pair(&back);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome, Outcome::Ok);
        assert_eq!(ops[0].version, Some(1));
        assert_eq!(ops[1].id, pending);
        assert_eq!(ops[1].outcome, Outcome::Info);
        assert_eq!(ops[1].end(), u64::MAX);
    }

    #[test]
    fn bad_line_is_named() {
        let err = read_jsonl(&b"\n{\"kind\":\"nope\"}\n"[..]).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }
}
