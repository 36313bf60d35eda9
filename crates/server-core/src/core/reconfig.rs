//! `reconfig` on the leader, and what the driver must do when the membership changes.
//!
//! The leader checks a reconfig in ZooKeeper's order (see [`crate::reconfig`]), stamps the new
//! configuration with the transaction's zxid and proposes it through the Zab core, which keeps
//! both quorums in force until it commits. The driver hears of configurations through
//! [`MembershipNews`]: the leader's proposal (so it can connect to joining servers before they
//! are members: they must sync first) and each activation (who to talk to, and the dynamic
//! file to write, as ZooKeeper writes one).

use bytes::Bytes;
use proto::{ErrorCode, ReconfigRequest};
use tree::prep::PrepCtx;

use super::Core;
use crate::config::DynamicConfig;
use crate::reconfig::{membership_of, next_config};
use crate::replica::{ReplicaError, Storage};

/// A configuration the driver must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipNews {
    /// This leader proposed it: connect to its servers too (until it is activated or not).
    Proposed(DynamicConfig),
    /// It is now in force here: talk to its servers only, and keep it on disk (the dynamic
    /// file) so that a restart knows it was committed.
    Activated(DynamicConfig),
}

impl<S: Storage> Core<S> {
    /// On the leader: preps a reconfig from a session of server `origin` and proposes it, or
    /// proposes the error it fails with (answered in the client's order, as other writes).
    pub(super) fn submit_reconfig(
        &mut self,
        origin: u64,
        ctx: &PrepCtx,
        cxid: i32,
        request: &ReconfigRequest,
    ) -> Result<(), ReplicaError> {
        let (zxid, session) = (ctx.zxid, ctx.session_id);
        let next = match self.prep_reconfig(origin, ctx, request) {
            Ok(next) => next,
            Err(code) => return self.propose(zxid, session, cxid, tree::Txn::Error(code)),
        };
        let txn = tree::Txn::Reconfig {
            data: Bytes::from(next.render()),
        };
        let bytes = self.encode_txn(zxid, session, cxid, txn);
        match self.replica.propose_reconfig(bytes)? {
            Ok(assigned) => {
                assert_eq!(assigned.as_u64(), zxid.as_u64(), "prep stamped Zab's zxid");
                tracing::info!(version = %zxid, "reconfiguration proposed");
                self.membership_news.push(MembershipNews::Proposed(next));
                Ok(())
            }
            Err(refused) => {
                // The core checked the same before (prep_reconfig): only leadership lost in
                // between gets here, and then nothing was proposed.
                tracing::info!(?refused, "reconfiguration not proposed");
                self.state_mut().outstanding.clear();
                Ok(())
            }
        }
    }

    /// ZooKeeper's checks, in its order; the configuration to propose, stamped with the zxid.
    fn prep_reconfig(
        &mut self,
        origin: u64,
        ctx: &PrepCtx,
        request: &ReconfigRequest,
    ) -> Result<DynamicConfig, ErrorCode> {
        if !self.config.reconfig_enabled {
            return Err(ErrorCode::ReconfigDisabled);
        }
        let state = &mut self.replica.app;
        // ZooKeeper's checkSession: a session gone is expired before it is moved.
        tree::prep::check_session(&state.tree, &mut state.outstanding, ctx)?;
        if !ctx.local_session && !state.sessions.owned_by(ctx.session_id, origin) {
            return Err(ErrorCode::SessionMoved);
        }
        if self.replica.peer().pending_membership().is_some() {
            return Err(ErrorCode::ReconfigInProgress);
        }
        // A standalone server has no ensemble to change (ZooKeeper: not a leader's request).
        let current = self
            .state()
            .current_config()
            .ok_or(ErrorCode::Unimplemented)?;
        if request.cur_config_id != -1 && request.cur_config_id as u64 != current.version {
            return Err(ErrorCode::BadVersion);
        }
        let mut next = next_config(request, &current, self.config.standalone_enabled)?;
        next.version = ctx.zxid.as_u64();
        self.replica
            .peer()
            .check_reconfig(&membership_of(&next))
            .map_err(|refused| match refused {
                zab::ReconfigRefused::InProgress => ErrorCode::ReconfigInProgress,
                zab::ReconfigRefused::NoQuorum => ErrorCode::NewConfigNoQuorum,
                zab::ReconfigRefused::NoVoters | zab::ReconfigRefused::NotAConfiguration => {
                    ErrorCode::BadArguments
                }
                zab::ReconfigRefused::NotLeader(_) => ErrorCode::ConnectionLoss,
            })?;
        let (_, _, acl) = self
            .state()
            .tree
            .get(tree::path::CONFIG)
            .ok_or(ErrorCode::NoNode)?;
        tree::acl::check_acl(acl, proto::perms::WRITE, ctx.auth, ctx.skip_acl)?;
        Ok(next)
    }

    /// After each event: a configuration newly in force becomes news for the driver and this
    /// server's own view of the members (`conf`, roles in `srvr` and `mntr`).
    ///
    /// The core may count a configuration active before this server's tree applies it: it
    /// heard from another server that the change committed (`zab` activates a committed
    /// configuration it holds, heard in an election). The news then waits until the tree
    /// applies that transaction — it is checked again after every event — so that the dynamic
    /// file is written and a restart does not find the change pending again.
    pub(super) fn notice_activation(&mut self) {
        let active = self.replica.peer().active_membership().version;
        if active == self.active_version {
            return;
        }
        match self.state().current_config() {
            Some(config) if config.version == active.as_u64() => {
                self.active_version = active;
                tracing::info!(version = %active, "configuration activated");
                self.config.set_dynamic_config(&config);
                self.membership_news.push(MembershipNews::Activated(config));
            }
            // Not applied yet: announced when it is.
            _ if self.state().last_zxid().as_u64() < active.as_u64() => {}
            // Activated at a restart that recovered it as committed: the configuration the
            // server started with already is that one.
            _ => {
                self.active_version = active;
                tracing::debug!(version = %active, "configuration activated ahead of the tree");
            }
        }
    }

    /// At start: a tree holding a newer configuration than the file the server read (a
    /// removed server keeps its last file; a file write that failed) is the one in force, and
    /// the driver hears of it as activated.
    pub(super) fn announce_config_at_start(&mut self) {
        let Some(config) = self.state().current_config() else {
            return;
        };
        let newer = config.version != self.config.config_version;
        if newer && config.version == self.active_version.as_u64() {
            self.config.set_dynamic_config(&config);
            self.membership_news.push(MembershipNews::Activated(config));
        }
    }

    /// What the driver must do about configurations since it last asked, in order.
    pub fn drain_membership_news(&mut self, into: &mut Vec<MembershipNews>) {
        into.append(&mut self.membership_news);
    }
}
