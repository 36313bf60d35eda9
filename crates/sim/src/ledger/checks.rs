//! The ledger invariants, checked at every step that can change them.
//!
//! The world calls the checker whenever one of the facts it judges changes: an entry is
//! acknowledged to the writer's application, the metadata store applies a CAS, a recovery
//! completes its fence, a bookie accepts an ordinary add, a reader returns an entry. Between
//! those steps nothing the invariants speak of changes (durable bookie records only grow), so
//! this is the same as checking after every step.
//!
//! - **acknowledged in order**: the writer acknowledges entries 0, 1, 2, … with the payloads
//!   appended.
//! - **metadata only goes forward**: E/Qw/Qa never change; the state only moves OPEN →
//!   IN_RECOVERY → CLOSED; a CLOSED ledger never changes; fragments are only appended (the last
//!   one may be replaced while OPEN, by a fragment starting no earlier); every stored metadata is
//!   valid.
//! - **closed ledger complete**: when the ledger becomes CLOSED with last entry L, L ≥ every
//!   entry acknowledged so far; every fragment starts at most at L + 1; every entry 0..=L is
//!   durably held by at least Qa bookies of its write set in the closed metadata, with the
//!   payload the writer appended, and no bookie of the write set holds another payload.
//! - **nothing acknowledged beyond the close**: an entry acknowledged after the close is ≤ L.
//! - **fence holds**: once a recovery reported its fence complete, no entry of the (frozen)
//!   last fragment gathers Qa bookies of its write set that accept an ordinary add of it *after*
//!   that moment — (Qw − Qa) + 1 fenced bookies per write quorum leave at most Qa − 1 that can.
//!   This is the precise form of "after fencing, at most one writer's adds succeed".
//! - **readers**: a reader returns only entries ≤ the largest acknowledged or ≤ the closed last
//!   entry, with the appended payload, and never finds such an entry missing.

use std::collections::{BTreeMap, BTreeSet};

use ledger::striping::write_set;
use ledger::{BookieId, EntryId, LedgerMetadata, LedgerState};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

/// What the bookies hold durably, as the checker needs to see it.
pub trait DurableEntries {
    /// The payload of `entry` (of the run's ledger) in `bookie`'s durable records.
    fn durable_payload(&self, bookie: BookieId, entry: EntryId) -> Option<&[u8]>;
}

/// What the checker has seen so far.
#[derive(Debug, Default)]
pub struct LedgerChecker {
    appended: BTreeMap<EntryId, Vec<u8>>,
    acked_max: Option<EntryId>,
    closed: Option<LedgerMetadata>,
    /// The metadata when a recovery first completed its fence.
    fenced: Option<LedgerMetadata>,
    /// Per entry, bookies of its write set that accepted an ordinary add after the fence.
    after_fence: BTreeMap<EntryId, BTreeSet<BookieId>>,
    /// Whether *fence holds* is checked (off only to show what the end-to-end invariants
    /// catch alone).
    fence_check: bool,
}

impl LedgerChecker {
    pub fn new(fence_check: bool) -> LedgerChecker {
        LedgerChecker {
            fence_check,
            ..LedgerChecker::default()
        }
    }

    /// The largest entry acknowledged to the writer's application.
    pub fn acked_max(&self) -> Option<EntryId> {
        self.acked_max
    }

    /// The closed ledger's last entry (outer `None`: not closed).
    pub fn closed_last(&self) -> Option<Option<EntryId>> {
        self.closed.as_ref().map(|m| m.last_entry)
    }

    pub fn appended_payload(&self, entry: EntryId) -> Option<&[u8]> {
        self.appended.get(&entry).map(|p| p.as_slice())
    }

    /// The writer gave the application's payload entry id `entry`.
    pub fn assigned(&mut self, entry: EntryId, payload: Vec<u8>) -> Result<(), Violation> {
        if self.appended.insert(entry, payload).is_some() {
            return violation("entry ids unique", format!("entry {entry} assigned twice"));
        }
        Ok(())
    }

    /// The writer acknowledged `entry` to its application.
    pub fn acknowledged(
        &mut self,
        entry: EntryId,
        bookies: &impl DurableEntries,
    ) -> Result<(), Violation> {
        let expected = self.acked_max.map_or(0, |e| e + 1);
        if entry != expected {
            return violation(
                "acknowledged in order",
                format!("entry {entry} acknowledged, expected {expected}"),
            );
        }
        self.acked_max = Some(entry);
        if let Some(closed) = &self.closed {
            if closed.last_entry.is_none_or(|last| entry > last) {
                return violation(
                    "nothing acknowledged beyond the close",
                    format!(
                        "entry {entry} acknowledged after the ledger closed at {:?}",
                        closed.last_entry
                    ),
                );
            }
            self.entry_complete(closed, entry, bookies)?;
        }
        Ok(())
    }

    /// The store applied a CAS from `old` to `new`.
    pub fn metadata_changed(
        &mut self,
        old: &LedgerMetadata,
        new: &LedgerMetadata,
        bookies: &impl DurableEntries,
    ) -> Result<(), Violation> {
        forward(old, new)?;
        if new.state == LedgerState::Closed && old.state != LedgerState::Closed {
            self.closed = Some(new.clone());
            self.closed_complete(new, bookies)?;
        }
        Ok(())
    }

    fn closed_complete(
        &self,
        closed: &LedgerMetadata,
        bookies: &impl DurableEntries,
    ) -> Result<(), Violation> {
        let last = closed.last_entry;
        if self.acked_max > last || (last.is_none() && self.acked_max.is_some()) {
            return violation(
                "closed ledger complete",
                format!(
                    "closed at {last:?} but entry {:?} was acknowledged",
                    self.acked_max
                ),
            );
        }
        let end = last.map_or(0, |l| l + 1);
        if let Some(f) = closed.fragments.iter().find(|f| f.first_entry > end) {
            return violation(
                "fragments valid",
                format!(
                    "fragment at {} after the last entry {last:?}",
                    f.first_entry
                ),
            );
        }
        (0..end).try_for_each(|e| self.entry_complete(closed, e, bookies))
    }

    /// Entry `entry` of the closed ledger is on Qa bookies of its write set, as appended.
    fn entry_complete(
        &self,
        closed: &LedgerMetadata,
        entry: EntryId,
        bookies: &impl DurableEntries,
    ) -> Result<(), Violation> {
        let Some(appended) = self.appended.get(&entry) else {
            return violation(
                "closed ledger complete",
                format!("entry {entry} is in the closed ledger but was never appended"),
            );
        };
        let fragment = closed.fragment_for(entry);
        let mut holders = 0;
        for p in write_set(entry, closed.ensemble_size, closed.write_quorum) {
            let bookie = fragment.bookies[p];
            match bookies.durable_payload(bookie, entry) {
                Some(payload) if payload == appended.as_slice() => holders += 1,
                Some(_) => {
                    return violation(
                        "no entry changed",
                        format!("bookie {bookie} holds another payload for entry {entry}"),
                    )
                }
                None => {}
            }
        }
        if holders < closed.ack_quorum {
            return violation(
                "closed ledger complete",
                format!(
                    "entry {entry} (last entry {:?}) is durable on {holders} bookies of its write set {:?}, fewer than Qa = {}",
                    closed.last_entry, fragment.bookies, closed.ack_quorum
                ),
            );
        }
        Ok(())
    }

    /// A recovery completed its fence on the ledger whose stored metadata is `metadata`.
    pub fn fencing_complete(&mut self, metadata: &LedgerMetadata) {
        if self.fenced.is_none() {
            self.fenced = Some(metadata.clone());
        }
    }

    /// `bookie` accepted an ordinary (not recovery) add of `entry`.
    pub fn ordinary_add_accepted(
        &mut self,
        bookie: BookieId,
        entry: EntryId,
    ) -> Result<(), Violation> {
        let Some(fenced) = self.fenced.as_ref().filter(|_| self.fence_check) else {
            return Ok(());
        };
        let fragment = fenced.last_fragment();
        if entry < fragment.first_entry {
            return Ok(());
        }
        let positions = write_set(entry, fenced.ensemble_size, fenced.write_quorum);
        if !positions.iter().any(|p| fragment.bookies[*p] == bookie) {
            return Ok(());
        }
        let accepted = self.after_fence.entry(entry).or_default();
        accepted.insert(bookie);
        if accepted.len() >= fenced.ack_quorum {
            return violation(
                "fence holds",
                format!(
                    "after a recovery completed its fence, bookies {accepted:?} accepted ordinary adds of entry {entry}: an ack quorum"
                ),
            );
        }
        Ok(())
    }

    /// A reader returned `entry` with `payload`.
    pub fn read(&self, entry: EntryId, payload: &[u8]) -> Result<(), Violation> {
        let bound = self.acked_max.max(self.closed_last().flatten());
        if bound.is_none_or(|b| entry > b) {
            return violation(
                "readers stay within the LAC",
                format!(
                    "entry {entry} read; acknowledged up to {:?}, closed at {:?}",
                    self.acked_max,
                    self.closed_last()
                ),
            );
        }
        if self.appended.get(&entry).map(|p| p.as_slice()) != Some(payload) {
            return violation(
                "readers read what was appended",
                format!("entry {entry} read with another payload"),
            );
        }
        Ok(())
    }
}

/// Metadata only goes forward.
fn forward(old: &LedgerMetadata, new: &LedgerMetadata) -> Result<(), Violation> {
    let detail = |why: &str| format!("{why}: {old:?} -> {new:?}");
    if let Err(e) = new.validate() {
        return violation("fragments valid", detail(&e.0));
    }
    if (old.ensemble_size, old.write_quorum, old.ack_quorum)
        != (new.ensemble_size, new.write_quorum, new.ack_quorum)
    {
        return violation("metadata only goes forward", detail("E/Qw/Qa changed"));
    }
    if new.state < old.state || old.state == LedgerState::Closed {
        return violation("metadata only goes forward", detail("state went back"));
    }
    let kept = old.fragments.len() - 1;
    let last_moved_back = new
        .fragments
        .get(kept)
        .is_none_or(|f| f.first_entry < old.fragments[kept].first_entry);
    if new.fragments.len() < old.fragments.len()
        || new.fragments[..kept] != old.fragments[..kept]
        || last_moved_back
        || (old.state != LedgerState::Open && new.fragments != old.fragments)
    {
        return violation("metadata only goes forward", detail("fragments rewritten"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::Fragment;

    fn open() -> LedgerMetadata {
        LedgerMetadata::new(vec![1, 2, 3], 2, 2).unwrap()
    }

    #[test]
    fn metadata_that_goes_back_is_caught() {
        let mut changed = open();
        changed.fragments.push(Fragment {
            first_entry: 5,
            bookies: vec![1, 4, 3],
        });
        assert!(forward(&open(), &changed).is_ok());
        // Dropping or rewriting an earlier fragment.
        assert!(forward(&changed, &open()).is_err());
        let mut rewritten = changed.clone();
        rewritten.fragments[0].bookies = vec![1, 2, 5];
        assert!(forward(&changed, &rewritten).is_err());
        // The state only moves forward, and a closed ledger never changes.
        let mut recovering = changed.clone();
        recovering.state = LedgerState::InRecovery;
        assert!(forward(&changed, &recovering).is_ok());
        assert!(forward(&recovering, &changed).is_err());
        let mut closed = recovering.clone();
        closed.state = LedgerState::Closed;
        closed.last_entry = Some(7);
        assert!(forward(&recovering, &closed).is_ok());
        let mut reclosed = closed.clone();
        reclosed.last_entry = Some(8);
        assert!(forward(&closed, &reclosed).is_err());
        // No fragment changes once the writer is superseded.
        let mut moved = recovering.clone();
        moved.fragments[1].bookies = vec![1, 5, 3];
        assert!(forward(&recovering, &moved).is_err());
    }

    struct Nothing;
    impl DurableEntries for Nothing {
        fn durable_payload(&self, _: BookieId, _: EntryId) -> Option<&[u8]> {
            None
        }
    }

    #[test]
    fn a_close_below_an_acknowledged_entry_and_a_late_acknowledgement_are_caught() {
        let mut checker = LedgerChecker::new(true);
        checker.assigned(0, b"a".to_vec()).unwrap();
        checker.acknowledged(0, &Nothing).unwrap();
        let mut closed = open();
        closed.state = LedgerState::Closed;
        let v = checker
            .metadata_changed(&open(), &closed, &Nothing)
            .unwrap_err();
        assert_eq!(v.invariant, "closed ledger complete");
        assert_eq!(
            checker.acknowledged(1, &Nothing).unwrap_err().invariant,
            "nothing acknowledged beyond the close"
        );
    }
}
