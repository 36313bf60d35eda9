//! What the leader answers only once a quorum confirmed that it still leads (a deposed leader
//! that has not noticed yet must not answer): `sync`, whose reads behind it see everything the
//! leader proposed before it, so sync-then-read is linearizable; and a session resumed on some
//! server, so that the move is recorded by the leader that counts (see core/handshake.rs).

use std::collections::BTreeMap;
use zab::Zxid;

use super::Core;
use crate::clients::{ConnId, Credit, Owed};
use crate::peers::codec::PeerFrame;
use crate::replica::ReplicaError;
use crate::replica::Storage;

/// What the leader answers once a quorum confirmed leadership round `round`.
#[derive(Debug)]
struct PendingSync {
    round: u64,
    what: Awaiting,
}

#[derive(Debug)]
enum Awaiting {
    /// A sync from server `origin`: everything up to `zxid` was proposed before it.
    Sync { origin: u64, token: u64, zxid: Zxid },
    /// A session resumed at server `origin` (`conn` when here): its timeout, 0 if gone.
    Resume {
        origin: u64,
        session: i64,
        timeout_ms: i32,
        conn: Option<ConnId>,
    },
}

/// The syncs in flight.
#[derive(Debug, Default)]
pub(super) struct Syncs {
    /// On the leader: syncs waiting for commit and confirmation.
    pending: Vec<PendingSync>,
    /// Sync tokens of local connections: token → connection.
    tokens: BTreeMap<u64, ConnId>,
    next_token: u64,
}

impl Syncs {
    /// Forgets the local connections' syncs (they were closed).
    pub(super) fn forget_local(&mut self) {
        self.tokens.clear();
    }

    /// Forgets what the leader was answering (leadership changed hands).
    pub(super) fn forget_leader(&mut self) {
        self.pending.clear();
    }
}

impl<S: Storage> Core<S> {
    /// A client's sync: queued in its connection's order, and asked of the leader.
    pub(super) fn sync(
        &mut self,
        conn: ConnId,
        xid: i32,
        path: String,
        credit: Credit,
    ) -> Result<(), ReplicaError> {
        self.syncs.next_token += 1;
        let token = self.syncs.next_token;
        let item = Owed::Sync {
            token,
            zxid: None,
            confirmed: false,
            xid,
            path,
            started_us: self.now().mono_us,
            credit,
        };
        self.state_mut().enqueue(conn, item);
        self.syncs.tokens.insert(token, conn);
        if self.leading() {
            self.leader_sync(self.config.my_id, token)
        } else if let Some(leader) = self.leader_id() {
            self.send_peer(leader, PeerFrame::Sync { token });
            Ok(())
        } else {
            self.state_mut().clients.close(conn, false);
            Ok(())
        }
    }

    /// On the leader: a sync from `origin`. Its zxid (everything proposed so far) is named at
    /// once — before anything proposed after it can be committed, so the reads behind the sync
    /// can be computed in their place — and the sync is answered once a quorum confirmed that
    /// this server still leads.
    pub(super) fn leader_sync(&mut self, origin: u64, token: u64) -> Result<(), ReplicaError> {
        let zxid = self.replica.peer().last_zxid();
        if origin == self.config.my_id {
            self.local_sync_zxid(token, zxid);
        } else {
            self.send_peer(origin, PeerFrame::SyncZxid { token, zxid });
        }
        let Some(round) = self.replica.confirm_leadership()? else {
            return Ok(());
        };
        let what = Awaiting::Sync {
            origin,
            token,
            zxid,
        };
        self.syncs.pending.push(PendingSync { round, what });
        self.settle_syncs();
        Ok(())
    }

    /// On the leader: answers a resume of `session` at `origin` once a quorum confirmed this
    /// server still leads (`conn` is the client's connection when it is here).
    pub(super) fn confirm_resume(
        &mut self,
        origin: u64,
        session: i64,
        timeout_ms: i32,
        conn: Option<ConnId>,
    ) -> Result<(), ReplicaError> {
        let Some(round) = self.replica.confirm_leadership()? else {
            if let Some(conn) = conn {
                self.state_mut().clients.close(conn, false);
            }
            return Ok(());
        };
        let what = Awaiting::Resume {
            origin,
            session,
            timeout_ms,
            conn,
        };
        self.syncs.pending.push(PendingSync { round, what });
        self.settle_syncs();
        Ok(())
    }

    /// Answers what waited for a confirmation round that completed.
    pub(super) fn settle_syncs(&mut self) {
        if self.syncs.pending.is_empty() {
            return;
        }
        let confirmed = self.state().confirmed_round;
        let me = self.config.my_id;
        let (done, waiting): (Vec<PendingSync>, Vec<PendingSync>) =
            std::mem::take(&mut self.syncs.pending)
                .into_iter()
                .partition(|s| s.round <= confirmed);
        self.syncs.pending = waiting;
        for pending in done {
            match pending.what {
                Awaiting::Sync {
                    origin,
                    token,
                    zxid,
                } if origin == me => self.local_sync_confirmed(token, zxid),
                Awaiting::Sync {
                    origin,
                    token,
                    zxid,
                } => self.send_peer(origin, PeerFrame::SyncDone { token, zxid }),
                Awaiting::Resume {
                    session,
                    timeout_ms,
                    conn: Some(conn),
                    ..
                } => self.resumed(conn, session, (timeout_ms > 0).then_some(timeout_ms)),
                Awaiting::Resume {
                    origin,
                    session,
                    timeout_ms,
                    conn: None,
                } => self.send_peer(
                    origin,
                    PeerFrame::Attached {
                        session,
                        timeout_ms,
                    },
                ),
            }
        }
    }

    /// The leader named the zxid of one of this server's syncs.
    pub(super) fn local_sync_zxid(&mut self, token: u64, zxid: Zxid) {
        if let Some(&conn) = self.syncs.tokens.get(&token) {
            self.state_mut().sync_zxid(conn, token, zxid);
        }
    }

    /// The leader confirmed one of this server's syncs.
    pub(super) fn local_sync_confirmed(&mut self, token: u64, zxid: Zxid) {
        if let Some(conn) = self.syncs.tokens.remove(&token) {
            self.state_mut().sync_confirmed(conn, token, zxid);
        }
    }
}
