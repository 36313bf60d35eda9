//! The names of things: ledgers, entries and bookies.

/// A ledger's id, allocated from a sequential znode (so ids are unique and never reused).
pub type LedgerId = u64;

/// An entry's position in its ledger, counted from 0.
pub type EntryId = u64;

/// A bookie's id, as given by `quorum bookie --id N` and registered under `/ledgers/bookies/N`.
pub type BookieId = u32;
