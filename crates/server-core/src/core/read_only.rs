//! Read-only mode in the core: a server looking for a leader long enough turns read-only
//! (see [`crate::read_only`]), accepts clients that connect with canBeReadOnly, answers their
//! reads from the tree it last applied and refuses what would change it; when it finds a
//! leader it closes every read-only connection, and the clients look for a read-write server.
//!
//! A read-only session is a local session (`localSessionsEnabled`, without which ZooKeeper 3.8
//! opens none here): it lives on this server only, for as long as its connection: nothing is
//! proposed for it (there is no quorum to propose to), the tree never hears of it, and the
//! ensemble will not know it, so a client that takes it to a read-write server is told it
//! expired and starts a new one (what ZooKeeper 3.8 does with sessions made read-only).

use proto::{ConnectRequest, ErrorCode, ReplyPacket, Request, RequestPacket, Response};

use super::Core;
use crate::clients::{ConnId, Credit, Owed};
use crate::read_only::{gate, Change, Gate};
use crate::replica::Storage;
use crate::session::negotiate_timeout;

impl<S: Storage> Core<S> {
    /// Whether the server is read-only now.
    pub fn read_only(&self) -> bool {
        self.read_only.active()
    }

    /// Enters or leaves read-only mode as the Zab phase says (after every event).
    pub(super) fn update_read_only(&mut self) {
        let looking = self.replica.phase() == zab::Phase::Looking;
        let now_us = self.now().mono_us;
        let last_session = self.state().sessions.ids.last_id();
        match self.read_only.update(looking, now_us, last_session) {
            Change::None => {}
            Change::Entered => {
                tracing::info!("no quorum: serving read-only clients from the last applied state");
            }
            Change::Left => {
                // ZooKeeper shuts its read-only server down and closes every connection; the
                // clients reconnect and find a read-write server.
                tracing::info!("a leader is back: leaving read-only mode, closing its clients");
                self.state_mut().close_all();
            }
        }
    }

    /// A read-only client connects while the server is read-only (the zxid check is done).
    /// A session the ensemble made, or one made read-only here, is not resumed: ZooKeeper
    /// closes such a connection (RENEW_GLOBAL_SESSION_IN_RO_MODE) and the client looks for a
    /// read-write server. An unknown session is expired; a new one is made here.
    pub(super) fn connect_read_only(&mut self, conn: ConnId, request: &ConnectRequest) {
        let session = request.session_id;
        if session != 0 {
            let state = self.state();
            let last = state.sessions.ids.last_id();
            let known =
                state.tree.sessions().contains(session) || self.read_only.made_here(session, last);
            if known {
                tracing::info!(conn, "refusing to resume a session on a read-only server");
                self.state_mut().clients.close(conn, false);
            } else {
                crate::handshake::refuse_expired(self.state_mut(), conn);
            }
            return;
        }
        if !self.config.local_sessions_enabled {
            // ZooKeeper 3.8's read-only server refuses a createSession that cannot be local
            // (its ReadOnlyRequestProcessor answers it NOT_READONLY in place of a
            // ConnectResponse, which the client drops): the client tries another server.
            tracing::info!(
                conn,
                "a read-only session needs localSessionsEnabled: refused"
            );
            self.state_mut().clients.close(conn, false);
            return;
        }
        let timeout_ms = negotiate_timeout(
            request.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        let state = self.state_mut();
        let session = state.sessions.ids.next_id();
        crate::handshake::finish_read_only(state, conn, session, timeout_ms);
    }

    /// Serves a request on a read-only server: reads in their turn, writes and syncs refused
    /// with NOT_READONLY in their turn, closeSession answered and the connection closed.
    pub(super) fn read_only_request(
        &mut self,
        conn: ConnId,
        packet: RequestPacket,
        credit: Credit,
    ) {
        let xid = packet.header.xid;
        let zxid = self.state().last_zxid().as_i64();
        match gate(&packet.request) {
            Gate::Auth => {
                let Request::Auth(auth) = &packet.request else {
                    return;
                };
                let reply = self.authenticate(conn, xid, auth);
                self.reply_in_order(conn, reply, credit);
            }
            Gate::Refuse => {
                let reply = ReplyPacket::error(xid, zxid, ErrorCode::NotReadOnly);
                self.reply_in_order(conn, reply, credit);
            }
            Gate::Close => {
                let reply = ReplyPacket::ok(xid, zxid, Response::Empty);
                self.reply_in_order(conn, reply, credit);
                self.state_mut().clients.close_in_order(conn);
                self.state_mut().drain(conn);
            }
            Gate::Read => {
                let started_us = self.now().mono_us;
                let item = Owed::Read {
                    packet,
                    started_us,
                    credit,
                };
                self.state_mut().enqueue(conn, item);
            }
        }
    }
}
