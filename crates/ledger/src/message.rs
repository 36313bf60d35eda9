//! What clients (writers, readers, recoveries) and bookies say to each other.
//!
//! These are the protocol's messages as values; `wire` turns them into bytes for TCP, and the
//! simulator passes them as they are. Every request carries a `tag` chosen by the sender, echoed
//! in its response, so a client can keep many requests in flight on one connection and match
//! answers that arrive in any order.

use crate::ids::{EntryId, LedgerId};

/// A request to one bookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Store entry `entry` of `ledger`. `lac` is the writer's last-add-confirmed when it sent
    /// the entry (piggybacked so that bookies, and through them readers, learn how far the
    /// ledger is safe to read). A `recovery` add is a recovering client writing an entry back
    /// to its write quorum: it is accepted on a fenced ledger, an ordinary add is not.
    Add {
        tag: u64,
        ledger: LedgerId,
        entry: EntryId,
        lac: Option<EntryId>,
        payload: Vec<u8>,
        recovery: bool,
    },
    /// Read entry `entry` of `ledger`. With `fence`, the ledger is fenced (and the fence made
    /// durable) before the answer: recovery reads must fence, or an add still in flight could
    /// reach its ack quorum after recovery read past it (the BookKeeper 4.11 TLA+ finding).
    Read {
        tag: u64,
        ledger: LedgerId,
        entry: EntryId,
        fence: bool,
    },
    /// The bookie's last-add-confirmed for `ledger` (the largest LAC piggybacked on any entry
    /// it stores). With `fence`, fences the ledger first; this is recovery's first step.
    ReadLac {
        tag: u64,
        ledger: LedgerId,
        fence: bool,
    },
}

impl Request {
    /// The sender's tag, echoed in the response.
    pub fn tag(&self) -> u64 {
        match self {
            Request::Add { tag, .. } | Request::Read { tag, .. } | Request::ReadLac { tag, .. } => {
                *tag
            }
        }
    }

    /// The ledger the request is about.
    pub fn ledger(&self) -> LedgerId {
        match self {
            Request::Add { ledger, .. }
            | Request::Read { ledger, .. }
            | Request::ReadLac { ledger, .. } => *ledger,
        }
    }
}

/// Why a bookie refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The ledger is fenced: a recovery has started and this writer has been superseded. A
    /// writer treats it as final and stops.
    Fenced,
    /// The bookie has no such entry (for reads).
    NoEntry,
    /// The bookie knows nothing of this ledger (for reads and LAC reads without fence).
    NoLedger,
    /// The bookie cannot take more work now (a bound was reached); try later or elsewhere.
    TooBusy,
    /// The bookie failed to write or read its store; it is shutting down.
    StoreFailed,
    /// The request was malformed (for example a payload over the bookie's limit).
    BadRequest,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::Fenced,
        Refusal::NoEntry,
        Refusal::NoLedger,
        Refusal::TooBusy,
        Refusal::StoreFailed,
        Refusal::BadRequest,
    ];

    /// The code used on the wire and in logs.
    pub fn code(self) -> u8 {
        match self {
            Refusal::Fenced => 1,
            Refusal::NoEntry => 2,
            Refusal::NoLedger => 3,
            Refusal::TooBusy => 4,
            Refusal::StoreFailed => 5,
            Refusal::BadRequest => 6,
        }
    }

    pub fn from_code(code: u8) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Refusal::Fenced => "FENCED",
            Refusal::NoEntry => "NO_ENTRY",
            Refusal::NoLedger => "NO_LEDGER",
            Refusal::TooBusy => "TOO_BUSY",
            Refusal::StoreFailed => "STORE_FAILED",
            Refusal::BadRequest => "BAD_REQUEST",
        }
    }
}

/// A bookie's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The entry is durable on this bookie.
    Added {
        tag: u64,
        ledger: LedgerId,
        entry: EntryId,
    },
    /// The entry, with the LAC that was stored with it.
    Entry {
        tag: u64,
        ledger: LedgerId,
        entry: EntryId,
        lac: Option<EntryId>,
        payload: Vec<u8>,
    },
    /// The bookie's LAC for the ledger, and the largest entry id it stores (recovery uses both:
    /// it reads forward from the largest LAC, and knows where entries end).
    Lac {
        tag: u64,
        ledger: LedgerId,
        lac: Option<EntryId>,
        last_entry: Option<EntryId>,
    },
    /// The request was refused.
    Refused {
        tag: u64,
        ledger: LedgerId,
        why: Refusal,
    },
}

impl Response {
    /// The tag of the request this answers.
    pub fn tag(&self) -> u64 {
        match self {
            Response::Added { tag, .. }
            | Response::Entry { tag, .. }
            | Response::Lac { tag, .. }
            | Response::Refused { tag, .. } => *tag,
        }
    }
}
