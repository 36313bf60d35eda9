//! Candidate wait-free consensus protocols for [`crate::model::check`].
//!
//! [`kv_library`]: protocols that use only unconditional put, get and delete. Each looks
//! plausible; the checker finds a schedule breaking each one (Herlihy: read/write registers
//! have consensus number 1, so every such protocol has one — we show it for these).
//!
//! [`cas_library`]: the conditional-write protocols, which the checker proves correct for the
//! process counts it is given, including lost replies. [`cas_broken`]: a conditional-write
//! protocol that mishandles a lost reply, for contrast.
//!
//! In the code below `mine` is the process's proposal and `d` the decision key.

use crate::model::{
    slot, Action, Ctx, Local, Op, Protocol, Val, CREATED, CTR, D, EMPTY, LOCK, LOST,
};

/// `pc` value meaning "decide register 0".
const DONE: u8 = 200;

fn decided_or(local: &Local, op: Op) -> Action {
    if local.pc == DONE {
        Action::Decide(local.r[0])
    } else {
        Action::Do(op)
    }
}

/// 1. Write, then read what is there.
pub struct WriteThenRead;
impl Protocol for WriteThenRead {
    fn name(&self) -> &'static str {
        "write-then-read"
    }
    fn code(&self) -> &'static str {
        "put(d, mine); v := get(d); decide v"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Put(D, c.input)),
            1 => Action::Do(Op::Get(D)),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, _: Ctx, l: &mut Local, result: Val) {
        if l.pc == 1 {
            l.r[0] = result;
        }
        l.pc += 1;
    }
}

/// 2. First writer wins: read first, write only if empty.
pub struct ReadThenWrite;
impl Protocol for ReadThenWrite {
    fn name(&self) -> &'static str {
        "first-writer-wins"
    }
    fn code(&self) -> &'static str {
        "v := get(d); if v != empty { decide v } else { put(d, mine); decide mine }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Get(D)),
            1 => Action::Do(Op::Put(D, c.input)),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        match l.pc {
            0 if result != EMPTY => {
                l.r[0] = result;
                l.pc = DONE;
            }
            0 => l.pc = 1,
            _ => {
                l.r[0] = c.input;
                l.pc = DONE;
            }
        }
    }
}

/// 3. Read, write if empty, then read again and take whatever is there.
pub struct ReadWriteReread;
impl Protocol for ReadWriteReread {
    fn name(&self) -> &'static str {
        "read-write-reread"
    }
    fn code(&self) -> &'static str {
        "v := get(d); if v == empty { put(d, mine); v := get(d) }; decide v"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 | 2 => Action::Do(Op::Get(D)),
            1 => Action::Do(Op::Put(D, c.input)),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, _: Ctx, l: &mut Local, result: Val) {
        match l.pc {
            0 if result != EMPTY => {
                l.r[0] = result;
                l.pc = DONE;
            }
            0 => l.pc = 1,
            1 => l.pc = 2,
            _ => {
                l.r[0] = result;
                l.pc = DONE;
            }
        }
    }
}

/// 4. Per-process slots: announce, then take the lowest-numbered announced value.
pub struct SlotsReadAll;
impl Protocol for SlotsReadAll {
    fn name(&self) -> &'static str {
        "slots-then-read-all"
    }
    fn code(&self) -> &'static str {
        "put(slot[me], mine); for i in 0..n { v := get(slot[i]); if v != empty { decide v } }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Put(slot(c.pid), c.input)),
            DONE => Action::Decide(l.r[0]),
            i => Action::Do(Op::Get(slot(i as usize - 1))),
        }
    }
    fn observe(&self, _: Ctx, l: &mut Local, result: Val) {
        if l.pc > 0 && result != EMPTY {
            l.r[0] = result;
            l.pc = DONE;
        } else {
            // The own slot is always found, so this never runs past slot n-1.
            l.pc += 1;
        }
    }
}

/// 5. Per-process slots: announce, wait until every slot is filled, decide the smallest.
pub struct SlotsWaitAll;
impl Protocol for SlotsWaitAll {
    fn name(&self) -> &'static str {
        "slots-wait-for-all"
    }
    fn code(&self) -> &'static str {
        "put(slot[me], mine); repeat { read every slot } until none is empty; decide the smallest"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Put(slot(c.pid), c.input)),
            DONE => Action::Decide(l.r[0]),
            i => Action::Do(Op::Get(slot(i as usize - 1))),
        }
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        if l.pc == 0 {
            l.pc = 1;
            l.r[0] = Val::MAX;
            return;
        }
        if result == EMPTY {
            // Someone has not announced yet: sweep again.
            l.pc = 1;
            l.r[0] = Val::MAX;
            return;
        }
        l.r[0] = l.r[0].min(result);
        l.pc = if l.pc as usize == c.n { DONE } else { l.pc + 1 };
    }
}

/// 6. Sequence numbers: take a ticket from a counter; ticket 0 writes, the others read.
pub struct Tickets;
impl Protocol for Tickets {
    fn name(&self) -> &'static str {
        "sequence-numbers"
    }
    fn code(&self) -> &'static str {
        "t := get(ctr); put(ctr, t+1); if t == 0 { put(d, mine); decide mine } \
         else { repeat v := get(d) until v != empty; decide v }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Get(CTR)),
            // Counter values are stored as t+1 so that 0 stays "absent".
            1 => Action::Do(Op::Put(CTR, l.r[1] + 1)),
            2 => Action::Do(Op::Put(D, c.input)),
            3 => Action::Do(Op::Get(D)),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        match l.pc {
            0 => {
                l.r[1] = result;
                l.pc = 1;
            }
            1 => l.pc = if l.r[1] == EMPTY { 2 } else { 3 },
            2 => {
                l.r[0] = c.input;
                l.pc = DONE;
            }
            _ if result != EMPTY => {
                l.r[0] = result;
                l.pc = DONE;
            }
            _ => {}
        }
    }
}

/// 7. Write, read, and write back what was read (to make everyone converge on it).
pub struct WriteReadWriteBack;
impl Protocol for WriteReadWriteBack {
    fn name(&self) -> &'static str {
        "write-read-write-back"
    }
    fn code(&self) -> &'static str {
        "put(d, mine); v := get(d); put(d, v); decide v"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Put(D, c.input)),
            1 => Action::Do(Op::Get(D)),
            2 => Action::Do(Op::Put(D, l.r[0])),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, _: Ctx, l: &mut Local, result: Val) {
        if l.pc == 1 {
            l.r[0] = result;
        }
        l.pc += 1;
    }
}

/// 8. Last writer wins, decided only once two reads in a row agree.
pub struct LastWriterRecheck;
impl Protocol for LastWriterRecheck {
    fn name(&self) -> &'static str {
        "last-writer-wins-recheck"
    }
    fn code(&self) -> &'static str {
        "put(d, mine); repeat { v := get(d); w := get(d) } until v == w; decide v"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        match l.pc {
            0 => Action::Do(Op::Put(D, c.input)),
            1 | 2 => Action::Do(Op::Get(D)),
            _ => Action::Decide(l.r[0]),
        }
    }
    fn observe(&self, _: Ctx, l: &mut Local, result: Val) {
        match l.pc {
            0 => l.pc = 1,
            1 => {
                l.r[0] = result;
                l.pc = 2;
            }
            _ if result == l.r[0] => l.pc = DONE,
            _ => l.pc = 1,
        }
    }
}

/// 9. A lock: whoever holds it writes the decision and releases it; the others wait for it.
pub struct LockThenWrite;
impl Protocol for LockThenWrite {
    fn name(&self) -> &'static str {
        "lock-write-unlock"
    }
    fn code(&self) -> &'static str {
        "v := get(d); if v != empty { decide v }; if get(lock) == empty { put(lock, me); \
         if get(lock) == me { put(d, mine); delete(lock); decide mine } }; \
         repeat v := get(d) until v != empty; decide v"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        let me = c.pid as Val + 1;
        decided_or(
            l,
            match l.pc {
                0 | 6 => Op::Get(D),
                1 | 3 => Op::Get(LOCK),
                2 => Op::Put(LOCK, me),
                4 => Op::Put(D, c.input),
                _ => Op::Delete(LOCK),
            },
        )
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        let me = c.pid as Val + 1;
        l.pc = match l.pc {
            0 | 6 if result != EMPTY => {
                l.r[0] = result;
                DONE
            }
            0 => 1,
            1 if result == EMPTY => 2,
            1 => 6,
            2 => 3,
            3 if result == me => 4,
            3 => 6,
            4 => 5,
            5 => {
                l.r[0] = c.input;
                DONE
            }
            _ => 6,
        };
    }
}

/// 10. A fixed leader: P0 writes its proposal; everyone else waits to read it.
pub struct FixedLeader;
impl Protocol for FixedLeader {
    fn name(&self) -> &'static str {
        "fixed-leader"
    }
    fn code(&self) -> &'static str {
        "if me == P0 { put(d, mine); decide mine } else { repeat v := get(d) until v != empty; decide v }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        decided_or(
            l,
            if c.pid == 0 {
                Op::Put(D, c.input)
            } else {
                Op::Get(D)
            },
        )
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        if c.pid == 0 {
            l.r[0] = c.input;
            l.pc = DONE;
        } else if result != EMPTY {
            l.r[0] = result;
            l.pc = DONE;
        }
    }
}

/// The conditional write, as a compare-and-swap that returns the old value.
pub struct CasDecide;
impl Protocol for CasDecide {
    fn name(&self) -> &'static str {
        "cas-decide"
    }
    fn code(&self) -> &'static str {
        "repeat old := cas(d, expect empty, new mine) until the reply arrives; \
         decide (old == empty ? mine : old)"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        decided_or(
            l,
            Op::Cas {
                key: D,
                expect: EMPTY,
                new: c.input,
            },
        )
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        match result {
            LOST => {}
            EMPTY => {
                l.r[0] = c.input;
                l.pc = DONE;
            }
            old => {
                l.r[0] = old;
                l.pc = DONE;
            }
        }
    }
}

/// The conditional write as `quorum consensus propose` does it with ZooKeeper: create the
/// decision node; on NodeExists (someone's create, possibly our own whose reply was lost) read
/// it; on a lost reply try again.
pub struct CreateThenRead;
impl Protocol for CreateThenRead {
    fn name(&self) -> &'static str {
        "create-then-read"
    }
    fn code(&self) -> &'static str {
        "loop { match create(d, mine) { created => decide mine, NodeExists => { v := get(d); \
         if v != empty { decide v } }, lost => retry } }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        decided_or(
            l,
            match l.pc {
                0 => Op::Create(D, c.input),
                _ => Op::Get(D),
            },
        )
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        l.pc = match (l.pc, result) {
            (_, LOST) => l.pc,
            (0, CREATED) => {
                l.r[0] = c.input;
                DONE
            }
            (0, _) => 1,
            // The node is never deleted, so after NodeExists a read finds it.
            (_, EMPTY) => 0,
            (_, v) => {
                l.r[0] = v;
                DONE
            }
        };
    }
}

/// For contrast: create, and take a lost reply as "I won". A lost reply may hide a create that
/// never happened, so another process creates the node and decides its own value.
pub struct CreateAssumeWon;
impl Protocol for CreateAssumeWon {
    fn name(&self) -> &'static str {
        "create-assume-won-on-lost-reply"
    }
    fn code(&self) -> &'static str {
        "match create(d, mine) { created | lost => decide mine, NodeExists => decide get(d) }"
    }
    fn action(&self, c: Ctx, l: &Local) -> Action {
        decided_or(
            l,
            match l.pc {
                0 => Op::Create(D, c.input),
                _ => Op::Get(D),
            },
        )
    }
    fn observe(&self, c: Ctx, l: &mut Local, result: Val) {
        l.pc = match (l.pc, result) {
            (0, CREATED | LOST) => {
                l.r[0] = c.input;
                DONE
            }
            (0, _) => 1,
            (_, LOST | EMPTY) => 1,
            (_, v) => {
                l.r[0] = v;
                DONE
            }
        };
    }
}

/// The put/get/delete candidates, each broken by some schedule.
pub fn kv_library() -> Vec<&'static dyn Protocol> {
    vec![
        &WriteThenRead,
        &ReadThenWrite,
        &ReadWriteReread,
        &SlotsReadAll,
        &SlotsWaitAll,
        &Tickets,
        &WriteReadWriteBack,
        &LastWriterRecheck,
        &LockThenWrite,
        &FixedLeader,
    ]
}

/// The conditional-write protocols: no schedule breaks them.
pub fn cas_library() -> Vec<&'static dyn Protocol> {
    vec![&CasDecide, &CreateThenRead]
}

/// A conditional-write protocol with a wrong lost-reply rule, shown for contrast.
pub fn cas_broken() -> Vec<&'static dyn Protocol> {
    vec![&CreateAssumeWon]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{check, render, Config, Object, Violation};

    #[test]
    fn every_kv_protocol_has_a_counterexample_for_2_and_3_processes() {
        assert!(kv_library().len() >= 6);
        for n in [2, 3] {
            for p in kv_library() {
                let report = check(p, Config::new(Object::Kv, n));
                let c = report.counterexample.as_ref().unwrap_or_else(|| {
                    panic!("{} with {n} processes: no counterexample", p.name())
                });
                assert!(!c.schedule.is_empty());
                println!("{}", render(p, &report));
            }
        }
    }

    #[test]
    fn the_counterexamples_are_the_expected_kind() {
        let kind = |p: &dyn Protocol| {
            check(p, Config::new(Object::Kv, 2))
                .counterexample
                .unwrap()
                .violation
        };
        assert_eq!(kind(&WriteThenRead), Violation::Agreement);
        assert_eq!(kind(&ReadThenWrite), Violation::Agreement);
        assert_eq!(kind(&SlotsWaitAll), Violation::WaitFreedom);
        assert_eq!(kind(&FixedLeader), Violation::WaitFreedom);
    }

    #[test]
    fn cas_protocols_have_no_counterexample_for_2_and_3_processes() {
        for n in [2, 3] {
            for p in cas_library() {
                let report = check(p, Config::new(Object::Cas, n));
                assert!(report.counterexample.is_none(), "{}", render(p, &report));
                assert!(report.states > 10, "{}: {} states", p.name(), report.states);
            }
        }
    }

    #[test]
    fn a_lost_reply_taken_for_a_win_breaks_agreement() {
        for n in [2, 3] {
            let report = check(&CreateAssumeWon, Config::new(Object::Cas, n));
            let c = report.counterexample.expect("a counterexample");
            assert_eq!(c.violation, Violation::Agreement);
            assert!(c.schedule.iter().any(|l| l.contains("lost")));
        }
        // Without lost replies it is the correct protocol.
        let mut config = Config::new(Object::Cas, 3);
        config.lost_replies = 0;
        assert!(check(&CreateAssumeWon, config).counterexample.is_none());
    }

    #[test]
    fn the_checker_is_deterministic() {
        let a = check(&CreateThenRead, Config::new(Object::Cas, 3)).states;
        let b = check(&CreateThenRead, Config::new(Object::Cas, 3)).states;
        assert_eq!(a, b);
    }
}
