//! A plain reader of entries `[from, to]` of a ledger, as a pure state machine.
//!
//! It never reads past what is safe to read: the last entry of a CLOSED ledger, or else the
//! LAC — learned from the bookies of the last fragment (`ReadLac` without fence: a plain reader
//! must not disturb the writer) and from the LACs stored with the entries it reads. Every entry
//! up to the LAC was acknowledged, so Qa bookies of its write set hold it; the reader tries the
//! bookies of the write set in turn. If every one of them says it has no such entry, the entry
//! looked for again after a fresh read of the metadata ([`ReaderAction::ReadMetadata`]): the
//! writer may have moved it to a new fragment since this reader read the metadata. Only if the
//! fresh metadata names the same bookies is it reported [`ReaderAction::Missing`]: that can only
//! be a broken protocol or a lost disk.

use crate::ids::{BookieId, EntryId, LedgerId};
use crate::message::{Refusal, Request, Response};
use crate::metadata::{LedgerMetadata, LedgerState};
use crate::striping::write_set;

/// What the driver feeds a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderInput {
    Response {
        from: BookieId,
        response: Response,
    },
    /// The driver judges `bookie` failed: the reader moves on to the next bookie.
    BookieFailed {
        bookie: BookieId,
    },
    /// The metadata, read again as asked by [`ReaderAction::ReadMetadata`].
    Metadata(LedgerMetadata),
}

/// What a reader asks the driver to do, and returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReaderAction {
    Send {
        to: BookieId,
        request: Request,
    },
    /// Entry `entry` (returned in order).
    Entry {
        entry: EntryId,
        payload: Vec<u8>,
    },
    /// Read the ledger's metadata again and answer with [`ReaderInput::Metadata`].
    ReadMetadata,
    /// No bookie of the write set of `entry` has it, although it is within the bound.
    Missing {
        entry: EntryId,
    },
    /// Finished: entries from `from` up to `last` (none if nothing was readable) were returned.
    Done {
        last: Option<EntryId>,
    },
}

/// One read of a range.
#[derive(Debug)]
pub struct Reader {
    ledger: LedgerId,
    metadata: LedgerMetadata,
    from: EntryId,
    to: EntryId,
    next: EntryId,
    /// Entries up to here may be read.
    bound: Option<EntryId>,
    /// LAC requests not answered yet (bookies).
    lac_waiting: Vec<BookieId>,
    /// The read in flight: tag, bookie, index in the write set, and answers "not here" so far.
    in_flight: Option<(u64, BookieId, usize, usize)>,
    next_tag: u64,
    /// Waiting for the metadata read again because every bookie said no to `next`.
    rereading: bool,
    done: bool,
}

impl Reader {
    /// Starts reading `[from, to]` of the ledger whose metadata was read as `metadata`.
    pub fn start(
        ledger: LedgerId,
        metadata: LedgerMetadata,
        from: EntryId,
        to: EntryId,
    ) -> (Reader, Vec<ReaderAction>) {
        let mut reader = Reader {
            ledger,
            from,
            to,
            next: from,
            bound: None,
            lac_waiting: Vec::new(),
            in_flight: None,
            next_tag: 1,
            rereading: false,
            done: false,
            metadata,
        };
        let mut out = Vec::new();
        if reader.metadata.state == LedgerState::Closed {
            reader.bound = reader.metadata.last_entry;
        } else {
            reader.lac_waiting = reader.metadata.last_fragment().bookies.clone();
            for bookie in reader.lac_waiting.clone() {
                let tag = reader.tag();
                out.push(ReaderAction::Send {
                    to: bookie,
                    request: Request::ReadLac {
                        tag,
                        ledger,
                        fence: false,
                    },
                });
            }
        }
        reader.proceed(&mut out);
        (reader, out)
    }

    pub fn done(&self) -> bool {
        self.done
    }

    fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    pub fn step(&mut self, input: ReaderInput) -> Vec<ReaderAction> {
        let mut out = Vec::new();
        if self.done {
            return out;
        }
        match input {
            ReaderInput::Response { from, response } => self.response(from, response, &mut out),
            ReaderInput::Metadata(metadata) => self.fresh_metadata(metadata, &mut out),
            ReaderInput::BookieFailed { bookie } => {
                self.lac_waiting.retain(|b| *b != bookie);
                if let Some((_, b, index, nos)) = self.in_flight {
                    if b == bookie {
                        self.try_bookie(index + 1, nos, &mut out);
                    }
                }
            }
        }
        self.proceed(&mut out);
        out
    }

    fn response(&mut self, from: BookieId, response: Response, out: &mut Vec<ReaderAction>) {
        match response {
            Response::Lac { lac, .. } if self.lac_waiting.contains(&from) => {
                self.lac_waiting.retain(|b| *b != from);
                self.learn(lac);
            }
            Response::Refused { .. }
                if self.lac_waiting.contains(&from) && !self.is_read(&response) =>
            {
                self.lac_waiting.retain(|b| *b != from);
            }
            Response::Entry {
                tag,
                entry,
                lac,
                payload,
                ..
            } if self.is_read_tag(tag) && entry == self.next => {
                self.in_flight = None;
                self.learn(lac);
                out.push(ReaderAction::Entry { entry, payload });
                self.next += 1;
            }
            Response::Refused { tag, why, .. } if self.is_read_tag(tag) => {
                let (_, _, index, nos) = self.in_flight.expect("checked by is_read_tag");
                let definite = matches!(why, Refusal::NoEntry | Refusal::NoLedger);
                self.try_bookie(index + 1, nos + usize::from(definite), out);
            }
            _ => {}
        }
    }

    fn is_read_tag(&self, tag: u64) -> bool {
        self.in_flight.is_some_and(|(t, ..)| t == tag)
    }

    fn is_read(&self, response: &Response) -> bool {
        self.is_read_tag(response.tag())
    }

    fn learn(&mut self, lac: Option<EntryId>) {
        if self.metadata.state != LedgerState::Closed {
            self.bound = self.bound.max(lac);
        }
    }

    /// Sends the read of `self.next` to the write set's bookie at `index` (wrapping around);
    /// reports the entry missing once every bookie said it does not have it.
    fn try_bookie(&mut self, index: usize, nos: usize, out: &mut Vec<ReaderAction>) {
        let m = &self.metadata;
        if nos >= m.write_quorum {
            self.in_flight = None;
            self.rereading = true;
            out.push(ReaderAction::ReadMetadata);
            return;
        }
        let entry = self.next;
        let positions = write_set(entry, m.ensemble_size, m.write_quorum);
        let index = index % positions.len();
        // A new round over the write set forgets the answers of the last one.
        let nos = if index == 0 { 0 } else { nos };
        let bookie = m.fragment_for(entry).bookies[positions[index]];
        let tag = self.tag();
        self.in_flight = Some((tag, bookie, index, nos));
        out.push(ReaderAction::Send {
            to: bookie,
            request: Request::Read {
                tag,
                ledger: self.ledger,
                entry,
                fence: false,
            },
        });
    }

    /// Every bookie said no to `next`: look again if the fresh metadata names other bookies.
    fn fresh_metadata(&mut self, metadata: LedgerMetadata, out: &mut Vec<ReaderAction>) {
        if !self.rereading {
            return;
        }
        self.rereading = false;
        let entry = self.next;
        let same = metadata.fragment_for(entry) == self.metadata.fragment_for(entry)
            && metadata.ensemble_size == self.metadata.ensemble_size
            && metadata.write_quorum == self.metadata.write_quorum;
        if same {
            out.push(ReaderAction::Missing { entry });
            self.finish(out);
            return;
        }
        self.metadata = metadata;
        self.try_bookie(0, 0, out);
    }

    /// Starts the next read if one is allowed, or finishes.
    fn proceed(&mut self, out: &mut Vec<ReaderAction>) {
        if self.done || self.in_flight.is_some() || self.rereading {
            return;
        }
        let limit = self.bound.map(|b| b.min(self.to));
        if limit.is_some_and(|l| self.next <= l) {
            self.try_bookie(0, 0, out);
        } else if self.lac_waiting.is_empty() {
            self.finish(out);
        }
    }

    fn finish(&mut self, out: &mut Vec<ReaderAction>) {
        self.done = true;
        let last = (self.next > self.from).then(|| self.next - 1);
        out.push(ReaderAction::Done { last });
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
