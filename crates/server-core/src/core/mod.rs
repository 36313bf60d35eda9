//! The core: one task owns the replica (the Zab core, the log, the data tree), the connection
//! table and the session bookkeeping, and handles events one at a time.
//!
//! The core does no IO and reads no clock. Each entry point takes the time with the event;
//! what it decides for clients leaves as [`ClientEffect`]s ([`Core::drain_effects`]), frames for
//! other servers go through the [`PeerNet`] handle, and storage through the replica.
//!
//! The concerns live in their own modules: [`handshake`] (connect requests, new and resumed
//! sessions), [`requests`] (routing reads, writes, syncs and auth), [`syncs`], [`expiry`]
//! (sessions, TTL and container nodes, connections that never start a session), [`peer`]
//! (frames from other servers) and [`view`] (what four-letter words and metrics report).

mod expiry;
mod handshake;
mod local_sessions;
mod outbox;
mod peer;
mod read_only;
#[cfg(test)]
mod read_only_tests;
mod reconfig;
mod requests;
mod syncs;
mod view;

use zab::Input;

use crate::clients::{ClientEffect, ClientEvent, ConnId, Credit};
use crate::clock::Now;
use crate::config::Config;
use crate::peers::codec::PeerFrame;
use crate::replica::{Replica, ReplicaError, Storage};
use crate::state::ServerState;

pub use outbox::PeerOutbox;
pub use reconfig::MembershipNews;
pub use view::Detail;

/// The replica as the core drives it: the server's state machine, over some storage, sending
/// to other servers through the core's outbox.
pub type ServerReplica<S> = Replica<ServerState, S, PeerOutbox>;

/// The core task's state.
pub struct Core<S: Storage> {
    pub config: Config,
    pub replica: ServerReplica<S>,
    syncs: syncs::Syncs,
    /// When the server serves read-only clients (`readonlymode.enabled`).
    read_only: crate::read_only::ReadOnlyMode,
    /// Whether this server served clients after the last event (to notice role changes).
    was_serving: bool,
    was_leading: bool,
    /// The version of the configuration in force when last looked (see `reconfig.rs`).
    active_version: zab::Zxid,
    /// Configurations the driver has not heard of yet.
    membership_news: Vec<MembershipNews>,
}

impl<S: Storage> Core<S> {
    pub fn new(config: Config, replica: ServerReplica<S>) -> Result<Core<S>, ReplicaError> {
        let tick_ms = config.tick_time.as_millis() as u64;
        let read_only = crate::read_only::ReadOnlyMode::new(config.read_only_enabled, tick_ms);
        let active_version = replica.peer().active_membership().version;
        let mut core = Core {
            config,
            replica,
            syncs: syncs::Syncs::default(),
            read_only,
            was_serving: false,
            was_leading: false,
            active_version,
            membership_news: Vec::new(),
        };
        core.init_config_node();
        core.announce_config_at_start();
        core.after_event()?;
        Ok(core)
    }

    /// `/zookeeper/config` shows the membership this server starts with, a pure function of
    /// its configuration, so replicas started from the same server lines hold the same node.
    /// Nothing fires: no client is connected yet.
    fn init_config_node(&mut self) {
        if let Some(dynamic) = self.config.dynamic_config() {
            let text = bytes::Bytes::from(dynamic.render());
            let version = zab::Zxid::from_u64(dynamic.version);
            self.state_mut().tree.init_config(text, version);
        }
    }

    /// Whether clients are served: on an established leader, or a follower in broadcast.
    fn serving(&self) -> bool {
        matches!(
            self.replica.phase(),
            zab::Phase::LeadingBroadcast | zab::Phase::FollowingBroadcast
        )
    }

    fn leading(&self) -> bool {
        self.replica.phase() == zab::Phase::LeadingBroadcast
    }

    /// The leader this server follows, while it follows one in broadcast.
    fn leader_id(&self) -> Option<u64> {
        match self.replica.phase() {
            zab::Phase::FollowingBroadcast => self.replica.peer().leader().map(|l| l.0),
            _ => None,
        }
    }

    fn state(&self) -> &ServerState {
        &self.replica.app
    }

    fn state_mut(&mut self) -> &mut ServerState {
        &mut self.replica.app
    }

    fn now(&self) -> Now {
        self.state().now
    }

    /// Every entry point starts here: the time of the event.
    fn begin(&mut self, now: Now) {
        self.state_mut().now = now;
    }

    /// The effects on client connections decided so far, in order.
    pub fn drain_effects(&mut self, into: &mut Vec<ClientEffect>) {
        self.state_mut().clients.drain_effects(into);
    }

    /// The frames for other servers decided so far (Zab's and the server's own), in order.
    pub fn drain_peer_frames(&mut self, into: &mut Vec<(u64, PeerFrame)>) {
        into.append(&mut self.replica.transport.frames);
    }

    /// Sends a frame to another server (in order with Zab's own).
    fn send_peer(&mut self, to: u64, frame: PeerFrame) {
        self.replica.transport.frames.push((to, frame));
    }

    /// Something happened on a client connection. An error is fatal for the server.
    pub fn client(&mut self, event: ClientEvent, now: Now) -> Result<(), ReplicaError> {
        self.begin(now);
        let result = match event {
            ClientEvent::Accepted { conn, remote } => {
                self.state_mut().clients.accept(conn, remote, now.mono_us);
                Ok(())
            }
            ClientEvent::Connect { conn, request } => self.connect(conn, request),
            ClientEvent::Request {
                conn,
                packet,
                bytes,
            } => self.receive(conn, packet, Credit::request(bytes)),
            ClientEvent::BadRequest { conn, error, bytes } => {
                self.bad_request(conn, error, Credit::request(bytes));
                Ok(())
            }
            ClientEvent::Written { conn, bytes } => {
                if self.state_mut().clients.written(conn, bytes) {
                    self.state_mut().drain(conn);
                }
                Ok(())
            }
            ClientEvent::Closed { conn } => {
                self.state_mut().clients.close(conn, false);
                Ok(())
            }
        };
        let after = self.after_event();
        result.and(after)
    }

    /// A frame from another server of the ensemble.
    pub fn peer(
        &mut self,
        from: u64,
        frame: crate::peers::codec::PeerFrame,
        now: Now,
    ) -> Result<(), ReplicaError> {
        self.begin(now);
        let result = self.peer_frame(from, frame);
        let after = self.after_event();
        result.and(after)
    }

    /// The connection to another server broke (and no new one is up: the driver checks).
    pub fn peer_disconnected(&mut self, peer: u64, now: Now) -> Result<(), ReplicaError> {
        self.begin(now);
        let result = self
            .replica
            .step(Input::PeerDisconnected(zab::ServerId(peer)));
        let after = self.after_event();
        result.and(after)
    }

    /// The storage reported (an fsync done, a snapshot saved, a fatal error).
    pub fn storage_event(
        &mut self,
        event: crate::replica::StorageEvent,
        now: Now,
    ) -> Result<(), ReplicaError> {
        self.begin(now);
        let result = self.replica.on_storage_event(event);
        let after = self.after_event();
        result.and(after)
    }

    /// One tick of Zab time (tickTime). A follower also tells the leader which sessions it
    /// heard from, so the leader does not expire them.
    pub fn tick(&mut self, now: Now) -> Result<(), ReplicaError> {
        self.begin(now);
        let result = self.replica.step(Input::Tick);
        if let Some(leader) = self.leader_id() {
            // Only sessions whose clients sent something (a ping will do) since the last tick:
            // a client that went silent on an open connection must still expire.
            let sessions = self.state_mut().sessions.take_touched();
            if !sessions.is_empty() {
                self.send_peer(leader, PeerFrame::Touch { sessions });
            }
        }
        let after = self.after_event();
        result.and(after)
    }

    /// Bookkeeping after every event: notices role changes, answers what became answerable,
    /// serves requests that waited for their session, and settles the clients' budgets.
    fn after_event(&mut self) -> Result<(), ReplicaError> {
        let serving = self.serving();
        let leading = self.leading();
        if self.was_serving && !serving {
            // Lost the leader or the quorum: clients go elsewhere (ZooKeeper does the same).
            tracing::info!("not serving clients until a leader is established");
            self.state_mut().close_all();
            self.syncs.forget_local();
        }
        if leading != self.was_leading {
            self.new_leadership(leading);
        }
        self.was_serving = serving;
        self.was_leading = leading;
        self.notice_activation();
        self.update_read_only();
        self.settle_syncs();
        self.serve_established()?;
        let backpressure = leading
            && proposals_in_flight(self.replica.peer())
                > self.state().clients.limits().global_outstanding_requests;
        let state = self.state_mut();
        state.forget_closed_connections();
        state.clients.backpressure = backpressure;
        state.clients.release_credit();
        Ok(())
    }

    /// What prep recorded under another leadership is void; a new leader restarts every
    /// session's clock instead of expiring sessions it did not watch.
    fn new_leadership(&mut self, leading: bool) {
        let now = self.now().mono_us;
        let state = self.state_mut();
        state.outstanding.clear();
        state.prepped.clear();
        // Confirmation rounds restart at 1 with every leadership: a round confirmed under an
        // earlier one says nothing about this one.
        state.confirmed_round = 0;
        let sessions: Vec<i64> = state.tree.sessions().iter().map(|(id, _)| id).collect();
        state.sessions.new_leadership(leading, &sessions, now);
        self.syncs.forget_leader();
    }

    /// Serves the requests that connections sent before their session was established.
    fn serve_established(&mut self) -> Result<(), ReplicaError> {
        while !self.state().established.is_empty() {
            let conns = std::mem::take(&mut self.state_mut().established);
            for conn in conns {
                self.serve_early(conn)?;
            }
        }
        Ok(())
    }

    fn serve_early(&mut self, conn: ConnId) -> Result<(), ReplicaError> {
        loop {
            let Some(c) = self.state_mut().clients.get_mut(conn) else {
                return Ok(());
            };
            let Some((packet, credit)) = c.early.pop_front() else {
                return Ok(());
            };
            self.request(conn, packet, credit)?;
        }
    }
}

/// Proposals a leader made that are not yet delivered.
fn proposals_in_flight(peer: &zab::Peer) -> u64 {
    let last = peer.last_zxid();
    let delivered = peer.delivered_zxid();
    if last.epoch == delivered.epoch {
        u64::from(last.counter.saturating_sub(delivered.counter))
    } else {
        u64::from(last.counter)
    }
}

/// The short name `cons` shows for a request's operation.
fn op_name(request: &proto::Request) -> &'static str {
    use proto::Request;
    match request {
        Request::Ping => "PING",
        Request::Create(_)
        | Request::Create2(_)
        | Request::CreateContainer(_)
        | Request::CreateTtl(_) => "CREA",
        Request::Delete(_) => "DELE",
        Request::Exists(_) => "EXIS",
        Request::GetData(_) => "GETD",
        Request::SetData(_) => "SETD",
        Request::GetAcl(_) => "GETA",
        Request::SetAcl(_) => "SETA",
        Request::GetChildren(_) | Request::GetChildren2(_) => "GETC",
        Request::Sync(_) => "SYNC",
        Request::Multi(_) => "MULT",
        Request::CloseSession => "CLOS",
        _ => "OTHR",
    }
}
