//! Requests after the handshake: reads are answered here in their turn, writes are prepped on
//! the leader (forwarded there from a follower), syncs wait for the leader, auth is local.

use bytes::Bytes;
use proto::{ErrorCode, OpCode, PacketError, ReplyPacket, Request, RequestPacket};
use tree::{prep::PrepCtx, TxnHeader, TxnRecord};

use super::Core;
use crate::clients::{ConnId, Credit, Owed, Stage};
use crate::peers::codec::PeerFrame;
use crate::replica::ReplicaError;
use crate::replica::Storage;

impl<S: Storage> Core<S> {
    /// A request arrived: it takes its credit, then waits for the session if the handshake is
    /// not answered yet (ZooKeeper queues such requests too), or is served.
    pub(super) fn receive(
        &mut self,
        conn: ConnId,
        packet: RequestPacket,
        credit: Credit,
    ) -> Result<(), ReplicaError> {
        let clients = &mut self.state_mut().clients;
        clients.received(conn, credit);
        let Some(c) = clients.get_mut(conn) else {
            return Ok(());
        };
        match c.stage {
            Stage::Greeting | Stage::Closing => Ok(()),
            Stage::Connecting => {
                c.early.push_back((packet, credit));
                Ok(())
            }
            Stage::Serving => self.request(conn, packet, credit),
        }
    }

    /// Serves a request of an established session.
    pub(super) fn request(
        &mut self,
        conn: ConnId,
        packet: RequestPacket,
        credit: Credit,
    ) -> Result<(), ReplicaError> {
        let started_us = self.now().mono_us;
        let xid = packet.header.xid;
        let leading = self.leading();
        let state = self.state_mut();
        let Some(c) = state.clients.get_mut(conn) else {
            return Ok(());
        };
        if c.stage != Stage::Serving {
            return Ok(());
        }
        c.stats.last_op = super::op_name(&packet.request);
        c.stats.last_cxid = i64::from(xid);
        let session = c.session_id;
        if self.read_only.active() {
            // Every session here is read-only: the tree does not know it.
            self.read_only_request(conn, session, packet, credit);
            return Ok(());
        }
        let state = self.state_mut();
        if state.local_sessions.contains(session) {
            state.local_sessions.heard(session, started_us);
        } else if leading {
            state.sessions.heard(session, started_us);
        } else {
            state.sessions.touch(session);
        }
        if let Some(code) = crate::state::session_error(state, session) {
            self.fail_and_close(conn, xid, code, credit);
            return Ok(());
        }
        match &packet.request {
            Request::Auth(auth) => {
                let reply = self.authenticate(conn, xid, auth);
                self.reply_in_order(conn, reply, credit);
                Ok(())
            }
            Request::Sync(sync) => self.sync(conn, xid, sync.path.clone(), credit),
            request if tree::prep::is_write(request) => self.write(conn, session, packet, credit),
            _ => {
                let item = Owed::Read {
                    packet,
                    started_us,
                    credit,
                };
                self.state_mut().enqueue(conn, item);
                Ok(())
            }
        }
    }

    /// Answers a request with `reply` in its turn on the connection.
    pub(super) fn reply_in_order(&mut self, conn: ConnId, reply: ReplyPacket, credit: Credit) {
        let started_us = self.now().mono_us;
        let item = Owed::Reply {
            reply,
            started_us,
            credit,
        };
        self.state_mut().enqueue(conn, item);
    }

    /// Answers a request with an error in its turn, then closes the connection (in order:
    /// what the connection is owed before it still leaves first).
    pub(super) fn fail_and_close(
        &mut self,
        conn: ConnId,
        xid: i32,
        code: ErrorCode,
        credit: Credit,
    ) {
        let reply = ReplyPacket::error(xid, self.state().last_zxid().as_i64(), code);
        self.reply_in_order(conn, reply, credit);
        self.state_mut().clients.close_in_order(conn);
        self.state_mut().drain(conn);
    }

    pub(super) fn bad_request(&mut self, conn: ConnId, error: PacketError, credit: Credit) {
        self.state_mut().clients.received(conn, credit);
        let Some(header) = error.header else { return };
        tracing::debug!(conn, %error, "answering an undecodable request");
        let code = match error.error {
            proto::DecodeError::UnknownOpCode(_) | proto::DecodeError::NotARequest(_) => {
                ErrorCode::Unimplemented
            }
            _ => ErrorCode::MarshallingError,
        };
        let reply = ReplyPacket::error(header.xid, self.state().last_zxid().as_i64(), code);
        let serving = self
            .state()
            .clients
            .get(conn)
            .is_some_and(|c| c.stage == Stage::Serving);
        if serving {
            self.reply_in_order(conn, reply, credit);
        }
    }

    pub(super) fn authenticate(
        &mut self,
        conn: ConnId,
        xid: i32,
        auth: &proto::AuthPacket,
    ) -> ReplyPacket {
        let zxid = self.state().last_zxid();
        if auth.scheme != "digest" {
            return ReplyPacket::error(xid, zxid.as_i64(), ErrorCode::AuthFailed);
        }
        let ids = tree::acl::digest_auth_ids(&auth.auth, self.config.super_digest.as_deref());
        if ids.is_empty() {
            return ReplyPacket::error(xid, zxid.as_i64(), ErrorCode::AuthFailed);
        }
        if let Some(c) = self.state_mut().clients.get_mut(conn) {
            for id in ids {
                if !c.auth.contains(&id) {
                    c.auth.push(id);
                }
            }
        }
        ReplyPacket::ok(xid, zxid.as_i64(), proto::Response::Empty)
    }

    /// A write: queued in the connection's order, then proposed here (leader) or forwarded.
    fn write(
        &mut self,
        conn: ConnId,
        session: i64,
        packet: RequestPacket,
        credit: Credit,
    ) -> Result<(), ReplicaError> {
        let xid = packet.header.xid;
        let op = packet.request.opcode();
        let leader = self.leader_id();
        if !self.leading() && leader.is_none() {
            self.fail_and_close(conn, xid, ErrorCode::ConnectionLoss, credit);
            return Ok(());
        }
        let request = &packet.request;
        let local = self.local_write(conn, session, xid, request, credit)?;
        if let super::local_sessions::LocalWrite::Answered = local {
            return Ok(());
        }
        let started_us = self.now().mono_us;
        let state = self.state_mut();
        let auth = state
            .clients
            .get(conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default();
        if op == OpCode::CloseSession {
            // Nothing after a closeSession is served; its answer is the connection's last.
            state.sessions.start_closing(session);
            if let Some(c) = state.clients.get_mut(conn) {
                c.stage = Stage::Closing;
            }
        }
        state.pending.push(session, conn, xid);
        if let Some(c) = state.clients.get_mut(conn) {
            c.queue.push_back(Owed::Write {
                xid,
                op,
                started_us,
                credit,
            });
        }
        match leader {
            Some(leader) => {
                let mut request = bytes::BytesMut::new();
                proto::Encode::encode(&packet, &mut request);
                let frame = PeerFrame::Forward {
                    session,
                    cxid: xid,
                    auth,
                    request: request.freeze(),
                };
                self.send_peer(leader, frame);
                Ok(())
            }
            None => {
                let origin = self.config.my_id;
                self.submit(origin, session, xid, &packet.request, &auth)
            }
        }
    }

    /// On the leader: preps a write (from a local client, or forwarded by server `origin`) and
    /// proposes it. A write that fails its checks is proposed as an error transaction, as
    /// ZooKeeper does, so that the server holding the client answers it in order; so is a
    /// write from a server that no longer holds the session (SESSIONMOVED).
    pub(super) fn submit(
        &mut self,
        origin: u64,
        session: i64,
        cxid: i32,
        request: &Request,
        auth: &[proto::Id],
    ) -> Result<(), ReplicaError> {
        let Some(zxid) = self.replica.peer().next_zxid() else {
            return Ok(());
        };
        let local_session = self.is_local_session(origin, session);
        let ctx = PrepCtx {
            zxid,
            session_id: session,
            auth,
            extended_types: self.config.extended_types_enabled,
            skip_acl: false,
            local_session,
        };
        if let Request::Reconfig(reconfig) = request {
            return self.submit_reconfig(origin, &ctx, cxid, reconfig);
        }
        let state = &mut self.replica.app;
        let moved_ok = state.bugs.has(crate::bugs::ServerBug::MovedSessionWrites);
        let txn = if local_session || state.sessions.owned_by(session, origin) || moved_ok {
            tree::prep::prep(&state.tree, &mut state.outstanding, request, &ctx)
                .unwrap_or_else(tree::Txn::Error)
        } else {
            tree::Txn::Error(ErrorCode::SessionMoved)
        };
        self.propose(zxid, session, cxid, txn)
    }

    pub(super) fn propose(
        &mut self,
        zxid: zab::Zxid,
        session: i64,
        cxid: i32,
        txn: tree::Txn,
    ) -> Result<(), ReplicaError> {
        let record = self.txn_record(zxid, session, cxid, txn);
        let bytes = Bytes::from(record.encode());
        match self.replica.propose(bytes.clone())? {
            Ok(assigned) => {
                assert_eq!(
                    assigned.as_u64() as i64,
                    zxid.as_i64(),
                    "the zxid prep stamped is the zxid Zab assigned"
                );
                self.state_mut().prepped.proposed(bytes, record);
                Ok(())
            }
            Err(_) => {
                // Leadership was lost between the check and the proposal: nothing was
                // proposed, so what prep recorded is void.
                self.state_mut().outstanding.clear();
                Ok(())
            }
        }
    }

    /// A transaction with its header, as it is logged and replicated.
    pub(super) fn encode_txn(
        &self,
        zxid: zab::Zxid,
        session: i64,
        cxid: i32,
        txn: tree::Txn,
    ) -> Bytes {
        Bytes::from(self.txn_record(zxid, session, cxid, txn).encode())
    }

    /// A transaction with its header, stamped with this server's wall clock.
    fn txn_record(&self, zxid: zab::Zxid, session: i64, cxid: i32, txn: tree::Txn) -> TxnRecord {
        let header = TxnHeader {
            zxid,
            time_ms: self.now().wall_ms,
            session_id: session,
            cxid,
        };
        TxnRecord::new(header, txn)
    }
}
