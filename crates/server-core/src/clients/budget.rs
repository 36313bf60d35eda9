//! Sending, and the budget every send and every written byte moves: credit taken by requests
//! and given back once their answers are written, unwritten bytes per connection and in all,
//! and the closes that keep them within bounds.

use bytes::{Bytes, BytesMut};
use proto::{Encode, ReplyHeader, ReplyPacket, Response};

use super::{ClientEffect, Clients, ConnId, Credit};

impl Clients {
    /// A request arrived and took `credit` from its connection's budget.
    pub fn received(&mut self, conn: ConnId, credit: Credit) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.budget.in_flight.add(credit);
        self.requests_in_flight_total += u64::from(credit.requests);
        self.stats.packets_received += 1;
        c.stats.received += 1;
    }

    /// Sends the answer to a request: the reply with a zxid no lower than any this connection
    /// saw before (a reply made earlier, an error say, may have been waiting its turn), and
    /// the request's `credit` to give back once it is written.
    pub fn send_reply(
        &mut self,
        conn: ConnId,
        reply: &ReplyPacket,
        started_us: Option<u64>,
        credit: Credit,
        now_us: u64,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let zxid = if self.bugs.has(crate::bugs::ServerBug::UnclampedReplyZxid) {
            reply.header.zxid
        } else {
            reply.header.zxid.max(c.last_zxid.as_i64())
        };
        c.last_zxid = zab::Zxid::from_i64(zxid);
        c.stats.sent += 1;
        self.stats.packets_sent += 1;
        if let Some(started) = started_us {
            let ms = now_us.saturating_sub(started) / 1000;
            c.stats.latency.record(ms);
            self.stats.latency.record(ms);
        }
        let header = ReplyHeader {
            zxid,
            ..reply.header
        };
        let frame = encode(&header, &reply.response);
        self.push_send(conn, frame, credit);
    }

    /// Sends a watch notification (its zxid is the change's, the highest applied).
    pub fn send_notification(&mut self, conn: ConnId, notification: &ReplyPacket) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.last_zxid = c
            .last_zxid
            .max(zab::Zxid::from_i64(notification.header.zxid));
        self.stats.packets_sent += 1;
        let frame = encode(&notification.header, &notification.response);
        self.push_send(conn, frame, Credit::default());
    }

    /// Hands bytes to the writer and enforces the outbound bounds.
    pub(super) fn push_send(&mut self, conn: ConnId, frame: Bytes, credit: Credit) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let len = frame.len() as u64;
        c.budget.sent_bytes += len;
        c.budget.unwritten.push_back((c.budget.sent_bytes, credit));
        self.outbound_bytes_total += len;
        self.effects.push(ClientEffect::Send { conn, frame });
        self.enforce_outbound_bounds(conn);
    }

    /// Counts `bytes` of an answer made and waiting its turn against the connection's
    /// outbound bound (what it holds is memory all the same).
    pub fn hold(&mut self, conn: ConnId, bytes: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.budget.held_bytes += bytes;
        self.outbound_bytes_total += bytes;
        self.enforce_outbound_bounds(conn);
    }

    /// An answer held with [`Clients::hold`] leaves its turn (it is being sent).
    pub fn unhold(&mut self, conn: ConnId, bytes: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let bytes = bytes.min(c.budget.held_bytes);
        c.budget.held_bytes -= bytes;
        self.outbound_bytes_total -= bytes;
    }

    /// A connection past its own bound is closed at once (what it has not read is dropped),
    /// and past the server's total the connection holding the most is.
    fn enforce_outbound_bounds(&mut self, conn: ConnId) {
        let outbound = self.conns.get(&conn).map_or(0, |c| c.outbound_bytes());
        if outbound > self.limits.max_outbound_bytes_per_connection {
            tracing::warn!(
                conn,
                outbound,
                "a client does not read its answers: closing it"
            );
            self.close(conn, false);
        }
        while self.outbound_bytes_total > self.limits.max_outbound_bytes_total {
            let Some(largest) = self
                .conns
                .values()
                .max_by_key(|c| (c.outbound_bytes(), std::cmp::Reverse(c.id)))
                .map(|c| c.id)
            else {
                break;
            };
            tracing::warn!(
                conn = largest,
                total = self.outbound_bytes_total,
                "unwritten answers over the server's bound: closing the largest holder"
            );
            self.close(largest, false);
        }
    }

    /// The writer wrote `bytes` more: the answers they complete give their credit back.
    /// Returns whether the connection may answer reads again (it had paused them).
    pub fn written(&mut self, conn: ConnId, bytes: u64) -> bool {
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let paused_before = c.outbound_bytes() >= self.limits.read_pause_outbound_bytes;
        let bytes = bytes.min(c.budget.outbound_bytes());
        c.budget.written_bytes += bytes;
        self.outbound_bytes_total -= bytes;
        let mut back = Credit::default();
        while let Some(&(end, credit)) = c.budget.unwritten.front() {
            if end > c.budget.written_bytes {
                break;
            }
            c.budget.unwritten.pop_front();
            back.add(credit);
        }
        c.budget.in_flight.sub(back);
        c.budget.owed.add(back);
        self.requests_in_flight_total -= u64::from(back.requests);
        if !c.budget.owed.is_zero() {
            self.holding.insert(conn);
        }
        let paused_now = c.outbound_bytes() >= self.limits.read_pause_outbound_bytes;
        paused_before && !paused_now
    }

    /// Whether a connection may make another answer to a read now, rather than wait for what
    /// it has unwritten to drain.
    pub fn may_answer_reads(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.outbound_bytes() < self.limits.read_pause_outbound_bytes)
    }

    /// Whether credit is held back from every connection: too many requests in flight over
    /// all of them, or a leader with too many proposals uncommitted.
    pub fn over_global_limit(&self) -> bool {
        self.backpressure || self.requests_in_flight_total > self.limits.global_outstanding_requests
    }

    /// Grants the credit earned back, unless a global limit holds it.
    pub fn release_credit(&mut self) {
        if self.holding.is_empty() || self.over_global_limit() {
            return;
        }
        for conn in std::mem::take(&mut self.holding) {
            if let Some(c) = self.conns.get_mut(&conn) {
                let credit = std::mem::take(&mut c.budget.owed);
                if !credit.is_zero() {
                    self.effects.push(ClientEffect::Grant { conn, credit });
                }
            }
        }
    }
}

/// One reply frame, sized up front (a 1 MB getData must not be built by doubling).
fn encode(header: &ReplyHeader, response: &Response) -> Bytes {
    let mut buf = BytesMut::with_capacity(64 + size_hint(response));
    proto::write_frame(&mut buf, |b| {
        header.encode(b);
        response.encode_body(b);
    });
    buf.freeze()
}

/// Roughly the bytes of a reply (what holding it costs).
pub fn reply_size(reply: &ReplyPacket) -> u64 {
    (16 + size_hint(&reply.response)) as u64
}

/// Roughly the bytes of a response body's variable parts.
fn size_hint(response: &Response) -> usize {
    match response {
        Response::GetData(r) => r.data.as_ref().map_or(0, |d| d.len()) + 80,
        Response::GetChildren(r) => r.children.iter().map(|c| c.len() + 4).sum(),
        Response::GetChildren2(r) => r.children.iter().map(|c| c.len() + 4).sum::<usize>() + 80,
        Response::Multi(results) => results.len() * 96,
        _ => 96,
    }
}
