//! Answering in order. Each connection's answers leave in the order its requests came, and each
//! answer is *computed* in that order too: a read sees the state after the writes and syncs
//! before it and before the writes after it, whatever waits in between (a sync the leader has
//! not confirmed yet, a client slow to read). So the queue (`Conn::queue`) is worked in two
//! passes: compute what can be computed, in order (`Conn::computed` marks how far), then send,
//! in order, what is computed and may leave. Watch notifications take their place in the same
//! order: after the answers computed before the change, before those computed after it.

use proto::{ReplyPacket, Response};
use tree::Outcome;
use zab::Zxid;

use crate::bugs::ServerBug;
use crate::clients::{reply_size, ConnId, Owed, Stage};
use crate::state::ServerState;

impl ServerState {
    /// Queues an item on a connection, answering at once what can be answered.
    pub fn enqueue(&mut self, conn: ConnId, item: Owed) {
        if self.bugs.has(ServerBug::ReadBeforeWrite) && matches!(item, Owed::Read { .. }) {
            return self.send_now(conn, item);
        }
        let held = match &item {
            Owed::Reply { reply, .. } => reply_size(reply),
            _ => 0,
        };
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        c.queue.push_back(item);
        self.clients.hold(conn, held);
        self.drain(conn);
    }

    /// Computes what can be computed, then sends what can leave, in order.
    pub fn drain(&mut self, conn: ConnId) {
        self.compute(conn, false);
        self.send_ready(conn);
    }

    /// Computes the connection's items in order as far as it can. Reads wait while the
    /// connection has too many unwritten bytes, unless `force`d: a write of the connection is
    /// about to be applied, and the reads before it must not see it.
    pub fn compute(&mut self, conn: ConnId, force: bool) {
        let applied = self.last_zxid();
        let sync_early = self.bugs.has(ServerBug::SyncBeforeApply);
        loop {
            let paused = !force && !self.clients.may_answer_reads(conn);
            let Some(c) = self.clients.get_mut(conn) else {
                return;
            };
            let at = c.computed;
            match c.queue.get(at) {
                None => return,
                Some(Owed::Reply { .. } | Owed::Notification { .. } | Owed::Close) => {
                    c.computed += 1
                }
                Some(Owed::Sync { zxid: Some(z), .. }) if *z <= applied || sync_early => {
                    c.computed += 1
                }
                Some(Owed::Sync { zxid: Some(_), .. }) => {
                    self.syncs_waiting.insert(conn);
                    return;
                }
                Some(Owed::Sync { zxid: None, .. } | Owed::Write { .. }) => return,
                Some(Owed::Read { .. }) if paused => return,
                Some(Owed::Read { .. }) => self.compute_read(conn, at),
            }
        }
    }

    /// Answers the read at `at` from the tree as it is now; its answer waits its turn.
    fn compute_read(&mut self, conn: ConnId, at: usize) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        let Some(Owed::Read {
            packet,
            started_us,
            credit,
        }) = c.queue.get(at)
        else {
            return;
        };
        let (packet, started_us, credit) = (packet.clone(), *started_us, *credit);
        let reply = crate::reads::answer(self, conn, &packet);
        let bytes = reply_size(&reply);
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        c.queue[at] = Owed::Reply {
            reply,
            started_us,
            credit,
        };
        c.computed += 1;
        self.clients.hold(conn, bytes);
    }

    /// Sends, in order, what is computed and may leave: answers, notifications, a close, a sync
    /// the leader confirmed.
    fn send_ready(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.clients.get_mut(conn) else {
                return;
            };
            let ready = c.computed > 0
                && match c.queue.front() {
                    Some(Owed::Sync { confirmed, .. }) => *confirmed,
                    Some(_) => true,
                    None => false,
                };
            if !ready {
                return;
            }
            let item = c.queue.pop_front().expect("the front exists");
            c.computed -= 1;
            self.send_now(conn, item);
        }
    }

    /// Sends one item.
    fn send_now(&mut self, conn: ConnId, item: Owed) {
        let now = self.now.mono_us;
        match item {
            Owed::Sync {
                xid,
                path,
                started_us,
                credit,
                zxid,
                ..
            } => {
                let zxid = zxid.unwrap_or_else(|| self.last_zxid());
                let reply = ReplyPacket::ok(
                    xid,
                    zxid.as_i64(),
                    Response::Sync(proto::SyncResponse { path }),
                );
                self.clients
                    .send_reply(conn, &reply, Some(started_us), credit, now);
            }
            Owed::Read {
                packet,
                started_us,
                credit,
            } => {
                let reply = crate::reads::answer(self, conn, &packet);
                self.clients
                    .send_reply(conn, &reply, Some(started_us), credit, now);
            }
            Owed::Reply {
                reply,
                started_us,
                credit,
            } => {
                self.clients.unhold(conn, reply_size(&reply));
                self.clients
                    .send_reply(conn, &reply, Some(started_us), credit, now);
            }
            Owed::Notification { notification } => {
                self.clients.unhold(conn, reply_size(&notification));
                self.clients.send_notification(conn, &notification);
            }
            Owed::Close => self.clients.close(conn, true),
            Owed::Write { .. } => unreachable!("a write is answered in place, never sent as is"),
        }
    }

    /// A watch notification for a connection: sent now if nothing waits ahead of it, else in
    /// its place after what is computed (and before what is not).
    pub fn notify(&mut self, conn: ConnId, notification: ReplyPacket) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        if c.queue.is_empty() {
            self.clients.send_notification(conn, &notification);
            return;
        }
        let bytes = reply_size(&notification);
        let at = c.computed;
        c.queue.insert(at, Owed::Notification { notification });
        c.computed += 1;
        self.clients.hold(conn, bytes);
        self.send_ready(conn);
    }

    /// A write of this connection was applied: its answer takes the write's place in the
    /// queue, and leaves when everything before it has. With `then_close`, it is the
    /// connection's last answer (its session moved to another server).
    pub fn answer_write(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: Zxid,
        outcome: &Outcome,
        then_close: bool,
    ) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        let Some(at) = c.queue.iter().position(|item| item.is_write(xid)) else {
            if c.stage == Stage::Closing {
                // Dropped behind the connection's last answer.
                return;
            }
            // The connection's writes are matched in order (PendingWrites), so this is a bug;
            // the client would wait forever, so it is told by a closed connection instead.
            tracing::error!(
                conn,
                xid,
                %zxid,
                "an applied write has no place in its connection's queue"
            );
            self.clients.close(conn, true);
            return;
        };
        let Owed::Write {
            op,
            started_us,
            credit,
            ..
        } = c.queue[at]
        else {
            unreachable!("is_write matched a write");
        };
        let reply = ServerState::write_reply(xid, zxid, op, outcome);
        let bytes = reply_size(&reply);
        c.queue[at] = Owed::Reply {
            reply,
            started_us,
            credit,
        };
        if then_close {
            c.queue.truncate(at + 1);
            self.clients.close_in_order(conn);
        }
        self.clients.hold(conn, bytes);
        self.drain(conn);
    }

    /// The leader named the zxid a sync waits for: what follows it is computed once that is
    /// applied here.
    pub fn sync_zxid(&mut self, conn: ConnId, token: u64, zxid: Zxid) {
        self.update_sync(conn, token, |z, _| *z = Some(zxid));
    }

    /// The leader confirmed with a quorum that it still leads: the sync may be answered.
    pub fn sync_confirmed(&mut self, conn: ConnId, token: u64, zxid: Zxid) {
        self.update_sync(conn, token, |z, confirmed| {
            z.get_or_insert(zxid);
            *confirmed = true;
        });
    }

    fn update_sync(&mut self, conn: ConnId, token: u64, f: impl Fn(&mut Option<Zxid>, &mut bool)) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        for item in c.queue.iter_mut() {
            if let Owed::Sync {
                token: t,
                zxid,
                confirmed,
                ..
            } = item
            {
                if *t == token {
                    f(zxid, confirmed);
                }
            }
        }
        self.drain(conn);
    }
}
