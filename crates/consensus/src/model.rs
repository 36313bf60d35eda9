//! An exhaustive model checker for wait-free consensus protocols over one shared object.
//!
//! `n` processes (P0, P1, …) share a store of small keys. Process `Pi` proposes the value `i+1`.
//! A protocol is a tiny program per process: at each point it either performs one operation on
//! the store (the atomic step) or decides a value. The checker explores, breadth first, every
//! interleaving of the processes' steps and every crash point (after any step, an undecided
//! process may stop forever), and optionally every lost reply (an operation whose reply never
//! arrives: it may or may not have taken effect; the process sees `LOST`). In every reachable
//! state it checks:
//! - agreement: no two processes decided different values;
//! - validity: every decided value is some process's proposal;
//! - wait-freedom: no process takes more than [`Config::step_bound`] steps of its own without
//!   deciding, whatever the others do (crash, stall or race).
//!
//! Breadth first, so the first violation found is one of the shortest schedules. Everything is
//! pure and deterministic: the same protocol gives the same counterexample and state count.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

/// A stored value or an operation's result. `EMPTY` is an absent key.
pub type Val = u8;
/// An absent key (ZooKeeper: no such node).
pub const EMPTY: Val = 0;
/// The result a process sees when the reply to its operation was lost.
pub const LOST: Val = 255;
/// [`Op::Create`]'s result: this call created the key.
pub const CREATED: Val = 101;
/// [`Op::Create`]'s result: the key already existed (ZooKeeper's NodeExists).
pub const EXISTS: Val = 102;

/// Number of keys in the model store.
pub const KEYS: usize = 16;
/// The decision key.
pub const D: u8 = 0;
/// A lock key.
pub const LOCK: u8 = 1;
/// A counter key.
pub const CTR: u8 = 2;
/// Process `i`'s own slot.
pub const fn slot(i: usize) -> u8 {
    10 + i as u8
}

/// The largest number of processes the checker takes.
pub const MAX_PROCESSES: usize = 4;

/// Which shared object the protocols may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// Unconditional put, get and delete only: a key-value store (read/write registers),
    /// ZooKeeper stripped of its conditional writes.
    Kv,
    /// The key-value store plus a conditional write (compare-and-swap, and ZooKeeper's create,
    /// which succeeds only if the node is absent).
    Cas,
}

impl Object {
    pub fn name(self) -> &'static str {
        match self {
            Object::Kv => "kv",
            Object::Cas => "cas",
        }
    }
}

/// One atomic operation on the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Returns the key's value (`EMPTY` if absent).
    Get(u8),
    /// Sets the key's value; returns `EMPTY`.
    Put(u8, Val),
    /// Removes the key; returns `EMPTY`.
    Delete(u8),
    /// If the key holds `expect`, sets it to `new`. Returns the value held before either way
    /// (so success is `result == expect`).
    Cas { key: u8, expect: Val, new: Val },
    /// ZooKeeper's create: sets the key only if it is absent; `CREATED` or `EXISTS`.
    Create(u8, Val),
}

impl Op {
    /// Whether the operation is conditional (not available on [`Object::Kv`]).
    pub fn conditional(self) -> bool {
        matches!(self, Op::Cas { .. } | Op::Create(..))
    }

    /// Applies the operation: the new store and the result.
    fn apply(self, store: &[Val; KEYS]) -> ([Val; KEYS], Val) {
        let mut next = *store;
        let result = match self {
            Op::Get(k) => store[k as usize],
            Op::Put(k, v) => {
                next[k as usize] = v;
                EMPTY
            }
            Op::Delete(k) => {
                next[k as usize] = EMPTY;
                EMPTY
            }
            Op::Cas { key, expect, new } => {
                let old = store[key as usize];
                if old == expect {
                    next[key as usize] = new;
                }
                old
            }
            Op::Create(k, v) => {
                if store[k as usize] == EMPTY {
                    next[k as usize] = v;
                    CREATED
                } else {
                    EXISTS
                }
            }
        };
        (next, result)
    }
}

/// A key's name in printed schedules.
pub fn key_name(key: u8) -> String {
    match key {
        D => "d".into(),
        LOCK => "lock".into(),
        CTR => "ctr".into(),
        k if k >= 10 => format!("slot{}", k - 10),
        k => format!("k{k}"),
    }
}

/// A value in printed schedules.
pub fn val_name(v: Val) -> String {
    match v {
        EMPTY => "empty".into(),
        LOST => "LOST".into(),
        CREATED => "created".into(),
        EXISTS => "NodeExists".into(),
        v => v.to_string(),
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Op::Get(k) => write!(f, "get({})", key_name(k)),
            Op::Put(k, v) => write!(f, "put({}, {})", key_name(k), val_name(v)),
            Op::Delete(k) => write!(f, "delete({})", key_name(k)),
            Op::Cas { key, expect, new } => write!(
                f,
                "cas({}, expect {}, new {})",
                key_name(key),
                val_name(expect),
                val_name(new)
            ),
            Op::Create(k, v) => write!(f, "create({}, {})", key_name(k), val_name(v)),
        }
    }
}

/// A process's private state: a program counter and a few registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    pub pc: u8,
    pub r: [Val; 3],
}

/// What a process does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// One atomic operation on the store (a step).
    Do(Op),
    /// Decide this value (local; not a step).
    Decide(Val),
}

/// Who a process is: its id, how many processes there are, and its proposal.
#[derive(Clone, Copy, Debug)]
pub struct Ctx {
    pub pid: usize,
    pub n: usize,
    pub input: Val,
}

/// A candidate consensus protocol.
pub trait Protocol: Sync {
    /// A short name (`write-then-read`).
    fn name(&self) -> &'static str;
    /// The program, in one or two lines of pseudo-code.
    fn code(&self) -> &'static str;
    /// What to do in `local` (which starts as `Local::default()`).
    fn action(&self, ctx: Ctx, local: &Local) -> Action;
    /// The result of the operation `action` returned; updates `local`.
    fn observe(&self, ctx: Ctx, local: &mut Local, result: Val);
}

/// What the checker explores.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub processes: usize,
    pub object: Object,
    /// A process that takes more steps than this without deciding breaks wait-freedom.
    pub step_bound: u8,
    /// How many of its replies each process may lose (0: none).
    pub lost_replies: u8,
}

impl Config {
    pub fn new(object: Object, processes: usize) -> Config {
        Config {
            processes,
            object,
            step_bound: 8,
            lost_replies: match object {
                Object::Kv => 0,
                Object::Cas => 2,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Status {
    Running,
    Decided(Val),
    Crashed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Proc {
    local: Local,
    steps: u8,
    losses: u8,
    status: Status,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    store: [Val; KEYS],
    procs: [Proc; MAX_PROCESSES],
}

/// One transition, for printing.
#[derive(Clone, Debug)]
enum Event {
    Start,
    Step {
        pid: usize,
        op: Op,
        /// What the process saw (`LOST` when the reply was lost).
        result: Val,
        /// What the object returned (differs from `result` when the reply was lost).
        actual: Val,
        /// `Some(took effect)` when the reply was lost.
        lost: Option<bool>,
        decided: Option<Val>,
    },
    Crash(usize),
}

/// Which property a schedule breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    Agreement,
    Validity,
    WaitFreedom,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Violation::Agreement => "agreement",
            Violation::Validity => "validity",
            Violation::WaitFreedom => "wait-freedom",
        })
    }
}

/// A schedule that breaks a property.
#[derive(Clone, Debug)]
pub struct Counterexample {
    pub violation: Violation,
    /// One line per transition, numbered from 1.
    pub schedule: Vec<String>,
    /// What went wrong at the end.
    pub verdict: String,
}

/// The outcome of checking one protocol.
#[derive(Clone, Debug)]
pub struct Report {
    pub protocol: &'static str,
    /// Distinct states reached (all of them when there is no counterexample).
    pub states: usize,
    pub counterexample: Option<Counterexample>,
}

/// Explores every schedule of `protocol` under `config`.
pub fn check(protocol: &dyn Protocol, config: Config) -> Report {
    let n = config.processes;
    assert!(
        (1..=MAX_PROCESSES).contains(&n),
        "1..={MAX_PROCESSES} processes"
    );
    let ctx = |pid: usize| Ctx {
        pid,
        n,
        input: pid as Val + 1,
    };
    let idle = Proc {
        local: Local::default(),
        steps: 0,
        losses: 0,
        status: Status::Crashed,
    };
    let mut init = State {
        store: [EMPTY; KEYS],
        procs: [idle; MAX_PROCESSES],
    };
    for pid in 0..n {
        let local = Local::default();
        init.procs[pid] = Proc {
            local,
            steps: 0,
            losses: 0,
            status: match protocol.action(ctx(pid), &local) {
                Action::Decide(v) => Status::Decided(v),
                Action::Do(_) => Status::Running,
            },
        };
    }

    // Every state reached, with the transition that first reached it.
    let mut seen: HashMap<State, usize> = HashMap::new();
    let mut nodes: Vec<(State, usize, Event)> = Vec::new();
    let mut queue = VecDeque::new();
    seen.insert(init.clone(), 0);
    nodes.push((init, 0, Event::Start));
    queue.push_back(0usize);

    while let Some(at) = queue.pop_front() {
        let state = nodes[at].0.clone();
        if let Some((violation, verdict)) = violated(&state, n, config.step_bound) {
            return Report {
                protocol: protocol.name(),
                states: nodes.len(),
                counterexample: Some(Counterexample {
                    violation,
                    schedule: schedule(&nodes, at, violation == Violation::WaitFreedom),
                    verdict,
                }),
            };
        }
        let mut successors: Vec<(State, Event)> = Vec::new();
        for pid in 0..n {
            let proc = state.procs[pid];
            if proc.status != Status::Running {
                continue;
            }
            // Crash point: stop forever here.
            let mut crashed = state.clone();
            crashed.procs[pid].status = Status::Crashed;
            successors.push((crashed, Event::Crash(pid)));

            let op = match protocol.action(ctx(pid), &proc.local) {
                Action::Do(op) => op,
                Action::Decide(_) => unreachable!("a running process has an operation to do"),
            };
            assert!(
                config.object == Object::Cas || !op.conditional(),
                "{}: {op} needs a conditional write, which the kv object does not have",
                protocol.name()
            );
            let (applied_store, result) = op.apply(&state.store);
            // The reply arrives; or (if the process may still lose one) it is lost after the
            // operation took effect, or the request was lost before it did.
            let mut outcomes = vec![(applied_store, result, None)];
            if proc.losses < config.lost_replies {
                outcomes.push((applied_store, LOST, Some(true)));
                if applied_store != state.store {
                    outcomes.push((state.store, LOST, Some(false)));
                }
            }
            for (store, seen_result, lost) in outcomes {
                let actual = if lost == Some(false) { EMPTY } else { result };
                let mut next = state.clone();
                next.store = store;
                let p = &mut next.procs[pid];
                protocol.observe(ctx(pid), &mut p.local, seen_result);
                p.steps += 1;
                if lost.is_some() {
                    p.losses += 1;
                }
                let decided = match protocol.action(ctx(pid), &p.local) {
                    Action::Decide(v) => {
                        p.status = Status::Decided(v);
                        Some(v)
                    }
                    Action::Do(_) => None,
                };
                successors.push((
                    next,
                    Event::Step {
                        pid,
                        op,
                        result: seen_result,
                        actual,
                        lost,
                        decided,
                    },
                ));
            }
        }
        for (next, event) in successors {
            if seen.contains_key(&next) {
                continue;
            }
            let index = nodes.len();
            seen.insert(next.clone(), index);
            nodes.push((next, at, event));
            queue.push_back(index);
        }
    }
    Report {
        protocol: protocol.name(),
        states: nodes.len(),
        counterexample: None,
    }
}

fn violated(state: &State, n: usize, bound: u8) -> Option<(Violation, String)> {
    let decided: Vec<(usize, Val)> = (0..n)
        .filter_map(|pid| match state.procs[pid].status {
            Status::Decided(v) => Some((pid, v)),
            _ => None,
        })
        .collect();
    for &(pid, v) in &decided {
        if v == EMPTY || v as usize > n {
            return Some((
                Violation::Validity,
                format!(
                    "P{pid} decided {}, which nobody proposed: validity is broken",
                    val_name(v)
                ),
            ));
        }
    }
    if let Some(&(a, va)) = decided.first() {
        if let Some(&(b, vb)) = decided.iter().find(|&&(_, v)| v != va) {
            return Some((
                Violation::Agreement,
                format!("P{a} decided {va} and P{b} decided {vb}: agreement is broken"),
            ));
        }
    }
    for pid in 0..n {
        let p = state.procs[pid];
        if p.status == Status::Running && p.steps > bound {
            return Some((
                Violation::WaitFreedom,
                format!(
                    "P{pid} has taken {} steps of its own (the bound is {bound}) and has not \
                     decided: it waits for processes that have crashed, and loops forever; \
                     wait-freedom is broken",
                    p.steps
                ),
            ));
        }
    }
    None
}

/// The transitions from the start to `nodes[at]`. With `crash_stalled`, every other process
/// still running at the end is shown crashing right after its last step (leaving it unscheduled
/// is the same schedule as far as everyone else can tell; the crash says why it never acts).
fn schedule(nodes: &[(State, usize, Event)], at: usize, crash_stalled: bool) -> Vec<String> {
    let last = &nodes[at].0;
    let mut events = Vec::new();
    let mut i = at;
    while i != 0 {
        events.push(nodes[i].2.clone());
        i = nodes[i].1;
    }
    events.reverse();
    if crash_stalled {
        let worst = (0..MAX_PROCESSES)
            .max_by_key(|&pid| match last.procs[pid].status {
                Status::Running => last.procs[pid].steps,
                _ => 0,
            })
            .unwrap_or(0);
        for pid in (0..MAX_PROCESSES).rev() {
            if pid == worst || last.procs[pid].status != Status::Running {
                continue;
            }
            let after = events
                .iter()
                .rposition(|e| matches!(e, Event::Step { pid: p, .. } if *p == pid))
                .map_or(0, |i| i + 1);
            events.insert(after, Event::Crash(pid));
        }
    }
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut line = format!("{:>3}. ", i + 1);
            match *e {
                Event::Start => {}
                Event::Crash(pid) => {
                    let _ = write!(line, "P{pid} crashes (stops forever)");
                }
                Event::Step {
                    pid,
                    op,
                    result,
                    actual,
                    lost,
                    decided,
                } => {
                    let _ = write!(line, "P{pid} {op}");
                    let quiet = matches!(op, Op::Put(..) | Op::Delete(_));
                    match lost {
                        Some(true) if quiet => {
                            line.push_str(" -> took effect, but the reply is lost")
                        }
                        Some(true) => {
                            let _ = write!(line, " -> {}, but the reply is lost", val_name(actual));
                        }
                        Some(false) => line.push_str(" -> lost before it took effect"),
                        None if quiet => {}
                        None => {
                            let _ = write!(line, " -> {}", val_name(result));
                        }
                    }
                    if let Some(v) = decided {
                        let _ = write!(line, "; P{pid} decides {v}");
                    }
                }
            }
            line
        })
        .collect()
}

/// The report as `quorum consensus search` prints it.
pub fn render(protocol: &dyn Protocol, report: &Report) -> String {
    let mut out = format!("protocol {}: {}\n", protocol.name(), protocol.code());
    match &report.counterexample {
        Some(c) => {
            let _ = writeln!(
                out,
                "  BROKEN ({}), after {} states; a shortest schedule:",
                c.violation, report.states
            );
            for line in &c.schedule {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(out, "    => {}", c.verdict);
        }
        None => {
            let _ = writeln!(
                out,
                "  no schedule breaks agreement, validity or wait-freedom: {} states explored \
                 (every interleaving, crash point and lost reply)",
                report.states
            );
        }
    }
    out
}
