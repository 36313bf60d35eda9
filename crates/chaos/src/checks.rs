//! The checkers other than linearizability: per-session monotonic reads, no acknowledged write
//! lost, sequential names unique and increasing, ephemerals present while their session lives
//! and gone after it ends.

use crate::history::{Op, OpKind, Outcome};
use crate::Anomaly;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => path,
    }
}

fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn is_read(op: &Op) -> bool {
    matches!(op.op, OpKind::Read | OpKind::SyncRead)
}

fn sorted(mut ops: Vec<Op>) -> Vec<Op> {
    ops.sort_by_key(|o| (o.invoke_ns, o.id));
    ops.dedup_by_key(|o| o.id);
    ops
}

/// What a session had seen when it invoked an operation: the largest zxid and the newest version
/// of the operation's znode, each with the index of the operation that showed it.
type Seen = (Option<(i64, usize)>, Option<(i32, usize)>);

/// ZooKeeper's promise for plain reads: a session's view never goes back. A read (plain or
/// after sync) must not return an older version of a znode than the session saw before (read or
/// wrote itself), and must not miss a write to that znode whose zxid is at most the largest
/// zxid the session had seen (on any znode) when it invoked the read.
pub fn monotonic_reads(ops: &[Op]) -> Vec<Anomaly> {
    // Every write to each znode that anyone saw: zxid -> op.
    let mut writes: HashMap<&str, BTreeMap<i64, &Op>> = HashMap::new();
    for op in ops.iter().filter(|o| o.is_ok()) {
        if let Some(z) = op.zxid {
            if matches!(op.op, OpKind::Write | OpKind::Cas) || is_read(op) {
                writes.entry(&op.path).or_default().entry(z).or_insert(op);
            }
        }
    }
    let mut by_session: BTreeMap<u32, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_session.entry(op.session).or_default().push(op);
    }
    let mut anomalies = Vec::new();
    for ops in by_session.values() {
        // (time, 0 = invoke / 1 = completion, index): invocations first at equal times, so an
        // operation completing exactly when another starts does not count as before it.
        let mut events: Vec<(u64, u8, usize)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            events.push((op.invoke_ns, 0, i));
            if op.is_ok() {
                events.push((op.end(), 1, i));
            }
        }
        events.sort();
        let mut max_zxid: Option<(i64, usize)> = None;
        let mut max_version: HashMap<&str, (i32, usize)> = HashMap::new();
        let mut snapshot: HashMap<usize, Seen> = HashMap::new();
        for (_, what, i) in events {
            let op = ops[i];
            if what == 0 {
                snapshot.insert(i, (max_zxid, max_version.get(op.path.as_str()).copied()));
                continue;
            }
            let (seen_zxid, seen_version) = snapshot[&i];
            if is_read(op) {
                let mut went_back = false;
                if let (Some(v), Some((sv, by))) = (op.version, seen_version) {
                    if v < sv {
                        went_back = true;
                        anomalies.push(Anomaly {
                            checker: "monotonic-reads",
                            path: op.path.clone(),
                            message: format!(
                                "session {} read version {v} after it had seen version {sv}",
                                op.session
                            ),
                            ops: sorted(vec![ops[by].clone(), op.clone()]),
                        });
                    }
                }
                if went_back {
                    // Reported already.
                } else if let (Some(m), Some((z, by))) =
                    (op.zxid, seen_zxid.filter(|(z, _)| op.zxid < Some(*z)))
                {
                    let missed = writes
                        .get(op.path.as_str())
                        .and_then(|w| w.range(m + 1..=z).next());
                    if let Some((w, writer)) = missed {
                        anomalies.push(Anomaly {
                            checker: "monotonic-reads",
                            path: op.path.clone(),
                            message: format!(
                                "session {} read the znode as of zxid {m:#x}, missing the write at {w:#x}, though it had already seen zxid {z:#x}",
                                op.session
                            ),
                            ops: sorted(vec![(*writer).clone(), ops[by].clone(), op.clone()]),
                        });
                    }
                }
            }
            if let Some(z) = op.zxid {
                if max_zxid.is_none_or(|(m, _)| z > m) {
                    max_zxid = Some((z, i));
                }
            }
            if let Some(v) = op.version {
                if matches!(op.op, OpKind::Write | OpKind::Cas) || is_read(op) {
                    let e = max_version.entry(op.path.as_str()).or_insert((v, i));
                    if v > e.0 {
                        *e = (v, i);
                    }
                }
            }
        }
    }
    anomalies
}

/// The last successful listing of each parent, by invocation time.
fn final_lists(ops: &[Op]) -> HashMap<&str, &Op> {
    let mut lists: HashMap<&str, &Op> = HashMap::new();
    for op in ops.iter().filter(|o| o.op == OpKind::List && o.is_ok()) {
        let e = lists.entry(&op.path).or_insert(op);
        if op.invoke_ns >= e.invoke_ns {
            *e = op;
        }
    }
    lists
}

/// No acknowledged write lost: each version of a register holds one value (an acknowledged
/// write whose version later shows another value was lost); the last sync-read of each register
/// is at least as new as every write acknowledged before it started; every acknowledged
/// sequential create is in the last listing of its parent started after it.
pub fn lost_writes(ops: &[Op]) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut versions: BTreeMap<(&str, i32), BTreeMap<&str, &Op>> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.is_ok()) {
        let value = match op.op {
            OpKind::Write | OpKind::Cas => op.arg_value.as_deref(),
            OpKind::Read | OpKind::SyncRead => op.value.as_deref(),
            _ => None,
        };
        if let (Some(value), Some(v)) = (value, op.version) {
            versions
                .entry((&op.path, v))
                .or_default()
                .entry(value)
                .or_insert(op);
        }
    }
    for ((path, v), values) in &versions {
        if values.len() > 1 {
            anomalies.push(Anomaly {
                checker: "lost-write",
                path: path.to_string(),
                message: format!(
                    "version {v} holds {} different values: {:?}",
                    values.len(),
                    values.keys().collect::<Vec<_>>()
                ),
                ops: sorted(values.values().map(|o| (*o).clone()).collect()),
            });
        }
    }
    let mut last_read: HashMap<&str, &Op> = HashMap::new();
    for op in ops.iter().filter(|o| o.op == OpKind::SyncRead && o.is_ok()) {
        let e = last_read.entry(&op.path).or_insert(op);
        if op.invoke_ns >= e.invoke_ns {
            *e = op;
        }
    }
    for op in ops.iter().filter(|o| o.is_ok()) {
        if !matches!(op.op, OpKind::Write | OpKind::Cas) {
            continue;
        }
        if let Some(last) = last_read.get(op.path.as_str()) {
            if op.end() < last.invoke_ns && op.version > last.version {
                anomalies.push(Anomaly {
                    checker: "lost-write",
                    path: op.path.clone(),
                    message: format!(
                        "acknowledged version {:?} is newer than the last sync-read's {:?}",
                        op.version, last.version
                    ),
                    ops: sorted(vec![op.clone(), (*last).clone()]),
                });
            }
        }
    }
    let lists = final_lists(ops);
    for op in ops
        .iter()
        .filter(|o| o.op == OpKind::CreateSeq && o.is_ok())
    {
        let Some(name) = &op.name else { continue };
        let Some(list) = lists.get(parent(name)) else {
            continue;
        };
        let children = list.children.as_deref().unwrap_or_default();
        if op.end() < list.invoke_ns && !children.iter().any(|c| c == leaf(name)) {
            anomalies.push(Anomaly {
                checker: "lost-write",
                path: name.clone(),
                message: "acknowledged create is missing from the final listing".into(),
                ops: sorted(vec![op.clone(), (*list).clone()]),
            });
        }
    }
    anomalies
}

fn sequence_number(name: &str) -> Option<i64> {
    let digits: String = leaf(name)
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Sequential names are unique per parent, and increase in real time: a create that completed
/// before another was invoked has the smaller number.
pub fn sequential(ops: &[Op]) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let mut by_parent: BTreeMap<&str, Vec<(&Op, i64)>> = BTreeMap::new();
    for op in ops
        .iter()
        .filter(|o| o.op == OpKind::CreateSeq && o.is_ok())
    {
        if let Some(n) = op.name.as_deref().and_then(sequence_number) {
            by_parent
                .entry(parent(op.name.as_deref().unwrap_or_default()))
                .or_default()
                .push((op, n));
        }
    }
    for (parent, creates) in by_parent {
        let mut names: HashMap<i64, &Op> = HashMap::new();
        for &(op, n) in &creates {
            if let Some(other) = names.insert(n, op) {
                anomalies.push(Anomaly {
                    checker: "sequential",
                    path: parent.to_string(),
                    message: format!("sequence number {n} given twice"),
                    ops: sorted(vec![other.clone(), op.clone()]),
                });
            }
        }
        let mut by_end = creates.clone();
        by_end.sort_by_key(|(o, _)| o.end());
        let mut by_start = creates;
        by_start.sort_by_key(|(o, _)| o.invoke_ns);
        let mut k = 0;
        let mut max: Option<(&Op, i64)> = None;
        for &(op, n) in &by_start {
            while k < by_end.len() && by_end[k].0.end() < op.invoke_ns {
                if max.is_none_or(|(_, m)| by_end[k].1 > m) {
                    max = Some(by_end[k]);
                }
                k += 1;
            }
            if let Some((before, m)) = max {
                if m >= n {
                    anomalies.push(Anomaly {
                        checker: "sequential",
                        path: parent.to_string(),
                        message: format!(
                            "sequence number {n} was given after {m} had been acknowledged"
                        ),
                        ops: sorted(vec![before.clone(), op.clone()]),
                    });
                }
            }
        }
    }
    anomalies
}

/// Ephemerals: in the last listing of their parent, an ephemeral acknowledged to a session that
/// was still alive afterwards (it completed an operation invoked after the listing) is present;
/// one whose session had ended (expired or closed) before the listing started is gone; and no
/// name is listed that no session tried to create.
pub fn ephemerals(ops: &[Op]) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let lists = final_lists(ops);
    let mut ended: HashMap<u32, &Op> = HashMap::new();
    for op in ops.iter().filter(|o| o.op == OpKind::SessionEnd) {
        ended.entry(op.session).or_insert(op);
    }
    let creates: Vec<&Op> = ops
        .iter()
        .filter(|o| o.op == OpKind::CreateEphemeral && o.outcome != Outcome::Fail)
        .collect();
    let tried: HashSet<&str> = creates.iter().map(|o| o.path.as_str()).collect();
    let parents: BTreeSet<&str> = creates.iter().map(|o| parent(&o.path)).collect();
    for p in parents {
        let Some(list) = lists.get(p) else { continue };
        let children: HashSet<&str> = list.children.iter().flatten().map(String::as_str).collect();
        for op in creates
            .iter()
            .filter(|o| o.is_ok() && parent(&o.path) == p && o.end() < list.invoke_ns)
        {
            let present = children.contains(leaf(&op.path));
            let end = ended.get(&op.session);
            let gone_before = end.is_some_and(|e| e.end() < list.invoke_ns);
            let alive_after = ops.iter().find(|o| {
                o.session == op.session
                    && o.is_ok()
                    && o.op != OpKind::SessionEnd
                    && o.invoke_ns > list.end()
            });
            if gone_before && present {
                anomalies.push(Anomaly {
                    checker: "ephemeral",
                    path: op.path.clone(),
                    message: format!("still present after session {} ended", op.session),
                    ops: sorted(vec![
                        (*op).clone(),
                        (*end.unwrap()).clone(),
                        (*list).clone(),
                    ]),
                });
            }
            if let (Some(alive), false, false) = (alive_after, present, gone_before) {
                anomalies.push(Anomaly {
                    checker: "ephemeral",
                    path: op.path.clone(),
                    message: format!("missing while session {} lives", op.session),
                    ops: sorted(vec![(*op).clone(), (*list).clone(), alive.clone()]),
                });
            }
        }
        for c in &children {
            let full = crate::checks::join(p, c);
            if !tried.contains(full.as_str()) {
                anomalies.push(Anomaly {
                    checker: "ephemeral",
                    path: full,
                    message: "listed, but no session tried to create it".into(),
                    ops: vec![(*list).clone()],
                });
            }
        }
    }
    anomalies
}

fn join(parent: &str, child: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair, Builder, Kind};

    fn ops(b: &Builder) -> Vec<Op> {
        pair(&b.events)
    }

    #[test]
    fn monotonic_reads_pass_and_fail() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.read(2, 3, 1, false, "/r", "a", 1);
        b.read(2, 3, 2, false, "/r", "", 0); // another session may lag
        b.read(4, 5, 2, false, "/r", "a", 1);
        assert!(monotonic_reads(&ops(&b)).is_empty());
        // Going back after having read version 1.
        b.read(6, 7, 2, false, "/r", "", 0);
        let a = monotonic_reads(&ops(&b));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].checker, "monotonic-reads");
        assert_eq!(a[0].ops.len(), 2);
    }

    #[test]
    fn own_write_not_seen_fails() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.read(2, 3, 1, false, "/r", "", 0);
        assert!(!monotonic_reads(&ops(&b)).is_empty());
    }

    #[test]
    fn view_across_znodes_must_not_go_back() {
        // Session 2 saw /s at zxid 5, so its read of /r must include /r's write at zxid 3.
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        let id = b.invoke_with(0, 1, OpKind::Write, "/s", |e| e.value = Some("x".into()));
        b.complete(id, 1, Kind::Ok, |e| {
            e.version = Some(1);
            e.zxid = Some(5);
        });
        let id = b.invoke(2, 2, OpKind::Read, "/s");
        b.complete(id, 3, Kind::Ok, |e| {
            e.value = Some("x".into());
            e.version = Some(1);
            e.zxid = Some(5);
        });
        let stale = b.invoke(4, 2, OpKind::Read, "/r");
        b.complete(stale, 5, Kind::Ok, |e| {
            e.value = Some(String::new());
            e.version = Some(0);
            e.zxid = Some(0);
        });
        let a = monotonic_reads(&ops(&b));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].ops.len(), 3);
    }

    #[test]
    fn concurrent_operations_do_not_count_as_seen() {
        let mut b = Builder::default();
        b.write(0, 10, 1, "/r", "a", 1);
        b.read(5, 6, 1, false, "/r", "", 0); // pipelined, invoked before the write completed
        assert!(monotonic_reads(&ops(&b)).is_empty());
    }

    #[test]
    fn lost_writes_found() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 3, 2, "/r", "b", 1); // a second value at version 1
        assert_eq!(lost_writes(&ops(&b)).len(), 1);
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 3, 1, "/r", "b", 2);
        b.read(4, 5, 0, true, "/r", "a", 1); // the final read misses version 2
        let a = lost_writes(&ops(&b));
        assert_eq!(a.len(), 1);
        assert!(a[0].message.contains("newer than the last sync-read"));
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        b.write(2, 3, 1, "/r", "b", 2);
        b.read(4, 5, 0, true, "/r", "b", 2);
        assert!(lost_writes(&ops(&b)).is_empty());
    }

    fn create_seq(b: &mut Builder, t0: u64, t1: u64, s: u32, n: i64) {
        let id = b.invoke_with(t0, s, OpKind::CreateSeq, "/q/n-", |e| {
            e.value = Some("x".into())
        });
        b.complete(id, t1, Kind::Ok, |e| {
            e.name = Some(format!("/q/n-{n:010}"));
            e.zxid = Some(n);
        });
    }

    fn list(b: &mut Builder, t0: u64, t1: u64, path: &str, children: &[&str]) {
        let id = b.invoke(t0, 0, OpKind::List, path);
        b.complete(id, t1, Kind::Ok, |e| {
            e.children = Some(children.iter().map(|c| c.to_string()).collect())
        });
    }

    #[test]
    fn sequential_names() {
        let mut b = Builder::default();
        create_seq(&mut b, 0, 1, 1, 0);
        create_seq(&mut b, 2, 5, 1, 2);
        create_seq(&mut b, 3, 4, 2, 1); // concurrent with the one before: either order
        list(
            &mut b,
            10,
            11,
            "/q",
            &["n-0000000000", "n-0000000001", "n-0000000002"],
        );
        assert!(sequential(&ops(&b)).is_empty());
        assert!(lost_writes(&ops(&b)).is_empty());
        create_seq(&mut b, 6, 7, 3, 2); // duplicate, and not increasing
        let a = sequential(&ops(&b));
        assert_eq!(a.len(), 2, "{a:?}");
        // A create missing from the final listing.
        let mut b = Builder::default();
        create_seq(&mut b, 0, 1, 1, 0);
        create_seq(&mut b, 2, 3, 1, 1);
        list(&mut b, 10, 11, "/q", &["n-0000000001"]);
        assert_eq!(lost_writes(&ops(&b)).len(), 1);
    }

    fn create_eph(b: &mut Builder, t: u64, s: u32, path: &str) {
        let id = b.invoke(t, s, OpKind::CreateEphemeral, path);
        b.complete(id, t + 1, Kind::Ok, |e| e.zxid = Some(t as i64));
    }

    fn session_end(b: &mut Builder, t: u64, s: u32) {
        let id = b.invoke(t, s, OpKind::SessionEnd, "/");
        b.complete(id, t, Kind::Ok, |e| e.error = Some("expired".into()));
    }

    #[test]
    fn ephemerals_follow_their_session() {
        let good = |b: &mut Builder| {
            create_eph(b, 0, 1, "/e/s1-0");
            create_eph(b, 0, 2, "/e/s2-0");
            session_end(b, 5, 2);
        };
        let mut b = Builder::default();
        good(&mut b);
        list(&mut b, 10, 11, "/e", &["s1-0"]);
        b.read(12, 13, 1, false, "/r", "", 0); // session 1 is alive after the listing
        assert!(ephemerals(&ops(&b)).is_empty());
        // The expired session's node still there.
        let mut b = Builder::default();
        good(&mut b);
        list(&mut b, 10, 11, "/e", &["s1-0", "s2-0"]);
        assert_eq!(ephemerals(&ops(&b)).len(), 1);
        // The live session's node gone.
        let mut b = Builder::default();
        good(&mut b);
        list(&mut b, 10, 11, "/e", &[]);
        b.read(12, 13, 1, false, "/r", "", 0);
        let a = ephemerals(&ops(&b));
        assert_eq!(a.len(), 1);
        assert!(a[0].message.contains("missing while session 1 lives"));
        // A node nobody created.
        let mut b = Builder::default();
        good(&mut b);
        list(&mut b, 10, 11, "/e", &["s1-0", "s9-9"]);
        assert_eq!(ephemerals(&ops(&b)).len(), 1);
    }

    #[test]
    fn check_summarises() {
        let mut b = Builder::default();
        b.write(0, 1, 1, "/r", "a", 1);
        let id = b.invoke_with(2, 1, OpKind::Write, "/r", |e| e.value = Some("b".into()));
        b.complete(id, 3, Kind::Info, |_| {});
        let id = b.invoke_with(4, 1, OpKind::Cas, "/r", |e| {
            e.value = Some("c".into());
            e.version = Some(7);
        });
        b.complete(id, 5, Kind::Fail, |e| e.error = Some("bad-version".into()));
        let r = crate::check(&b.events);
        assert_eq!((r.ops, r.ok, r.failed, r.indeterminate), (3, 1, 1, 1));
        assert!(r.anomalies.is_empty());
    }
}
