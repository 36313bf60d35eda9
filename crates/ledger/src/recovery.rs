//! Recovery of a ledger by a client other than its writer, as a pure state machine.
//!
//! 1. CAS the metadata OPEN → IN_RECOVERY (IN_RECOVERY: carry on; CLOSED: nothing to do). From
//!    then on the writer's ensemble changes fail, so the last fragment is frozen.
//! 2. Fence: `ReadLac(fence)` to every bookie of the last fragment, until every write quorum
//!    has (Qw − Qa) + 1 answers. Each answering bookie refuses ordinary adds for ever, so no
//!    write quorum keeps Qa bookies that could still acknowledge a new add.
//! 3. Read forward with *fencing* reads from the first entry not known to be acknowledged:
//!    max(largest LAC answered, last fragment's first entry − 1) + 1. An entry is recovered
//!    when any bookie of its write set returns it, and written back with recovery adds to its
//!    whole write set; it is absent when more than Qw − Qa of its write set (fenced by the read
//!    itself) say they do not have it: then Qa of them can never hold it, so it was never
//!    acknowledged, and nor was anything after it (entries are acknowledged in order).
//!    Recovery stops at the first absent entry.
//! 4. Once every written-back entry has reached Qa bookies, CAS to CLOSED with the last
//!    recovered entry.
//!
//! Two recoveries at once are safe: each closes at an entry ≥ every acknowledged one with
//! everything up to it on Qa bookies, and only the first CAS to CLOSED wins; the other finds the
//! ledger CLOSED and adopts its last entry. Bookies that do not answer stall recovery (their
//! requests are sent again when the driver says they failed); it never closes without the
//! answers above. Write-backs carry the LAC read in step 2, never a recovered entry: a second
//! recovery would take that LAC as settled and skip entries not yet written back to Qa bookies,
//! and another recovery may close the ledger before a recovered entry, which readers must not
//! see.

use std::collections::{BTreeMap, BTreeSet};

use crate::bug::{Bug, Injected};
use crate::cas::CasResult;
use crate::ids::{BookieId, EntryId, LedgerId};
use crate::message::{Refusal, Request, Response};
use crate::metadata::{LedgerMetadata, LedgerState};
use crate::striping::{fencing_complete, write_set};

/// What the driver feeds a recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryInput {
    Response {
        from: BookieId,
        response: Response,
    },
    /// The driver judges `bookie` failed: what was sent to it and not answered is sent again.
    BookieFailed {
        bookie: BookieId,
    },
    /// The outcome of the last [`RecoveryAction::Cas`].
    Cas(CasResult),
}

/// What a recovery asks the driver to do, and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryAction {
    Send {
        to: BookieId,
        request: Request,
    },
    Cas {
        expected: u64,
        metadata: LedgerMetadata,
    },
    /// Step 2 is done: every write quorum of the last fragment has (Qw − Qa) + 1 fenced bookies.
    FencingComplete,
    /// The ledger is CLOSED with `last_entry` (by this recovery or another).
    Closed {
        last_entry: Option<EntryId>,
    },
}

/// What a request in flight is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Fence,
    Read(EntryId),
    WriteBack(EntryId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Marking,
    Fencing,
    Reading,
    Closing,
    Done,
}

/// A recovered entry being written back.
#[derive(Clone, Debug)]
struct WriteBack {
    payload: Vec<u8>,
    acked: BTreeSet<BookieId>,
}

/// Entries read ahead at once in step 3. Each read of an entry waits behind the write-backs
/// issued before it on that bookie (a bookie answers only once what it wrote is durable), so
/// reading one entry at a time costs one fsync per entry; a window overlaps them.
pub const READ_WINDOW: u64 = 64;

/// What the reads of one entry have found.
#[derive(Clone, Debug, Default)]
struct Probe {
    /// The entry, from any bookie that has it.
    found: Option<Vec<u8>>,
    /// Bookies of its write set that said they do not have it.
    no: BTreeSet<BookieId>,
    /// More than Qw − Qa said so: Qa of them can never hold it.
    absent: bool,
}

/// One recovery of one ledger.
#[derive(Debug)]
pub struct Recovery {
    ledger: LedgerId,
    injected: Injected,
    metadata: LedgerMetadata,
    version: u64,
    phase: Phase,
    next_tag: u64,
    outstanding: BTreeMap<u64, (BookieId, Purpose)>,
    /// Positions of the last fragment that answered the fence.
    fenced: Vec<bool>,
    max_lac: Option<EntryId>,
    /// Everything up to here is known to be acknowledged (set when reading starts).
    settled: Option<EntryId>,
    /// The first entry not yet resolved; reads go out for it and the next ones in a window.
    reading: EntryId,
    /// What the reads of each entry in the window have found so far.
    window: BTreeMap<EntryId, Probe>,
    last_recovered: Option<EntryId>,
    read_done: bool,
    write_backs: BTreeMap<EntryId, WriteBack>,
}

impl Recovery {
    /// Starts recovering from the metadata read at `version`.
    pub fn start(
        ledger: LedgerId,
        metadata: LedgerMetadata,
        version: u64,
        injected: Injected,
    ) -> (Recovery, Vec<RecoveryAction>) {
        let mut recovery = Recovery {
            ledger,
            injected,
            fenced: vec![false; metadata.ensemble_size],
            metadata,
            version,
            phase: Phase::Marking,
            next_tag: 1,
            outstanding: BTreeMap::new(),
            max_lac: None,
            settled: None,
            reading: 0,
            window: BTreeMap::new(),
            last_recovered: None,
            read_done: false,
            write_backs: BTreeMap::new(),
        };
        let mut out = Vec::new();
        let (metadata, version) = (recovery.metadata.clone(), recovery.version);
        recovery.begin(metadata, version, &mut out);
        (recovery, out)
    }

    /// Whether the recovery has finished (the ledger is CLOSED).
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn step(&mut self, input: RecoveryInput) -> Vec<RecoveryAction> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        match input {
            RecoveryInput::Response { from, response } => self.response(from, response, &mut out),
            RecoveryInput::BookieFailed { bookie } => {
                let again: Vec<Purpose> = self
                    .outstanding
                    .iter()
                    .filter(|(_, (b, _))| *b == bookie)
                    .map(|(_, (_, p))| *p)
                    .collect();
                self.outstanding.retain(|_, (b, _)| *b != bookie);
                for purpose in again {
                    self.send(bookie, purpose, &mut out);
                }
            }
            RecoveryInput::Cas(result) => self.cas_result(result, &mut out),
        }
        out
    }

    /// Decides from `metadata` what to do first (step 1).
    fn begin(&mut self, metadata: LedgerMetadata, version: u64, out: &mut Vec<RecoveryAction>) {
        self.metadata = metadata;
        self.version = version;
        match self.metadata.state {
            LedgerState::Closed => self.finish(self.metadata.last_entry, out),
            LedgerState::InRecovery => self.fence(out),
            LedgerState::Open => {
                self.phase = Phase::Marking;
                let mut intended = self.metadata.clone();
                intended.state = LedgerState::InRecovery;
                out.push(RecoveryAction::Cas {
                    expected: self.version,
                    metadata: intended,
                });
            }
        }
    }

    fn fence(&mut self, out: &mut Vec<RecoveryAction>) {
        self.phase = Phase::Fencing;
        self.fenced = vec![false; self.metadata.ensemble_size];
        self.outstanding.clear();
        for bookie in self.metadata.last_fragment().bookies.clone() {
            self.send(bookie, Purpose::Fence, out);
        }
    }

    fn fencing(&self) -> bool {
        !self.injected.is(Bug::RecoveryWithoutFence)
    }

    fn send(&mut self, to: BookieId, purpose: Purpose, out: &mut Vec<RecoveryAction>) {
        let tag = self.next_tag;
        self.next_tag += 1;
        let ledger = self.ledger;
        let fence = self.fencing();
        let request = match purpose {
            Purpose::Fence => Request::ReadLac { tag, ledger, fence },
            Purpose::Read(entry) => Request::Read {
                tag,
                ledger,
                entry,
                fence,
            },
            Purpose::WriteBack(entry) => Request::Add {
                tag,
                ledger,
                entry,
                lac: self.max_lac,
                payload: self.write_backs[&entry].payload.clone(),
                recovery: true,
            },
        };
        self.outstanding.insert(tag, (to, purpose));
        out.push(RecoveryAction::Send { to, request });
    }

    fn response(&mut self, from: BookieId, response: Response, out: &mut Vec<RecoveryAction>) {
        let Some((bookie, purpose)) = self.outstanding.get(&response.tag()).copied() else {
            return;
        };
        if bookie != from {
            return;
        }
        self.outstanding.remove(&response.tag());
        match (purpose, response) {
            (Purpose::Fence, Response::Lac { lac, .. }) => self.fence_answer(from, lac, out),
            (Purpose::Read(e), Response::Entry { entry, payload, .. }) if entry == e => {
                self.recovered(e, payload, out)
            }
            (
                Purpose::Read(e),
                Response::Refused {
                    why: Refusal::NoEntry | Refusal::NoLedger,
                    ..
                },
            ) => self.not_there(e, from, out),
            (Purpose::WriteBack(e), Response::Added { entry, .. }) if entry == e => {
                if let Some(wb) = self.write_backs.get_mut(&e) {
                    wb.acked.insert(from);
                }
                self.maybe_close(out);
            }
            // Anything else (a refusal, a mismatched answer): ask again.
            (purpose, _) => self.send(from, purpose, out),
        }
    }

    fn fence_answer(
        &mut self,
        from: BookieId,
        lac: Option<EntryId>,
        out: &mut Vec<RecoveryAction>,
    ) {
        if self.phase != Phase::Fencing {
            return;
        }
        self.max_lac = self.max_lac.max(lac);
        let bookies = &self.metadata.last_fragment().bookies;
        if let Some(position) = bookies.iter().position(|b| *b == from) {
            self.fenced[position] = true;
        }
        if self.injected.is(Bug::RecoveryTrustsOneLac) {
            self.outstanding.clear();
            out.push(RecoveryAction::FencingComplete);
            self.close(lac, out);
            return;
        }
        let complete = if self.injected.is(Bug::FenceTooFew) {
            true
        } else {
            let (w, a) = (self.metadata.write_quorum, self.metadata.ack_quorum);
            fencing_complete(&self.fenced, w, a)
        };
        if complete {
            self.outstanding.clear();
            out.push(RecoveryAction::FencingComplete);
            self.read_forward(out);
        }
    }

    /// Step 3: from the first entry not known to be acknowledged.
    fn read_forward(&mut self, out: &mut Vec<RecoveryAction>) {
        self.phase = Phase::Reading;
        let first = self.metadata.last_fragment().first_entry;
        self.settled = self.max_lac.max(first.checked_sub(1));
        self.read(self.settled.map_or(0, |s| s + 1), out);
    }

    /// Starts reading from `entry`, `READ_WINDOW` entries at once.
    fn read(&mut self, entry: EntryId, out: &mut Vec<RecoveryAction>) {
        self.reading = entry;
        self.window.clear();
        for e in entry..entry.saturating_add(READ_WINDOW) {
            self.probe(e, out);
        }
    }

    /// Sends the reads of `entry` to its write set.
    fn probe(&mut self, entry: EntryId, out: &mut Vec<RecoveryAction>) {
        self.window.insert(entry, Probe::default());
        for bookie in self.write_bookies(entry) {
            self.send(bookie, Purpose::Read(entry), out);
        }
    }

    fn write_bookies(&self, entry: EntryId) -> Vec<BookieId> {
        let m = &self.metadata;
        let fragment = m.fragment_for(entry);
        write_set(entry, m.ensemble_size, m.write_quorum)
            .into_iter()
            .map(|p| fragment.bookies[p])
            .collect()
    }

    /// Drops the reads of `entry` still in flight.
    fn forget_reads(&mut self, entry: EntryId) {
        self.outstanding
            .retain(|_, (_, p)| *p != Purpose::Read(entry));
    }

    fn recovered(&mut self, entry: EntryId, payload: Vec<u8>, out: &mut Vec<RecoveryAction>) {
        if self.phase != Phase::Reading {
            return;
        }
        let Some(probe) = self.window.get_mut(&entry) else {
            return;
        };
        if probe.found.is_none() && !probe.absent {
            probe.found = Some(payload);
            self.forget_reads(entry);
        }
        self.advance(out);
    }

    fn not_there(&mut self, entry: EntryId, from: BookieId, out: &mut Vec<RecoveryAction>) {
        if self.phase != Phase::Reading {
            return;
        }
        let m = &self.metadata;
        let tolerated = m.write_quorum - m.ack_quorum;
        let Some(probe) = self.window.get_mut(&entry) else {
            return;
        };
        if probe.found.is_some() || probe.absent {
            return;
        }
        probe.no.insert(from);
        if probe.no.len() > tolerated {
            probe.absent = true;
            self.forget_reads(entry);
        }
        self.advance(out);
    }

    /// Consumes the resolved entries at the front of the window in order: a recovered one is
    /// written back to its whole write set and the window slides on; the first absent one ends
    /// step 3 (entries are acknowledged in order, so nothing after it was). Entries found after
    /// an absent one are dropped: they were never acknowledged and are not written back.
    fn advance(&mut self, out: &mut Vec<RecoveryAction>) {
        while !self.read_done {
            let entry = self.reading;
            let Some(probe) = self.window.get(&entry) else {
                return;
            };
            if probe.absent {
                self.read_done = true;
                let ahead: Vec<EntryId> = self.window.keys().copied().collect();
                for e in ahead {
                    self.forget_reads(e);
                }
                self.window.clear();
                self.maybe_close(out);
                return;
            }
            let Some(payload) = probe.found.clone() else {
                return;
            };
            self.window.remove(&entry);
            self.last_recovered = Some(entry);
            self.write_backs.insert(
                entry,
                WriteBack {
                    payload,
                    acked: BTreeSet::new(),
                },
            );
            for bookie in self.write_bookies(entry) {
                self.send(bookie, Purpose::WriteBack(entry), out);
            }
            self.reading = entry + 1;
            if let Some(next) = entry.checked_add(READ_WINDOW) {
                self.probe(next, out);
            }
        }
    }

    /// Step 4, once reading stopped and every write-back reached Qa bookies.
    fn maybe_close(&mut self, out: &mut Vec<RecoveryAction>) {
        let qa = self.metadata.ack_quorum;
        let written = self.write_backs.values().all(|wb| wb.acked.len() >= qa);
        if self.phase == Phase::Reading && self.read_done && written {
            self.outstanding.clear();
            self.close(self.last_recovered.max(self.settled), out);
        }
    }

    fn close(&mut self, last_entry: Option<EntryId>, out: &mut Vec<RecoveryAction>) {
        self.phase = Phase::Closing;
        self.last_recovered = last_entry;
        let mut intended = self.metadata.clone();
        intended.state = LedgerState::Closed;
        intended.last_entry = last_entry;
        out.push(RecoveryAction::Cas {
            expected: self.version,
            metadata: intended,
        });
    }

    fn cas_result(&mut self, result: CasResult, out: &mut Vec<RecoveryAction>) {
        match (&self.phase, result) {
            (Phase::Marking, CasResult::Done { version }) => {
                self.version = version;
                self.metadata.state = LedgerState::InRecovery;
                self.fence(out);
            }
            (Phase::Marking, CasResult::Conflict { metadata, version }) => {
                self.begin(metadata, version, out)
            }
            (Phase::Closing, CasResult::Done { .. }) => self.finish(self.last_recovered, out),
            (Phase::Closing, CasResult::Conflict { metadata, version }) => {
                match metadata.state {
                    LedgerState::Closed => self.finish(metadata.last_entry, out),
                    // Only a close changes an IN_RECOVERY ledger: ours is still right.
                    LedgerState::InRecovery => {
                        self.metadata = metadata;
                        self.version = version;
                        self.close(self.last_recovered, out);
                    }
                    // Metadata went backwards: trust nothing, start again.
                    LedgerState::Open => self.begin(metadata, version, out),
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, last_entry: Option<EntryId>, out: &mut Vec<RecoveryAction>) {
        self.phase = Phase::Done;
        self.outstanding.clear();
        out.push(RecoveryAction::Closed { last_entry });
    }
}

#[cfg(test)]
#[path = "recovery_tests.rs"]
mod tests;
