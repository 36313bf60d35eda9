//! `sync`: the reads behind it see everything the leader proposed before the sync (applied on
//! the client's server first), and it is answered once the leader confirmed with a quorum that
//! it still leads, so sync-then-read is linearizable.

use std::collections::BTreeMap;

use super::Core;
use crate::clients::{ConnId, Credit, Owed};
use crate::peers::codec::PeerFrame;
use crate::replica::ReplicaError;
use crate::replica::Storage;

/// A sync the leader is answering: once everything up to `zxid` is committed and a quorum
/// confirmed leadership round `round`, the server `origin` is told.
#[derive(Debug)]
struct PendingSync {
    origin: u64,
    token: u64,
    zxid: i64,
    round: u64,
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
        let zxid = self.replica.peer().last_zxid().as_u64() as i64;
        if origin == self.config.my_id {
            self.local_sync_zxid(token, zxid);
        } else {
            self.send_peer(origin, PeerFrame::SyncZxid { token, zxid });
        }
        let Some(round) = self.replica.confirm_leadership()? else {
            return Ok(());
        };
        self.syncs.pending.push(PendingSync {
            origin,
            token,
            zxid,
            round,
        });
        self.settle_syncs();
        Ok(())
    }

    /// Answers the syncs whose confirmation round completed.
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
        for sync in done {
            if sync.origin == me {
                self.local_sync_confirmed(sync.token, sync.zxid);
            } else {
                let frame = PeerFrame::SyncDone {
                    token: sync.token,
                    zxid: sync.zxid,
                };
                self.send_peer(sync.origin, frame);
            }
        }
    }

    /// The leader named the zxid of one of this server's syncs.
    pub(super) fn local_sync_zxid(&mut self, token: u64, zxid: i64) {
        if let Some(&conn) = self.syncs.tokens.get(&token) {
            self.state_mut().sync_zxid(conn, token, zxid);
        }
    }

    /// The leader confirmed one of this server's syncs.
    pub(super) fn local_sync_confirmed(&mut self, token: u64, zxid: i64) {
        if let Some(conn) = self.syncs.tokens.remove(&token) {
            self.state_mut().sync_confirmed(conn, token, zxid);
        }
    }
}
