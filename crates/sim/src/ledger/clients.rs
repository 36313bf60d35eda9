//! The simulator's clients: the writer, recoveries and readers, each the real `ledger` state
//! machine behind one input → outputs interface, with what the driver keeps for it (requests in
//! flight for timeouts, the metadata operation in flight, a pause).

use std::collections::BTreeMap;

use ledger::{
    BookieId, CasResult, EntryId, Injected, LedgerMetadata, Reader, ReaderAction, ReaderInput,
    Recovery, RecoveryAction, RecoveryInput, Request, Response, Writer, WriterAction, WriterConfig,
    WriterInput,
};

use super::options::LedgerOptions;
use super::world::LEDGER;

/// What the driver feeds a client.
#[derive(Clone, Debug)]
pub enum ClientInput {
    Response { from: BookieId, response: Response },
    BookieFailed(BookieId),
    Cas(CasResult),
    Append(Vec<u8>),
    Close,
    Metadata(LedgerMetadata),
}

/// What a client's machine asked for, in one vocabulary.
#[derive(Clone, Debug)]
pub enum Out {
    Send {
        to: BookieId,
        request: Request,
    },
    Cas {
        expected: u64,
        metadata: LedgerMetadata,
    },
    Assigned(EntryId),
    Acknowledged(EntryId),
    FencingComplete,
    Closed(Option<EntryId>),
    Read {
        entry: EntryId,
        payload: Vec<u8>,
    },
    ReadMetadata,
    Missing(EntryId),
    ReaderDone(Option<EntryId>),
}

/// The metadata operation in flight: a CAS, or the re-read after it went unanswered.
#[derive(Clone, Debug)]
pub struct StoreOp {
    pub op: u64,
    pub rereading: bool,
}

#[derive(Debug)]
enum Machine {
    Writer(Writer),
    Recovery(Recovery),
    Reader(Reader),
}

/// One client.
#[derive(Debug)]
pub struct Client {
    machine: Machine,
    /// Requests in flight: tag → bookie.
    pub outstanding: BTreeMap<u64, BookieId>,
    pub store: Option<StoreOp>,
    /// The client handles nothing before this time.
    pub paused_until: u64,
    /// Per bookie, how many times in a row its requests timed out: the next timeout is
    /// doubled that many times (up to 64-fold). Without it, a slow bookie is sent every
    /// unanswered request again each timeout, each one more record for its disk, and falls
    /// further behind for ever.
    pub backoff: BTreeMap<BookieId, u32>,
}

#[cfg(feature = "bugs")]
fn injected(opts: &LedgerOptions) -> Injected {
    Injected::bug(opts.bug)
}

#[cfg(not(feature = "bugs"))]
fn injected(_: &LedgerOptions) -> Injected {
    Injected::NONE
}

impl Client {
    fn new(machine: Machine) -> Client {
        Client {
            machine,
            outstanding: BTreeMap::new(),
            store: None,
            paused_until: 0,
            backoff: BTreeMap::new(),
        }
    }

    pub fn writer(opts: &LedgerOptions, metadata: LedgerMetadata) -> Client {
        let config = WriterConfig {
            ledger: LEDGER,
            max_pending_entries: opts.max_pending,
            injected: injected(opts),
        };
        Client::new(Machine::Writer(Writer::new(config, metadata, 0)))
    }

    pub fn recovery(
        opts: &LedgerOptions,
        metadata: LedgerMetadata,
        version: u64,
    ) -> (Client, Vec<Out>) {
        let (recovery, actions) = Recovery::start(LEDGER, metadata, version, injected(opts));
        let outs = actions.into_iter().map(recovery_out).collect();
        (Client::new(Machine::Recovery(recovery)), outs)
    }

    pub fn reader(metadata: LedgerMetadata, from: EntryId, to: EntryId) -> (Client, Vec<Out>) {
        let (reader, actions) = Reader::start(LEDGER, metadata, from, to);
        let outs = actions.into_iter().map(reader_out).collect();
        (Client::new(Machine::Reader(reader)), outs)
    }

    /// Whether the client is a recovery still at work.
    pub fn recovering(&self) -> bool {
        matches!(&self.machine, Machine::Recovery(r) if !r.done())
    }

    /// Whether the client has nothing more to do.
    pub fn finished(&self) -> bool {
        match &self.machine {
            Machine::Writer(w) => w.stopped(),
            Machine::Recovery(r) => r.done(),
            Machine::Reader(r) => r.done(),
        }
    }

    pub fn step(&mut self, input: ClientInput, candidates: &[BookieId]) -> Vec<Out> {
        match &mut self.machine {
            Machine::Writer(w) => {
                let input = match input {
                    ClientInput::Response { from, response } => {
                        WriterInput::Response { from, response }
                    }
                    ClientInput::BookieFailed(bookie) => WriterInput::BookieFailed {
                        bookie,
                        candidates: candidates.to_vec(),
                    },
                    ClientInput::Cas(result) => WriterInput::Cas(result),
                    ClientInput::Append(payload) => WriterInput::Append(payload),
                    ClientInput::Close => WriterInput::Close,
                    ClientInput::Metadata(_) => return Vec::new(),
                };
                w.step(input).into_iter().filter_map(writer_out).collect()
            }
            Machine::Recovery(r) => {
                let input = match input {
                    ClientInput::Response { from, response } => {
                        RecoveryInput::Response { from, response }
                    }
                    ClientInput::BookieFailed(bookie) => RecoveryInput::BookieFailed { bookie },
                    ClientInput::Cas(result) => RecoveryInput::Cas(result),
                    _ => return Vec::new(),
                };
                r.step(input).into_iter().map(recovery_out).collect()
            }
            Machine::Reader(r) => {
                let input = match input {
                    ClientInput::Response { from, response } => {
                        ReaderInput::Response { from, response }
                    }
                    ClientInput::BookieFailed(bookie) => ReaderInput::BookieFailed { bookie },
                    ClientInput::Metadata(metadata) => ReaderInput::Metadata(metadata),
                    _ => return Vec::new(),
                };
                r.step(input).into_iter().map(reader_out).collect()
            }
        }
    }
}

fn writer_out(action: WriterAction) -> Option<Out> {
    Some(match action {
        WriterAction::Send { to, request } => Out::Send { to, request },
        WriterAction::Cas { expected, metadata } => Out::Cas { expected, metadata },
        WriterAction::Assigned { entry } => Out::Assigned(entry),
        WriterAction::Acknowledged { entry } => Out::Acknowledged(entry),
        WriterAction::Closed { last_entry } => Out::Closed(last_entry),
        WriterAction::AppendRefused { .. } | WriterAction::Failed { .. } => return None,
    })
}

fn recovery_out(action: RecoveryAction) -> Out {
    match action {
        RecoveryAction::Send { to, request } => Out::Send { to, request },
        RecoveryAction::Cas { expected, metadata } => Out::Cas { expected, metadata },
        RecoveryAction::FencingComplete => Out::FencingComplete,
        RecoveryAction::Closed { last_entry } => Out::Closed(last_entry),
    }
}

fn reader_out(action: ReaderAction) -> Out {
    match action {
        ReaderAction::Send { to, request } => Out::Send { to, request },
        ReaderAction::Entry { entry, payload } => Out::Read { entry, payload },
        ReaderAction::ReadMetadata => Out::ReadMetadata,
        ReaderAction::Missing { entry } => Out::Missing(entry),
        ReaderAction::Done { last } => Out::ReaderDone(last),
    }
}
