//! The single writer of one ledger, as a pure state machine.
//!
//! Entry e goes to the Qw bookies of its write set and is *acknowledged* to the application once
//! Qa of them have it durably and every earlier entry is acknowledged; the LAC (the last entry
//! acknowledged) rides on every add. When the driver judges a bookie failed, the writer alone
//! changes the ensemble: it picks a replacement for the same position, CASes a fragment starting
//! at the first unacknowledged entry into the metadata, and re-sends the unacknowledged entries
//! to their new write sets. A FENCED refusal, or metadata found no longer OPEN, means a recovery
//! has superseded this writer: its pending entries fail and it stops.
//!
//! While an ensemble change is in flight, acknowledgements are counted against the *new*
//! ensemble (the replaced bookie's acks are dropped at once): an entry acknowledged then has Qa
//! copies on bookies that both the old and the new metadata name, whichever CAS wins.

use std::collections::{BTreeMap, BTreeSet};

use crate::bug::{Bug, Injected};
use crate::cas::CasResult;
use crate::ids::{BookieId, EntryId, LedgerId};
use crate::message::{Refusal, Request, Response};
use crate::metadata::{Fragment, LedgerMetadata, LedgerState};
use crate::striping::write_set;

/// How a writer is set up.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    pub ledger: LedgerId,
    /// Entries appended but not yet acknowledged; an append beyond it is refused, so a slow
    /// ensemble bounds the writer's memory instead of growing it.
    pub max_pending_entries: usize,
    pub injected: Injected,
}

/// What the driver feeds the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriterInput {
    /// The application appends an entry.
    Append(Vec<u8>),
    /// A bookie answered.
    Response { from: BookieId, response: Response },
    /// The driver judges `bookie` failed (timed out); `candidates` are bookies it may use as a
    /// replacement (the writer picks the smallest id not in the ensemble nor known failed).
    BookieFailed {
        bookie: BookieId,
        candidates: Vec<BookieId>,
    },
    /// The outcome of the writer's last [`WriterAction::Cas`].
    Cas(CasResult),
    /// The application closes the ledger (after its pending entries are acknowledged).
    Close,
}

/// Why an append was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendRefusal {
    /// `max_pending_entries` unacknowledged entries already.
    TooManyPending,
    /// The ledger is being closed or the writer has stopped.
    NotWriting,
}

/// Why the writer stopped with entries unacknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriterError {
    /// A bookie refused an add: a recovery fenced the ledger.
    Fenced,
    /// The metadata is no longer OPEN (a recovery marked or closed it).
    NotOpen,
}

/// What the writer asks the driver (and tells the application).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriterAction {
    Send {
        to: BookieId,
        request: Request,
    },
    /// CAS the metadata znode from `expected` to `metadata`; answer with [`WriterInput::Cas`].
    Cas {
        expected: u64,
        metadata: LedgerMetadata,
    },
    /// The append was given entry id `entry`.
    Assigned {
        entry: EntryId,
    },
    AppendRefused {
        why: AppendRefusal,
    },
    /// Entry `entry` is acknowledged (reported in entry order).
    Acknowledged {
        entry: EntryId,
    },
    /// The writer stopped: `entries` will never be acknowledged by it.
    Failed {
        entries: Vec<EntryId>,
        why: WriterError,
    },
    /// The ledger is closed with `last_entry`.
    Closed {
        last_entry: Option<EntryId>,
    },
}

/// An appended entry not yet acknowledged.
#[derive(Clone, Debug)]
struct Pending {
    payload: Vec<u8>,
    /// Bookies of its current write set that have it durably.
    acked: BTreeSet<BookieId>,
    /// Bookies it has been sent to (and not judged failed since).
    sent: BTreeSet<BookieId>,
}

/// What the writer's CAS in flight is for.
#[derive(Clone, Debug)]
enum CasFor {
    /// Replacing `failed` with the metadata `intended`.
    Change {
        failed: BookieId,
        intended: LedgerMetadata,
    },
    Close {
        intended: LedgerMetadata,
    },
}

/// The writer of one ledger.
#[derive(Debug)]
pub struct Writer {
    config: WriterConfig,
    metadata: LedgerMetadata,
    version: u64,
    next_entry: EntryId,
    lac: Option<EntryId>,
    pending: BTreeMap<EntryId, Pending>,
    next_tag: u64,
    cas: Option<CasFor>,
    /// Bookies judged failed (until they next acknowledge an add): not chosen as
    /// replacements, and replaced after the CAS in flight if still in the ensemble.
    failed: BTreeSet<BookieId>,
    /// The candidates given with the latest failure.
    candidates: Vec<BookieId>,
    closing: bool,
    stopped: bool,
}

impl Writer {
    /// The writer of a ledger just created with `metadata` (OPEN, empty) at `version`.
    pub fn new(config: WriterConfig, metadata: LedgerMetadata, version: u64) -> Writer {
        assert_eq!(
            metadata.state,
            LedgerState::Open,
            "a writer needs an OPEN ledger"
        );
        Writer {
            config,
            metadata,
            version,
            next_entry: 0,
            lac: None,
            pending: BTreeMap::new(),
            next_tag: 1,
            cas: None,
            failed: BTreeSet::new(),
            candidates: Vec::new(),
            closing: false,
            stopped: false,
        }
    }

    /// The last entry acknowledged.
    pub fn lac(&self) -> Option<EntryId> {
        self.lac
    }

    /// Entries appended and not acknowledged.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether the writer has stopped (closed, fenced or superseded).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The metadata as the writer sees it.
    pub fn metadata(&self) -> &LedgerMetadata {
        &self.metadata
    }

    pub fn step(&mut self, input: WriterInput) -> Vec<WriterAction> {
        let mut out = Vec::new();
        match input {
            WriterInput::Append(payload) => self.append(payload, &mut out),
            WriterInput::Response { from, response } => self.response(from, response, &mut out),
            WriterInput::BookieFailed { bookie, candidates } => {
                self.candidates = candidates;
                self.bookie_failed(bookie, &mut out);
            }
            WriterInput::Cas(result) => self.cas_result(result, &mut out),
            WriterInput::Close => {
                if !self.stopped {
                    self.closing = true;
                    self.maybe_close(&mut out);
                }
            }
        }
        out
    }

    fn append(&mut self, payload: Vec<u8>, out: &mut Vec<WriterAction>) {
        if self.stopped || self.closing {
            out.push(WriterAction::AppendRefused {
                why: AppendRefusal::NotWriting,
            });
            return;
        }
        if self.pending.len() >= self.config.max_pending_entries {
            out.push(WriterAction::AppendRefused {
                why: AppendRefusal::TooManyPending,
            });
            return;
        }
        let entry = self.next_entry;
        self.next_entry += 1;
        self.pending.insert(
            entry,
            Pending {
                payload,
                acked: BTreeSet::new(),
                sent: BTreeSet::new(),
            },
        );
        out.push(WriterAction::Assigned { entry });
        self.send_entry(entry, out);
    }

    /// The ensemble acknowledgements count against: the one being CASed in, if any.
    fn view(&self) -> &LedgerMetadata {
        match &self.cas {
            Some(CasFor::Change { intended, .. }) => intended,
            _ => &self.metadata,
        }
    }

    /// The bookies of `entry`'s write set in the current view.
    fn write_bookies(&self, entry: EntryId) -> Vec<BookieId> {
        let view = self.view();
        let fragment = view.fragment_for(entry);
        write_set(entry, view.ensemble_size, view.write_quorum)
            .into_iter()
            .map(|p| fragment.bookies[p])
            .collect()
    }

    /// Sends `entry` to the bookies of its write set it has not been sent to; nothing while an
    /// ensemble change is in flight (the new bookie is not in the metadata yet).
    fn send_entry(&mut self, entry: EntryId, out: &mut Vec<WriterAction>) {
        if matches!(self.cas, Some(CasFor::Change { .. })) {
            return;
        }
        let bookies = self.write_bookies(entry);
        let lac = self.lac;
        let ledger = self.config.ledger;
        let Some(pending) = self.pending.get_mut(&entry) else {
            return;
        };
        for bookie in bookies {
            if pending.sent.insert(bookie) {
                let tag = self.next_tag;
                self.next_tag += 1;
                out.push(WriterAction::Send {
                    to: bookie,
                    request: Request::Add {
                        tag,
                        ledger,
                        entry,
                        lac,
                        payload: pending.payload.clone(),
                        recovery: false,
                    },
                });
            }
        }
    }

    fn send_all(&mut self, out: &mut Vec<WriterAction>) {
        let entries: Vec<EntryId> = self.pending.keys().copied().collect();
        for entry in entries {
            self.send_entry(entry, out);
        }
    }

    fn response(&mut self, from: BookieId, response: Response, out: &mut Vec<WriterAction>) {
        if self.stopped {
            return;
        }
        match response {
            Response::Added { ledger, entry, .. } if ledger == self.config.ledger => {
                // It answers: a candidate again.
                self.failed.remove(&from);
                let counts = self.write_bookies(entry).contains(&from);
                if let Some(pending) = self.pending.get_mut(&entry) {
                    if counts && pending.sent.contains(&from) {
                        pending.acked.insert(from);
                    }
                }
                self.advance(out);
            }
            Response::Refused {
                ledger,
                why: Refusal::Fenced,
                ..
            } if ledger == self.config.ledger => self.stop(WriterError::Fenced, out),
            Response::Refused { ledger, .. } if ledger == self.config.ledger => {
                // A bookie that cannot take the entry now: send again what it has not acked.
                for pending in self.pending.values_mut() {
                    if !pending.acked.contains(&from) {
                        pending.sent.remove(&from);
                    }
                }
                self.send_all(out);
            }
            _ => {}
        }
    }

    /// Acknowledges, in order, every entry whose Qa copies are in place.
    fn advance(&mut self, out: &mut Vec<WriterAction>) {
        let qa = self.metadata.ack_quorum;
        while let Some(entry) = self.pending.first_key_value().map(|(e, _)| *e) {
            let ready =
                entry == self.lac.map_or(0, |l| l + 1) && self.pending[&entry].acked.len() >= qa;
            if !ready {
                break;
            }
            self.pending.remove(&entry);
            self.lac = Some(entry);
            out.push(WriterAction::Acknowledged { entry });
        }
        self.maybe_close(out);
    }

    fn bookie_failed(&mut self, bookie: BookieId, out: &mut Vec<WriterAction>) {
        if self.stopped {
            return;
        }
        self.failed.insert(bookie);
        if self.cas.is_some() {
            // Handled when the CAS in flight completes.
            return;
        }
        if !self.metadata.last_fragment().bookies.contains(&bookie) {
            return;
        }
        let ensemble = &self.metadata.last_fragment().bookies;
        let replacement = self
            .candidates
            .iter()
            .copied()
            .filter(|c| !ensemble.contains(c) && !self.failed.contains(c))
            .min();
        match replacement {
            Some(new) => self.change_ensemble(bookie, new, out),
            None => {
                // Nobody to replace it with: try it again.
                for pending in self.pending.values_mut() {
                    pending.sent.remove(&bookie);
                }
                self.send_all(out);
            }
        }
    }

    /// Replaces `old` by `new` at its position, in a fragment starting at the first
    /// unacknowledged entry (replacing the last fragment if that is where it starts).
    fn change_ensemble(&mut self, old: BookieId, new: BookieId, out: &mut Vec<WriterAction>) {
        let start = self.lac.map_or(0, |l| l + 1);
        let mut intended = self.metadata.clone();
        let mut bookies = intended.last_fragment().bookies.clone();
        for b in bookies.iter_mut() {
            if *b == old {
                *b = new;
            }
        }
        let last = intended.fragments.len() - 1;
        if intended.fragments[last].first_entry >= start {
            intended.fragments[last].bookies = bookies;
        } else {
            intended.fragments.push(Fragment {
                first_entry: start,
                bookies,
            });
        }
        for pending in self.pending.values_mut() {
            pending.acked.remove(&old);
            pending.sent.remove(&old);
        }
        if self.config.injected.is(Bug::EnsembleChangeWithoutCas) {
            self.metadata = intended;
            self.send_all(out);
            return;
        }
        out.push(WriterAction::Cas {
            expected: self.version,
            metadata: intended.clone(),
        });
        self.cas = Some(CasFor::Change {
            failed: old,
            intended,
        });
    }

    fn cas_result(&mut self, result: CasResult, out: &mut Vec<WriterAction>) {
        let Some(cas) = self.cas.take() else {
            return;
        };
        if self.stopped {
            return;
        }
        let intended = match &cas {
            CasFor::Change { intended, .. } | CasFor::Close { intended } => intended.clone(),
        };
        let version = match result {
            CasResult::Done { version } => version,
            CasResult::Conflict { metadata, version } if metadata == intended => version,
            CasResult::Conflict { metadata, version } => {
                return self.conflict(cas, metadata, version, out);
            }
        };
        self.metadata = intended;
        self.version = version;
        match cas {
            CasFor::Change { .. } => {
                self.send_all(out);
                self.advance(out);
                self.replace_failed(out);
            }
            CasFor::Close { .. } => {
                self.stopped = true;
                out.push(WriterAction::Closed {
                    last_entry: self.lac,
                });
            }
        }
    }

    /// Someone else changed the metadata: if it is no longer OPEN a recovery superseded this
    /// writer (or closed the ledger); if it is, try again from what is there.
    fn conflict(
        &mut self,
        cas: CasFor,
        metadata: LedgerMetadata,
        version: u64,
        out: &mut Vec<WriterAction>,
    ) {
        if metadata.state != LedgerState::Open {
            self.stop(WriterError::NotOpen, out);
            return;
        }
        self.metadata = metadata;
        self.version = version;
        match cas {
            CasFor::Change { failed, .. } => self.bookie_failed(failed, out),
            CasFor::Close { .. } => self.maybe_close(out),
        }
    }

    /// Replaces the bookies that failed while a CAS was in flight.
    fn replace_failed(&mut self, out: &mut Vec<WriterAction>) {
        let ensemble = self.metadata.last_fragment().bookies.clone();
        if let Some(bookie) = ensemble.into_iter().find(|b| self.failed.contains(b)) {
            self.bookie_failed(bookie, out);
        }
    }

    /// Closes once closing was asked, nothing is pending and no CAS is in flight.
    fn maybe_close(&mut self, out: &mut Vec<WriterAction>) {
        if !self.closing || self.stopped || self.cas.is_some() || !self.pending.is_empty() {
            return;
        }
        let mut intended = self.metadata.clone();
        intended.state = LedgerState::Closed;
        intended.last_entry = self.lac;
        out.push(WriterAction::Cas {
            expected: self.version,
            metadata: intended.clone(),
        });
        self.cas = Some(CasFor::Close { intended });
    }

    fn stop(&mut self, why: WriterError, out: &mut Vec<WriterAction>) {
        self.stopped = true;
        self.cas = None;
        let entries: Vec<EntryId> = std::mem::take(&mut self.pending).into_keys().collect();
        out.push(WriterAction::Failed { entries, why });
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
