//! How the world carries out what its clients' state machines ask, and starts clients: the
//! writer's appends, recoveries, readers, and the final reader that reads the closed ledger
//! back after the heal.

use ledger::EntryId;

use super::bookies::ClientId;
use super::checks::Violation;
use super::clients::{Client, ClientInput, Out, StoreOp};
use super::world::{Durables, LedgerWorld, StoreRequest, Task, WRITER};

impl LedgerWorld {
    pub(super) fn carry_out(&mut self, client: ClientId, out: Out) {
        match out {
            Out::Send { to, request } => {
                let tag = request.tag();
                let mut timeout = self.opts.timeout;
                if let Some(c) = self.clients.get_mut(&client) {
                    c.outstanding.insert(tag, to);
                    timeout <<= c.backoff.get(&to).copied().unwrap_or(0).min(6);
                }
                self.schedule(timeout, Task::RequestTimeout { client, tag });
                self.send(Task::ToBookie {
                    client,
                    bookie: to,
                    request,
                });
            }
            Out::Cas { expected, metadata } => {
                self.next_op += 1;
                let op = self.next_op;
                if let Some(c) = self.clients.get_mut(&client) {
                    c.store = Some(StoreOp {
                        op,
                        rereading: false,
                    });
                }
                self.send(Task::ToStore {
                    client,
                    op,
                    request: StoreRequest::Cas { expected, metadata },
                });
                let timeout = self.opts.timeout;
                self.schedule(timeout, Task::StoreTimeout { client, op });
            }
            Out::Assigned(entry) => {
                let payload = self.appending.take().unwrap_or_default();
                self.report.appended += 1;
                let result = self.checker.assigned(entry, payload);
                self.check(result);
            }
            Out::Acknowledged(entry) => {
                let result = self.checker.acknowledged(entry, &Durables(&self.bookies));
                self.check(result);
            }
            Out::FencingComplete => {
                let writing = self.clients.get(&WRITER).is_some_and(|w| !w.finished());
                self.report.writer_fenced |= writing;
                self.checker.fencing_complete(&self.store.0);
            }
            Out::Closed(last) => self.closed_reported(client, last),
            Out::Read { entry, payload } => {
                self.report.entries_read += 1;
                let result = self.checker.read(entry, &payload);
                self.check(result);
            }
            // A linearizable read of the store, at once.
            Out::ReadMetadata => {
                let metadata = self.store.0.clone();
                self.step(client, ClientInput::Metadata(metadata));
            }
            Out::Missing(entry) => self.fail(Violation {
                invariant: "readers find every entry",
                detail: format!("C{client} found entry {entry} on no bookie of its write set"),
            }),
            Out::ReaderDone(last) => {
                if self.final_reader == Some(client) {
                    self.final_read(last);
                }
            }
        }
    }

    /// A client reported the ledger closed with `last`: it must be what the store holds.
    fn closed_reported(&mut self, client: ClientId, last: Option<EntryId>) {
        let stored = self.checker.closed_last();
        if stored != Some(last) {
            self.fail(Violation {
                invariant: "everyone agrees on the close",
                detail: format!(
                    "C{client} reports the ledger closed at {last:?}; the store: {stored:?}"
                ),
            });
        }
    }

    /// The final reader read the closed ledger up to `last`.
    fn final_read(&mut self, last: Option<EntryId>) {
        let closed = self.checker.closed_last().flatten();
        if last != closed {
            self.fail(Violation {
                invariant: "the closed ledger reads back whole",
                detail: format!("read up to {last:?}, closed at {closed:?}"),
            });
            return;
        }
        self.report.done_after_heal = self.healed_at.map(|h| self.now - h);
        self.done = true;
    }

    pub(super) fn maybe_start_final_reader(&mut self) {
        if self.healed_at.is_none()
            || self.final_reader.is_some()
            || self.checker.closed_last().is_none()
        {
            return;
        }
        let id = self.new_client_id();
        self.final_reader = Some(id);
        let (client, outs) = Client::reader(self.store.0.clone(), 0, EntryId::MAX);
        self.clients.insert(id, client);
        for out in outs {
            self.carry_out(id, out);
        }
    }

    pub(super) fn append(&mut self) {
        let Some(writer) = self.clients.get(&WRITER) else {
            return;
        };
        if writer.finished() || self.report.appended >= self.opts.entries {
            return;
        }
        let payload = format!(
            "s{}e{}r{}",
            self.opts.seed,
            self.report.appended,
            self.rng.below(1000)
        );
        self.appending = Some(payload.clone().into_bytes());
        self.step(WRITER, ClientInput::Append(payload.into_bytes()));
        self.appending = None;
        if self.report.appended >= self.opts.entries {
            if self.opts.writer_closes {
                self.step(WRITER, ClientInput::Close);
            }
            return;
        }
        let next = self.rng.between(1, self.opts.append_every);
        self.schedule(next, Task::Append);
    }

    pub(super) fn start_recovery(&mut self) {
        let id = self.new_client_id();
        self.report.recoveries += 1;
        if self.clients.values().any(|c| c.recovering()) {
            self.report.concurrent_recoveries += 1;
        }
        let (metadata, version) = self.store.clone();
        self.note(|| format!("C{id}: recovery starts from {metadata:?} v{version}"));
        let (client, outs) = Client::recovery(&self.opts, metadata, version);
        self.clients.insert(id, client);
        for out in outs {
            self.carry_out(id, out);
        }
    }

    pub(super) fn start_reader(&mut self) {
        let id = self.new_client_id();
        let from = self
            .rng
            .below(self.checker.acked_max().map_or(0, |a| a + 2) + 1);
        let to = from + self.rng.below(20);
        let (client, outs) = Client::reader(self.store.0.clone(), from, to);
        self.clients.insert(id, client);
        for out in outs {
            self.carry_out(id, out);
        }
    }
}
