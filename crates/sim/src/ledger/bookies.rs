//! A simulated bookie: the real [`ledger::bookie::Bookie`] driven as the bookie server drives
//! it, over a simulated disk.
//!
//! Records are written in order; each becomes durable a random latency after the one before.
//! A record is visible to reads as soon as it is written (the driver's rule), durable once its
//! completion comes. A crash loses every record not yet durable; the restart rebuilds the
//! bookie's facts (fence, LAC, last entry per ledger) from the durable records alone, as the
//! real bookie rebuilds them from its journal.

use std::collections::{BTreeMap, VecDeque};

use ledger::bookie::{Action, Bookie, BookieLimits, EntryReader, LedgerFacts, Record};
use ledger::{EntryId, LedgerId};

/// The simulator's name for a client connection.
pub type ClientId = u32;

type Entries = BTreeMap<(LedgerId, EntryId), (Option<EntryId>, Vec<u8>)>;

/// Reads from a map of entries.
struct View<'a>(&'a Entries);

impl EntryReader for View<'_> {
    fn read_entry(
        &self,
        ledger: LedgerId,
        entry: EntryId,
    ) -> Result<Option<(Option<EntryId>, Vec<u8>)>, String> {
        Ok(self.0.get(&(ledger, entry)).cloned())
    }
}

/// One bookie and its disk.
#[derive(Debug)]
pub struct SimBookie {
    pub node: Option<Bookie<ClientId>>,
    /// Incarnation: disk completions of an earlier life are ignored.
    pub life: u64,
    /// Every durable record, in order (numbered from 1).
    durable: Vec<Record>,
    durable_entries: Entries,
    /// What reads see: the durable entries and those written since.
    visible: Entries,
    /// Records written, not yet durable, with their numbers.
    pending: VecDeque<(u64, Record)>,
    /// When the last written record becomes durable.
    pub busy_until: u64,
}

impl SimBookie {
    pub fn new() -> SimBookie {
        SimBookie {
            node: Some(Bookie::new(BookieLimits::default())),
            life: 1,
            durable: Vec::new(),
            durable_entries: Entries::new(),
            visible: Entries::new(),
            pending: VecDeque::new(),
            busy_until: 0,
        }
    }

    pub fn up(&self) -> bool {
        self.node.is_some()
    }

    /// The payload of `entry` in the durable records.
    pub fn durable_payload(&self, ledger: LedgerId, entry: EntryId) -> Option<&[u8]> {
        self.durable_entries
            .get(&(ledger, entry))
            .map(|(_, p)| p.as_slice())
    }

    /// Hands the bookie a request (if it is up); returns its actions.
    pub fn handle(&mut self, from: ClientId, request: ledger::Request) -> Vec<Action<ClientId>> {
        let Some(node) = self.node.as_mut() else {
            return Vec::new();
        };
        node.handle(from, request, &View(&self.visible))
    }

    /// Writes `record` as number `seq` (visible at once, durable later).
    pub fn write(&mut self, seq: u64, record: Record) {
        if let Record::Entry {
            ledger,
            entry,
            lac,
            payload,
        } = &record
        {
            self.visible
                .insert((*ledger, *entry), (*lac, payload.clone()));
        }
        self.pending.push_back((seq, record));
    }

    /// Record `seq` of life `life` is durable: returns the answers it releases.
    pub fn completed(&mut self, life: u64, seq: u64) -> Vec<Action<ClientId>> {
        if life != self.life || self.node.is_none() {
            return Vec::new();
        }
        let Some((first, record)) = self.pending.pop_front() else {
            return Vec::new();
        };
        debug_assert_eq!(first, seq, "writes complete in order");
        if let Record::Entry {
            ledger,
            entry,
            lac,
            payload,
        } = &record
        {
            self.durable_entries
                .insert((*ledger, *entry), (*lac, payload.clone()));
        }
        self.durable.push(record);
        match self.node.as_mut() {
            Some(node) => node.durable(seq),
            None => Vec::new(),
        }
    }

    /// Crashes the bookie: unwritten records are lost. Returns how many.
    pub fn crash(&mut self) -> usize {
        self.node = None;
        self.life += 1;
        self.busy_until = 0;
        self.visible = self.durable_entries.clone();
        let lost = self.pending.len();
        self.pending.clear();
        lost
    }

    /// Restarts from the durable records.
    pub fn restart(&mut self) {
        let mut facts: BTreeMap<LedgerId, LedgerFacts> = BTreeMap::new();
        for record in &self.durable {
            match record {
                Record::Entry {
                    ledger, entry, lac, ..
                } => {
                    let f = facts.entry(*ledger).or_default();
                    f.lac = f.lac.max(*lac);
                    f.last_entry = f.last_entry.max(Some(*entry));
                }
                Record::Fence { ledger } => facts.entry(*ledger).or_default().fenced = true,
            }
        }
        let last_seq = self.durable.len() as u64;
        self.node = Some(Bookie::restore(facts, last_seq, BookieLimits::default()));
    }
}

impl Default for SimBookie {
    fn default() -> Self {
        SimBookie::new()
    }
}
