//! Answering in order: each connection's answers leave in the order its requests came, so a
//! read waits behind the connection's own writes and syncs, and a write applied while a sync
//! ahead of it still waits keeps its answer until the sync's has gone.

use proto::{ReplyPacket, Response};
use tree::Outcome;

use crate::clients::{ConnId, Owed, Stage};
use crate::state::ServerState;

impl ServerState {
    /// Queues an item on a connection, answering at once what can be answered.
    pub fn enqueue(&mut self, conn: ConnId, item: Owed) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        c.queue.push_back(item);
        self.drain(conn);
    }

    /// Answers, in order, everything at the front of a connection's queue that can be
    /// answered now. Stops at a write or sync still in flight, and before a read while the
    /// connection has too many unwritten bytes (it resumes as they are written).
    pub fn drain(&mut self, conn: ConnId) {
        let applied = self.last_zxid();
        loop {
            let may_read = self.clients.may_answer_reads(conn);
            let Some(c) = self.clients.get_mut(conn) else {
                return;
            };
            let ready = match c.queue.front() {
                None => return,
                Some(Owed::Write { .. }) | Some(Owed::Sync { zxid: None, .. }) => false,
                Some(Owed::Sync { zxid: Some(z), .. }) if *z > applied => {
                    self.syncs_waiting.insert(conn);
                    false
                }
                Some(Owed::Read { .. }) => may_read,
                Some(Owed::Sync { .. }) | Some(Owed::Reply { .. }) | Some(Owed::Close) => true,
            };
            if !ready {
                return;
            }
            let item = c.queue.pop_front().expect("the front exists");
            self.answer(conn, item, applied);
        }
    }

    /// Sends the answer for one item that reached the front.
    fn answer(&mut self, conn: ConnId, item: Owed, applied: i64) {
        let now = self.now.mono_us;
        match item {
            Owed::Sync {
                xid,
                path,
                started_us,
                credit,
                ..
            } => {
                let reply =
                    ReplyPacket::ok(xid, applied, Response::Sync(proto::SyncResponse { path }));
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
                self.clients
                    .send_reply(conn, &reply, Some(started_us), credit, now);
            }
            Owed::Close => self.clients.close(conn, true),
            Owed::Write { .. } => unreachable!("a write is answered in place, not popped"),
        }
    }

    /// A write of this connection was applied: its answer takes the write's place in the
    /// queue, and leaves when everything before it has. With `then_close`, it is the
    /// connection's last answer (its session moved to another server).
    pub fn answer_write(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
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
                zxid,
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
        c.queue[at] = Owed::Reply {
            reply,
            started_us,
            credit,
        };
        if then_close {
            c.queue.truncate(at + 1);
            self.clients.close_in_order(conn);
        }
        self.drain(conn);
    }

    /// The leader named the zxid a sync waits for: answer it once that is applied here.
    pub fn sync_ready(&mut self, conn: ConnId, token: u64, zxid: i64) {
        let Some(c) = self.clients.get_mut(conn) else {
            return;
        };
        for item in c.queue.iter_mut() {
            if let Owed::Sync {
                token: t, zxid: z, ..
            } = item
            {
                if *t == token {
                    *z = Some(zxid);
                }
            }
        }
        self.drain(conn);
    }
}
