//! The bookie's rules, as a pure state machine: what it stores, when it refuses, and when it may
//! answer.
//!
//! A bookie is deliberately simple — all replication logic is in the writer and in recovery —
//! but three rules here carry the protocol's safety:
//! - **A fenced ledger refuses ordinary adds**, forever (the fence is persisted): that is how a
//!   recovering client stops the old writer. A fence on a ledger the bookie has never seen still
//!   counts, so an add that arrives after the fence is refused even if it is the first.
//! - **Answers wait for durability.** An add is acknowledged, a fence reported, an entry or LAC
//!   returned only once every record written before the answer was decided is durable
//!   ([`Bookie::durable`]). What a bookie has said is never more than what it remembers after a
//!   crash.
//! - **The LAC only grows**: it is the largest LAC piggybacked on any stored entry.
//!
//! The driver (the bookie server, or the simulator) keeps one rule: it executes
//! [`Action::Persist`] in order, makes each record visible to [`EntryReader`] before it hands the
//! bookie its next request, and reports with [`Bookie::durable`] how far the records are on
//! stable storage.

use std::collections::{HashMap, VecDeque};

use crate::ids::{EntryId, LedgerId};
use crate::message::{Refusal, Request, Response};

/// What a bookie knows about one ledger without reading entries: small enough to keep every
/// ledger's in memory, and rebuilt from the store at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LedgerFacts {
    /// A recovery has fenced the ledger here; ordinary adds are refused.
    pub fenced: bool,
    /// The largest LAC carried by any entry stored here.
    pub lac: Option<EntryId>,
    /// The largest entry id stored here.
    pub last_entry: Option<EntryId>,
}

/// A record the bookie asks its store to write. Records are numbered from 1 in the order they
/// are issued; [`Bookie::durable`] reports durability by that number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Entry {
        ledger: LedgerId,
        entry: EntryId,
        lac: Option<EntryId>,
        payload: Vec<u8>,
    },
    Fence {
        ledger: LedgerId,
    },
}

/// Read access to stored entries (the on-disk store, or the simulator's disk).
pub trait EntryReader {
    /// Entry `entry` of `ledger` with the LAC stored with it, `Ok(None)` if absent, `Err` if
    /// the store failed (the bookie then answers `StoreFailed`).
    #[allow(clippy::type_complexity)]
    fn read_entry(
        &self,
        ledger: LedgerId,
        entry: EntryId,
    ) -> Result<Option<(Option<EntryId>, Vec<u8>)>, String>;
}

/// What the bookie asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<C> {
    /// Write `record` as number `seq`, after every earlier one.
    Persist { seq: u64, record: Record },
    /// Send `response` to the client `to`.
    Reply { to: C, response: Response },
}

/// Bounds on what one bookie keeps in memory.
#[derive(Clone, Copy, Debug)]
pub struct BookieLimits {
    /// Ledgers whose facts are kept; a request that would add one more is refused `TooBusy`.
    pub max_ledgers: usize,
    /// Answers held back waiting for durability; beyond it requests are refused `TooBusy`.
    pub max_held_replies: usize,
    /// Payload bytes of the entries in held answers (reads waiting behind writes); beyond it
    /// requests are refused `TooBusy`, so pipelined reads of large entries cannot pile up.
    pub max_held_bytes: usize,
}

impl Default for BookieLimits {
    fn default() -> Self {
        BookieLimits {
            max_ledgers: 1_000_000,
            max_held_replies: 100_000,
            max_held_bytes: 256 << 20,
        }
    }
}

/// One bookie's protocol state. `C` names a client connection (the driver's choice).
#[derive(Debug)]
pub struct Bookie<C> {
    ledgers: HashMap<LedgerId, LedgerFacts>,
    limits: BookieLimits,
    /// Number of the last record issued.
    issued_seq: u64,
    /// Records up to this number are durable.
    durable_seq: u64,
    /// Answers waiting for a record number to become durable, in issue order (so the numbers
    /// they wait for never decrease).
    held: VecDeque<(u64, C, Response)>,
    /// Payload bytes in `held`.
    held_bytes: usize,
}

impl<C> Bookie<C> {
    /// A bookie restarted from its store: `facts` for every ledger it holds, and the number of
    /// the last record on disk (all durable).
    pub fn restore(
        facts: impl IntoIterator<Item = (LedgerId, LedgerFacts)>,
        last_seq: u64,
        limits: BookieLimits,
    ) -> Bookie<C> {
        Bookie {
            ledgers: facts.into_iter().collect(),
            limits,
            issued_seq: last_seq,
            durable_seq: last_seq,
            held: VecDeque::new(),
            held_bytes: 0,
        }
    }

    /// A bookie with an empty store.
    pub fn new(limits: BookieLimits) -> Bookie<C> {
        Bookie::restore([], 0, limits)
    }

    /// What the bookie knows about `ledger`.
    pub fn facts(&self, ledger: LedgerId) -> Option<LedgerFacts> {
        self.ledgers.get(&ledger).copied()
    }

    /// Number of ledgers known.
    pub fn ledger_count(&self) -> usize {
        self.ledgers.len()
    }

    /// Number of the last record issued (the driver's store must reach it before it is durable).
    pub fn issued_seq(&self) -> u64 {
        self.issued_seq
    }

    /// Answers still waiting for durability.
    pub fn held_replies(&self) -> usize {
        self.held.len()
    }

    /// Handles one request from `from`.
    pub fn handle(
        &mut self,
        from: C,
        request: Request,
        store: &impl EntryReader,
    ) -> Vec<Action<C>> {
        let tag = request.tag();
        let ledger = request.ledger();
        let mut actions = Vec::new();
        if self.held.len() >= self.limits.max_held_replies
            || self.held_bytes >= self.limits.max_held_bytes
            || (!self.ledgers.contains_key(&ledger)
                && self.ledgers.len() >= self.limits.max_ledgers)
        {
            let response = Response::Refused {
                tag,
                ledger,
                why: Refusal::TooBusy,
            };
            actions.push(Action::Reply { to: from, response });
            return actions;
        }
        let answer = match request {
            Request::Add {
                entry,
                lac,
                payload,
                recovery,
                ..
            } => self.add(ledger, entry, lac, payload, recovery, tag, &mut actions),
            Request::Read { entry, fence, .. } => {
                self.fence_if(ledger, fence, &mut actions);
                self.read(ledger, entry, tag, store)
            }
            Request::ReadLac { fence, .. } => {
                self.fence_if(ledger, fence, &mut actions);
                match self.ledgers.get(&ledger) {
                    Some(facts) => Response::Lac {
                        tag,
                        ledger,
                        lac: facts.lac,
                        last_entry: facts.last_entry,
                    },
                    None => Response::Refused {
                        tag,
                        ledger,
                        why: Refusal::NoLedger,
                    },
                }
            }
        };
        self.answer(from, answer, &mut actions);
        actions
    }

    /// Records up to `seq` are durable: releases the answers that waited for them.
    pub fn durable(&mut self, seq: u64) -> Vec<Action<C>> {
        assert!(
            seq <= self.issued_seq,
            "durable {seq} beyond issued {}",
            self.issued_seq
        );
        self.durable_seq = self.durable_seq.max(seq);
        let mut actions = Vec::new();
        while self
            .held
            .front()
            .is_some_and(|(need, _, _)| *need <= self.durable_seq)
        {
            let (_, to, response) = self.held.pop_front().expect("checked non-empty");
            self.held_bytes -= payload_bytes(&response);
            actions.push(Action::Reply { to, response });
        }
        actions
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        ledger: LedgerId,
        entry: EntryId,
        lac: Option<EntryId>,
        payload: Vec<u8>,
        recovery: bool,
        tag: u64,
        actions: &mut Vec<Action<C>>,
    ) -> Response {
        let facts = self.ledgers.entry(ledger).or_default();
        if facts.fenced && !recovery {
            return Response::Refused {
                tag,
                ledger,
                why: Refusal::Fenced,
            };
        }
        facts.lac = facts.lac.max(lac);
        facts.last_entry = facts.last_entry.max(Some(entry));
        let record = Record::Entry {
            ledger,
            entry,
            lac,
            payload,
        };
        self.persist(record, actions);
        Response::Added { tag, ledger, entry }
    }

    fn read(
        &self,
        ledger: LedgerId,
        entry: EntryId,
        tag: u64,
        store: &impl EntryReader,
    ) -> Response {
        if !self.ledgers.contains_key(&ledger) {
            return Response::Refused {
                tag,
                ledger,
                why: Refusal::NoLedger,
            };
        }
        match store.read_entry(ledger, entry) {
            Ok(Some((lac, payload))) => Response::Entry {
                tag,
                ledger,
                entry,
                lac,
                payload,
            },
            Ok(None) => Response::Refused {
                tag,
                ledger,
                why: Refusal::NoEntry,
            },
            Err(_) => Response::Refused {
                tag,
                ledger,
                why: Refusal::StoreFailed,
            },
        }
    }

    /// Fences `ledger` (persisting the fence) if asked to and not fenced yet.
    fn fence_if(&mut self, ledger: LedgerId, fence: bool, actions: &mut Vec<Action<C>>) {
        if !fence {
            return;
        }
        let facts = self.ledgers.entry(ledger).or_default();
        if !facts.fenced {
            facts.fenced = true;
            self.persist(Record::Fence { ledger }, actions);
        }
    }

    fn persist(&mut self, record: Record, actions: &mut Vec<Action<C>>) {
        self.issued_seq += 1;
        actions.push(Action::Persist {
            seq: self.issued_seq,
            record,
        });
    }

    /// Sends `response` once everything issued so far is durable (at once if it already is).
    /// Refusals that depend on nothing written could go at once, but holding every answer behind
    /// the writes before it keeps each connection's answers in a simple causal order.
    fn answer(&mut self, to: C, response: Response, actions: &mut Vec<Action<C>>) {
        if self.issued_seq <= self.durable_seq && self.held.is_empty() {
            actions.push(Action::Reply { to, response });
        } else {
            self.held_bytes += payload_bytes(&response);
            self.held.push_back((self.issued_seq, to, response));
        }
    }
}

/// Entry bytes an answer carries.
fn payload_bytes(response: &Response) -> usize {
    match response {
        Response::Entry { payload, .. } => payload.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Mem(BTreeMap<(LedgerId, EntryId), (Option<EntryId>, Vec<u8>)>);

    impl EntryReader for Mem {
        fn read_entry(
            &self,
            ledger: LedgerId,
            entry: EntryId,
        ) -> Result<Option<(Option<EntryId>, Vec<u8>)>, String> {
            Ok(self.0.get(&(ledger, entry)).cloned())
        }
    }

    fn apply(store: &mut Mem, actions: &[Action<u8>]) -> (u64, Vec<Response>) {
        let mut last = 0;
        let mut replies = Vec::new();
        for action in actions {
            match action {
                Action::Persist { seq, record } => {
                    last = *seq;
                    if let Record::Entry {
                        ledger,
                        entry,
                        lac,
                        payload,
                    } = record
                    {
                        store.0.insert((*ledger, *entry), (*lac, payload.clone()));
                    }
                }
                Action::Reply { response, .. } => replies.push(response.clone()),
            }
        }
        (last, replies)
    }

    fn add(tag: u64, entry: EntryId, lac: Option<EntryId>, recovery: bool) -> Request {
        Request::Add {
            tag,
            ledger: 7,
            entry,
            lac,
            payload: vec![entry as u8],
            recovery,
        }
    }

    #[test]
    fn an_add_is_acknowledged_only_once_durable() {
        let mut store = Mem::default();
        let mut bookie = Bookie::new(BookieLimits::default());
        let actions = bookie.handle(1, add(1, 0, None, false), &store);
        let (seq, replies) = apply(&mut store, &actions);
        assert!(replies.is_empty(), "answered before durable: {replies:?}");
        let released = bookie.durable(seq);
        assert_eq!(
            released,
            vec![Action::Reply {
                to: 1,
                response: Response::Added {
                    tag: 1,
                    ledger: 7,
                    entry: 0
                }
            }]
        );
    }

    #[test]
    fn a_fence_refuses_later_adds_but_not_recovery_adds_and_keeps_the_largest_lac() {
        let mut store = Mem::default();
        let mut bookie = Bookie::new(BookieLimits::default());
        let actions = bookie.handle(1, add(1, 0, None, false), &store);
        let (seq, _) = apply(&mut store, &actions);
        bookie.durable(seq);
        let actions = bookie.handle(1, add(2, 1, Some(0), false), &store);
        let (seq, _) = apply(&mut store, &actions);
        bookie.durable(seq);
        let actions = bookie.handle(
            2,
            Request::ReadLac {
                tag: 3,
                ledger: 7,
                fence: true,
            },
            &store,
        );
        let (seq, _) = apply(&mut store, &actions);
        let released = bookie.durable(seq);
        assert_eq!(
            released,
            vec![Action::Reply {
                to: 2,
                response: Response::Lac {
                    tag: 3,
                    ledger: 7,
                    lac: Some(0),
                    last_entry: Some(1)
                }
            }]
        );
        let refused = bookie.handle(1, add(4, 2, Some(1), false), &store);
        assert_eq!(
            refused,
            vec![Action::Reply {
                to: 1,
                response: Response::Refused {
                    tag: 4,
                    ledger: 7,
                    why: Refusal::Fenced
                }
            }]
        );
        let recovery = bookie.handle(2, add(5, 2, Some(1), true), &store);
        assert!(matches!(recovery[0], Action::Persist { .. }));
    }

    #[test]
    fn a_fence_on_an_unknown_ledger_is_remembered() {
        let store = Mem::default();
        let mut bookie: Bookie<u8> = Bookie::new(BookieLimits::default());
        let actions = bookie.handle(
            2,
            Request::Read {
                tag: 1,
                ledger: 9,
                entry: 0,
                fence: true,
            },
            &store,
        );
        assert!(matches!(
            actions[0],
            Action::Persist {
                record: Record::Fence { ledger: 9 },
                ..
            }
        ));
        let refused = bookie.handle(
            1,
            Request::Add {
                tag: 2,
                ledger: 9,
                entry: 0,
                lac: None,
                payload: vec![],
                recovery: false,
            },
            &store,
        );
        assert!(refused.is_empty(), "held behind the fence's write");
        let released = bookie.durable(1);
        assert_eq!(released.len(), 2);
        assert!(matches!(
            &released[1],
            Action::Reply {
                response: Response::Refused {
                    why: Refusal::Fenced,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn ledgers_beyond_the_limit_are_refused() {
        let store = Mem::default();
        let limits = BookieLimits {
            max_ledgers: 1,
            max_held_replies: 10,
            max_held_bytes: 1 << 20,
        };
        let mut bookie: Bookie<u8> = Bookie::new(limits);
        bookie.handle(
            1,
            Request::ReadLac {
                tag: 1,
                ledger: 1,
                fence: true,
            },
            &store,
        );
        let refused = bookie.handle(
            1,
            Request::ReadLac {
                tag: 2,
                ledger: 2,
                fence: true,
            },
            &store,
        );
        assert!(matches!(
            &refused[0],
            Action::Reply {
                response: Response::Refused {
                    why: Refusal::TooBusy,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn reads_waiting_behind_writes_are_bounded_by_their_bytes() {
        let mut store = Mem::default();
        let limits = BookieLimits {
            max_ledgers: 10,
            max_held_replies: 1000,
            max_held_bytes: 2000,
        };
        let mut bookie: Bookie<u8> = Bookie::new(limits);
        let big = |tag, entry| Request::Add {
            tag,
            ledger: 7,
            entry,
            lac: None,
            payload: vec![0; 1500],
            recovery: false,
        };
        let actions = bookie.handle(1, big(1, 0), &store);
        let (seq, _) = apply(&mut store, &actions);
        bookie.durable(seq);
        // A write not yet durable holds the reads behind it.
        let actions = bookie.handle(1, big(2, 1), &store);
        apply(&mut store, &actions);
        let read = |tag| Request::Read {
            tag,
            ledger: 7,
            entry: 0,
            fence: false,
        };
        assert!(bookie.handle(2, read(3), &store).is_empty(), "held");
        assert!(
            bookie.handle(2, read(4), &store).is_empty(),
            "held: 1500 bytes so far"
        );
        let refused = bookie.handle(2, read(5), &store);
        assert!(matches!(
            &refused[0],
            Action::Reply {
                response: Response::Refused {
                    why: Refusal::TooBusy,
                    ..
                },
                ..
            }
        ));
        assert_eq!(bookie.durable(bookie.issued_seq()).len(), 3);
        assert_eq!(bookie.held_replies(), 0);
        assert_eq!(
            bookie.handle(2, read(6), &store).len(),
            1,
            "answered at once again"
        );
    }
}
