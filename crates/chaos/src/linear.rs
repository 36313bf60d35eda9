//! Linearizability of each register znode: writes (setData), compare-and-set (setData with a
//! version) and sync-then-read.
//!
//! A register is the pair (data, version) of one znode, starting at (`""`, 0) — the harness
//! creates the registers empty before the history starts. Plain reads are not checked here:
//! ZooKeeper lets them be stale (they are checked for per-session monotonicity in
//! [`crate::checks`]). Sync-then-read must see the latest committed write, so it is a read of the
//! register.
//!
//! The search is Wing & Gong's, as improved by Lowe ("just-in-time linearization": only
//! operations whose invocation precedes the earliest pending completion are candidates) with
//! memoization of (linearized set, state) pairs, and P-compositionality: each znode is checked on
//! its own. Indeterminate operations have no completion: they may take effect at any point after
//! their invocation, or never.

use crate::history::{Op, OpKind, Outcome};
use crate::Anomaly;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct State {
    value: u32,
    version: i32,
}

#[derive(Debug, Clone, Copy)]
enum Model {
    /// setData(value); `ret` the version acknowledged (None: indeterminate).
    Write { value: u32, ret: Option<i32> },
    /// An indeterminate setData (or cas, `expect` Some) whose value nobody ever read: it matters
    /// only if a version is missing (a gap in what was acknowledged or read) or if a later
    /// compare-and-set failed because the version moved past every one observed, so it may only
    /// take such a version. This keeps indeterminate writes from multiplying the search.
    Unseen { expect: Option<i32> },
    /// setData(value, expect): ok (`ret` Some), indeterminate (`ret` None, `bad` false) or
    /// failed with a bad version (`bad`).
    Cas {
        value: u32,
        expect: i32,
        ret: Option<i32>,
        bad: bool,
    },
    /// sync + getData returning (value, version).
    Read { value: u32, version: i32 },
}

/// Versions an unseen write may take: those below the highest observed that nobody observed
/// (`inner`), and, when a compare-and-set expecting the highest observed version (or more)
/// failed, any above it (`above`), which nothing else can tell.
struct Gaps {
    inner: HashSet<i32>,
    top: i32,
    above: bool,
}

/// Value id of every unseen write: nothing can read it.
const UNSEEN: u32 = u32::MAX;

fn step(m: Model, s: State, gaps: &Gaps) -> Option<State> {
    match m {
        Model::Unseen { expect } => {
            let version = s.version + 1;
            let missing = gaps.inner.contains(&version) || (gaps.above && version > gaps.top);
            (missing && expect.is_none_or(|e| e == s.version)).then_some(State {
                value: UNSEEN,
                version,
            })
        }
        Model::Write { value, ret } => {
            let version = s.version + 1;
            (ret.is_none() || ret == Some(version)).then_some(State { value, version })
        }
        Model::Cas {
            bad: true, expect, ..
        } => (s.version != expect).then_some(s),
        Model::Cas {
            value, expect, ret, ..
        } => (s.version == expect && (ret.is_none() || ret == Some(expect + 1))).then_some(State {
            value,
            version: expect + 1,
        }),
        Model::Read { value, version } => (s.value == value && s.version == version).then_some(s),
    }
}

/// The operations of the history that the register model constrains, for one path.
fn relevant(op: &Op) -> bool {
    match (op.op, op.outcome) {
        (OpKind::Write, Outcome::Ok | Outcome::Info) => true,
        (OpKind::Cas, Outcome::Ok | Outcome::Info) => true,
        (OpKind::Cas, Outcome::Fail) => op.error.as_deref() == Some("bad-version"),
        (OpKind::SyncRead, Outcome::Ok) => true,
        _ => false,
    }
}

/// Checks every register znode (every path with a write, cas or sync-read); one anomaly per
/// non-linearizable znode.
pub fn check_registers(ops: &[Op]) -> Vec<Anomaly> {
    let mut by_path: BTreeMap<&str, (Vec<&Op>, Vec<&Op>)> = BTreeMap::new();
    for op in ops {
        if relevant(op) {
            by_path.entry(&op.path).or_default().0.push(op);
        } else if op.op == OpKind::Read && op.is_ok() {
            by_path.entry(&op.path).or_default().1.push(op);
        }
    }
    by_path
        .into_iter()
        .filter(|(_, (ops, _))| !ops.is_empty())
        .filter_map(|(path, (ops, seen))| check_register(path, &ops, &seen).err())
        .collect()
}

#[derive(Clone, Copy)]
struct Node {
    op: usize,
    call: bool,
    /// For a call: its return node, if the operation completed.
    ret: Option<usize>,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// The search gives up (and says so, as an anomaly) after this many steps.
pub const STEP_BUDGET: u64 = 50_000_000;

/// Checks one register's operations (all on `path`); on failure, the anomaly holds the operation
/// that could not be linearized at the deepest point of the search, the operations concurrent
/// with it and the last few linearized before it.
///
/// `observations` are further operations on the path (plain reads) whose results tell which
/// values and versions existed; they are not themselves checked.
pub fn check_register(path: &str, ops: &[&Op], observations: &[&Op]) -> Result<(), Anomaly> {
    let mut values: HashMap<String, u32> = HashMap::from([(String::new(), 0)]);
    let mut intern = |v: Option<&String>| -> u32 {
        let v = v.cloned().unwrap_or_default();
        let n = values.len() as u32;
        *values.entry(v).or_insert(n)
    };
    // What was observed: values read, and versions acknowledged or read.
    let mut seen_values: HashMap<&str, i32> = HashMap::new();
    let mut known: HashSet<i32> = HashSet::new();
    for op in ops.iter().chain(observations) {
        if op.is_ok() {
            if let Some(v) = op.version {
                known.insert(v);
            }
            if matches!(op.op, OpKind::Read | OpKind::SyncRead) {
                if let (Some(value), Some(v)) = (&op.value, op.version) {
                    seen_values.insert(value, v);
                }
            }
        }
    }
    let top = known.iter().copied().max().unwrap_or(0);
    let failed_past_top = ops.iter().any(|op| {
        op.op == OpKind::Cas
            && op.outcome == Outcome::Fail
            && op.arg_version.is_some_and(|expect| expect >= top)
    });
    let gaps = Gaps {
        inner: (1..=top).filter(|v| !known.contains(v)).collect(),
        top,
        above: failed_past_top,
    };
    let models: Vec<Model> = ops
        .iter()
        .map(|op| match op.op {
            OpKind::Write | OpKind::Cas
                if op.outcome == Outcome::Info
                    && !seen_values.contains_key(op.arg_value.as_deref().unwrap_or("")) =>
            {
                Model::Unseen {
                    expect: if op.op == OpKind::Cas {
                        Some(op.arg_version.unwrap_or(-1))
                    } else {
                        None
                    },
                }
            }
            OpKind::Write => Model::Write {
                value: intern(op.arg_value.as_ref()),
                ret: if op.is_ok() { op.version } else { None },
            },
            OpKind::Cas => Model::Cas {
                value: intern(op.arg_value.as_ref()),
                expect: op.arg_version.unwrap_or(-1),
                ret: if op.is_ok() { op.version } else { None },
                bad: op.outcome == Outcome::Fail,
            },
            _ => Model::Read {
                value: intern(op.value.as_ref()),
                version: op.version.unwrap_or(-1),
            },
        })
        .collect();

    // Events: (time, returns-after-calls-at-equal-time, op, is_call).
    let mut events: Vec<(u64, bool, usize)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke_ns, false, i));
        if op.outcome != Outcome::Info {
            events.push((op.end(), true, i));
        }
    }
    events.sort();
    // Node 0 is the head sentinel.
    let mut nodes = vec![Node {
        op: NIL,
        call: false,
        ret: None,
        prev: NIL,
        next: NIL,
    }];
    let mut call_node = vec![NIL; ops.len()];
    for &(_, is_ret, i) in &events {
        let k = nodes.len();
        let prev = k - 1;
        nodes[prev].next = k;
        nodes.push(Node {
            op: i,
            call: !is_ret,
            ret: None,
            prev,
            next: NIL,
        });
        if is_ret {
            nodes[call_node[i]].ret = Some(k);
        } else {
            call_node[i] = k;
        }
    }
    let mut required = ops.iter().filter(|o| o.outcome != Outcome::Info).count();

    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = State {
        value: 0,
        version: 0,
    };
    // The deepest point reached: (depth, stuck op, state there, linearized ops in order).
    let mut deepest: Option<(usize, usize, State, Vec<usize>)> = None;

    let lift = |nodes: &mut Vec<Node>, c: usize| {
        for k in std::iter::once(c).chain(nodes[c].ret) {
            let (p, n) = (nodes[k].prev, nodes[k].next);
            nodes[p].next = n;
            if n != NIL {
                nodes[n].prev = p;
            }
        }
    };
    let unlift = |nodes: &mut Vec<Node>, c: usize| {
        for k in nodes[c].ret.into_iter().chain(std::iter::once(c)) {
            let (p, n) = (nodes[k].prev, nodes[k].next);
            nodes[p].next = k;
            if n != NIL {
                nodes[n].prev = k;
            }
        }
    };

    let mut steps = 0u64;
    let mut entry = nodes[0].next;
    loop {
        if required == 0 {
            return Ok(());
        }
        if entry != NIL && nodes[entry].call {
            let i = nodes[entry].op;
            steps += 1;
            if steps > STEP_BUDGET {
                return Err(Anomaly {
                    checker: "linearizable",
                    path: path.to_string(),
                    message: format!(
                        "undecided: the search gave up after {STEP_BUDGET} steps ({} operations)",
                        ops.len()
                    ),
                    ops: Vec::new(),
                });
            }
            if let Some(next_state) = step(models[i], state, &gaps) {
                linearized[i / 64] |= 1 << (i % 64);
                if cache.insert((linearized.clone(), next_state)) {
                    stack.push((entry, state));
                    state = next_state;
                    lift(&mut nodes, entry);
                    if nodes[entry].ret.is_some() {
                        required -= 1;
                    }
                    entry = nodes[0].next;
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            entry = nodes[entry].next;
            continue;
        }
        // A completion whose operation is not linearized yet (or the end of the list): undo the
        // last choice.
        if entry != NIL && deepest.as_ref().is_none_or(|d| stack.len() > d.0) {
            let order = stack.iter().map(|&(c, _)| nodes[c].op).collect();
            deepest = Some((stack.len(), nodes[entry].op, state, order));
        }
        let Some((c, s)) = stack.pop() else {
            break;
        };
        let i = nodes[c].op;
        linearized[i / 64] &= !(1 << (i % 64));
        state = s;
        unlift(&mut nodes, c);
        if nodes[c].ret.is_some() {
            required += 1;
        }
        entry = nodes[c].next;
    }

    let names: HashMap<u32, &str> = values.iter().map(|(k, v)| (*v, k.as_str())).collect();
    let (_, stuck, at, order) = deepest.unwrap_or((0, 0, state, Vec::new()));
    let done: HashSet<usize> = order.iter().copied().collect();
    let s = ops[stuck];
    let mut part: Vec<usize> = order.iter().rev().take(4).copied().collect();
    // Indeterminate operations never end; only those invoked within the context count.
    let since = part
        .iter()
        .map(|&j| ops[j].invoke_ns)
        .min()
        .unwrap_or(s.invoke_ns)
        .min(s.invoke_ns);
    part.extend((0..ops.len()).filter(|&j| {
        let o = ops[j];
        !done.contains(&j)
            && o.invoke_ns <= s.end()
            && o.end() >= s.invoke_ns
            && (o.outcome != Outcome::Info || o.invoke_ns >= since)
    }));
    part.sort_by_key(|&j| (ops[j].invoke_ns, ops[j].id));
    part.dedup();
    Err(Anomaly {
        checker: "linearizable",
        path: path.to_string(),
        message: format!(
            "no linearization: after {} operations the register holds (value {:?}, version {}) and #{} ({:?}) cannot take effect, nor can any operation concurrent with it",
            order.len(),
            names.get(&at.value).copied().unwrap_or("(unread)"),
            at.version,
            s.id,
            s.op
        ),
        ops: part.into_iter().map(|j| ops[j].clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair, Builder, Kind};

    fn check(b: &Builder) -> Vec<Anomaly> {
        check_registers(&pair(&b.events))
    }

    #[test]
    fn sequential_history_passes() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.read(2, 3, 2, true, "/r", "a", 1);
        b.cas(4, 5, 2, "/r", "b", 1, Some(2));
        b.cas(6, 7, 1, "/r", "c", 1, None);
        b.read(8, 9, 1, true, "/r", "b", 2);
        assert!(check(&b).is_empty());
    }

    #[test]
    fn concurrent_reads_may_see_either_side() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 10, 1, "/r", "b", 2);
        b.read(3, 4, 2, true, "/r", "b", 2);
        b.read(5, 6, 3, true, "/r", "a", 1); // stale vs the read at 3..4: not linearizable
        let a = check(&b);
        assert_eq!(a.len(), 1, "{a:?}");
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 10, 1, "/r", "b", 2);
        b.read(3, 4, 2, true, "/r", "a", 1);
        b.read(5, 6, 3, true, "/r", "b", 2);
        assert!(check(&b).is_empty());
    }

    #[test]
    fn stale_read_after_completed_write_fails() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 3, 1, "/r", "b", 2);
        let stale = b.read(4, 5, 2, true, "/r", "a", 1);
        let a = check(&b);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].checker, "linearizable");
        assert!(a[0].ops.iter().any(|o| o.id == stale), "{}", a[0]);
        assert!(a[0].to_string().contains("cannot take effect"));
    }

    #[test]
    fn lost_acknowledged_write_fails() {
        // "b" was acknowledged as version 2, yet later the register shows version 2 = "c".
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 3, 1, "/r", "b", 2);
        b.write(4, 5, 2, "/r", "c", 2);
        b.read(6, 7, 3, true, "/r", "c", 2);
        assert_eq!(check(&b).len(), 1);
    }

    #[test]
    fn cas_succeeding_twice_on_one_version_fails() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.cas(2, 3, 1, "/r", "x", 1, Some(2));
        b.cas(4, 5, 2, "/r", "y", 1, Some(2));
        assert_eq!(check(&b).len(), 1);
        // Concurrent, still only one may win.
        let mut b = Builder::default();
        b.cas(2, 5, 1, "/r", "x", 0, Some(1));
        b.cas(2, 5, 2, "/r", "y", 0, Some(1));
        assert_eq!(check(&b).len(), 1);
    }

    #[test]
    fn bad_version_must_be_justified() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.cas(2, 3, 2, "/r", "x", 1, None); // version was 1: the failure is wrong
        assert_eq!(check(&b).len(), 1);
    }

    #[test]
    fn indeterminate_write_may_or_may_not_apply() {
        for seen in [("a", 1), ("b", 2)] {
            let mut b = Builder::default();
            b.write(0, 1, 1, "/r", "a", 1);
            let id = b.invoke_with(2, 2, OpKind::Write, "/r", |e| e.value = Some("b".into()));
            b.complete(id, 3, Kind::Info, |e| {
                e.error = Some("connection-loss".into())
            });
            b.read(10, 11, 3, true, "/r", seen.0, seen.1);
            b.read(12, 13, 3, true, "/r", seen.0, seen.1);
            assert!(check(&b).is_empty(), "{seen:?}");
        }
        // ... but it may not take effect before it was invoked.
        let mut b = Builder::default();
        b.read(0, 1, 3, true, "/r", "b", 1);
        let id = b.invoke_with(2, 2, OpKind::Write, "/r", |e| e.value = Some("b".into()));
        b.complete(id, 3, Kind::Info, |_| {});
        assert_eq!(check(&b).len(), 1);
        // ... nor flip back.
        let mut b = Builder::default();
        let id = b.invoke_with(0, 2, OpKind::Write, "/r", |e| e.value = Some("b".into()));
        b.complete(id, 1, Kind::Info, |_| {});
        b.read(2, 3, 3, true, "/r", "b", 1);
        b.read(4, 5, 3, true, "/r", "", 0);
        assert_eq!(check(&b).len(), 1);
    }

    #[test]
    fn plain_reads_are_not_checked_here() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.read(4, 5, 2, false, "/r", "", 0);
        assert!(check(&b).is_empty());
    }

    /// A few thousand operations from 10 sessions on one register, some indeterminate, checked
    /// in well under a second (release) / a few seconds (debug).
    #[test]
    fn thousands_of_operations_fast() {
        let mut b = Builder::default();
        let mut t = 0u64;
        let mut version = 0;
        let mut value = String::new();
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Rounds of 10 overlapping operations: writes take effect in order at distinct points
        // inside the round; reads overlapping the whole round see the state at round end.
        for round in 0..400 {
            t += 100;
            let mut round_writes = Vec::new();
            let mut readers = Vec::new();
            for s in 0..10u32 {
                match next() % 10 {
                    0..=3 => {
                        version += 1;
                        value = format!("{round}-{s}");
                        round_writes.push((s, value.clone(), version));
                    }
                    4 => {
                        // An indeterminate write that never applied.
                        let id = b.invoke_with(t + 1, s, OpKind::Write, "/r", |e| {
                            e.value = Some(format!("lost-{round}-{s}"))
                        });
                        b.complete(id, t + 60, Kind::Info, |_| {});
                    }
                    _ => readers.push(s),
                }
            }
            for s in readers {
                b.read(t + 50, t + 90, s, true, "/r", &value, version);
            }
            for (s, v, ver) in round_writes {
                b.write(t + 2, t + 40, s, "/r", &v, ver);
            }
        }
        let ops = pair(&b.events);
        assert!(ops.len() >= 3000, "{}", ops.len());
        let start = std::time::Instant::now();
        let a = check_registers(&ops);
        assert!(a.is_empty(), "{}", a[0]);
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
        // And with one read corrupted to an old version, it is found.
        let mut events = b.events.clone();
        let victim = events
            .iter()
            .rposition(|e| e.kind == Kind::Ok && e.op == OpKind::SyncRead && e.version > Some(5))
            .unwrap();
        events[victim].version = Some(1);
        let a = check_registers(&pair(&events));
        assert_eq!(a.len(), 1);
        assert!(a[0].ops.len() < 30, "{} ops reported", a[0].ops.len());
    }

    /// Found by the server-level simulator: a write that may or may not have happened (its
    /// connection broke), never read, and a later compare-and-set expecting the last version
    /// seen that failed. The write explains the failure: this history is linearizable.
    #[test]
    fn an_unseen_write_explains_a_failed_compare_and_set() {
        let mut b = Builder::default();
        b.write(0, 5, 1, "/r", "a", 1);
        let lost = b.invoke_with(10, 2, OpKind::Write, "/r", |e| e.value = Some("b".into()));
        b.complete(lost, 20, Kind::Info, |_| {});
        b.cas(30, 35, 1, "/r", "c", 1, None);
        assert!(check_registers(&pair(&b.events)).is_empty());
        // Without the indeterminate write, the failure has no explanation.
        let mut b = Builder::default();
        b.write(0, 5, 1, "/r", "a", 1);
        b.cas(30, 35, 1, "/r", "c", 1, None);
        assert_eq!(check_registers(&pair(&b.events)).len(), 1);
    }
}
