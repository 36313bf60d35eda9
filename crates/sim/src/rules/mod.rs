//! Per-step protocol rules, checked beside the end-to-end invariants of [`crate::checker`].
//!
//! The end-to-end checks see a broken rule only when it has a visible consequence (a lost or
//! diverging commit), which many runs never produce: a follower that follows a stale epoch, or
//! acknowledges before its fsync, usually gets away with it. These rules judge each step
//! itself, from what the world saw — the messages delivered, what each simulated disk holds —
//! never from a peer's own bookkeeping, so a core that lies to itself is still caught. Each
//! rule lives in its own module and cites the rule of the Zab paper (Junqueira, Reed, Serafini,
//! DSN 2011) or of ZooKeeper's `Zab.tla` it enforces:
//! - [`promise`]: a durable promise is never broken, durable epochs never go down, and the
//!   epoch files keep the old or the new value across a crash;
//! - [`durable`]: a server acknowledges only what its disk durably holds;
//! - [`quorum`]: epochs are chosen, leaders established, transactions committed and
//!   leadership confirmed only with a quorum behind them;
//! - [`sync`]: synchronization leaves a follower with exactly the leader's history.

use zab::{Epoch, Membership, Message, Phase, ServerId, Zxid};

use crate::app::App;
use crate::checker::Violation;
use crate::disk::Disk;
use crate::trace::Persisted;

pub mod configs;
pub mod durable;
pub mod promise;
pub mod quorum;
pub mod sync;

/// What the world shows a rule about one server: its id, its disk and its state machine.
#[derive(Clone, Copy)]
pub struct Server<'a> {
    pub id: ServerId,
    pub disk: &'a Disk,
    pub app: &'a App,
}

/// Every per-step rule, with the state each needs.
pub struct Rules {
    /// Off: every check passes (see `Options::step_rules`).
    enabled: bool,
    promise: promise::Promises,
    quorum: quorum::Quorums,
    sync: sync::Syncs,
}

impl Rules {
    /// Rules for `servers` servers, started in configuration `initial`; `enabled` false
    /// checks nothing.
    pub fn new(initial: Membership, servers: usize, enabled: bool) -> Rules {
        Rules {
            enabled,
            promise: promise::Promises::new(servers),
            quorum: quorum::Quorums::new(initial, servers),
            sync: sync::Syncs::default(),
        }
    }

    /// `server` sends `message` to `to` (checked after it is traced, before it travels).
    /// `canonical` is the delivered sequence (zxid, payload hash) of the end-to-end checker.
    pub fn on_send(
        &mut self,
        server: Server<'_>,
        to: ServerId,
        message: &Message,
        canonical: &[(Zxid, u64)],
    ) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        promise::check_answer(server, message)?;
        durable::check_answer(server, message)?;
        self.quorum.on_send(server, message)?;
        self.sync.on_send(server, to, message, canonical)
    }

    /// `message` from `from` reaches `server`, which is up (before it steps on it).
    pub fn on_receive(&mut self, server: Server<'_>, from: ServerId, message: &Message) {
        self.promise.on_receive(server, message);
        self.quorum.on_receive(server.id, from, message);
    }

    /// The step that began with [`Rules::on_receive`] is over.
    pub fn end_step(&mut self) {
        self.promise.end_step();
    }

    /// `server` carries out an action that takes something from the leader it follows (appends,
    /// truncates, installs, delivers or records currentEpoch), named `what`.
    pub fn on_accept(&self, server: Server<'_>, what: &str) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        self.promise.check_accept(server, what)
    }

    /// `server` is about to write acceptedEpoch (its disk still holds the old value).
    pub fn on_persist_accepted(
        &mut self,
        server: Server<'_>,
        epoch: Epoch,
    ) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        promise::check_accepted_write(server, epoch)?;
        self.quorum.on_choose_epoch(server, epoch)
    }

    /// `server` is about to write currentEpoch (its disk still holds the old value).
    pub fn on_persist_current(
        &mut self,
        server: Server<'_>,
        epoch: Epoch,
    ) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        promise::check_current_write(server, epoch)
    }

    /// A write of acceptedEpoch completed: the disk must hold it from now on.
    pub fn on_accepted_written(&mut self, server: ServerId, epoch: Epoch, leader: ServerId) {
        self.promise.written(server, |files| {
            files.accepted = epoch;
            files.accepted_leader = leader;
        });
    }

    /// A write of currentEpoch completed: the disk must hold it from now on.
    pub fn on_current_written(&mut self, server: ServerId, epoch: Epoch) {
        self.promise.written(server, |files| files.current = epoch);
    }

    pub fn on_phase(
        &mut self,
        server: Server<'_>,
        phase: Phase,
        epoch: Epoch,
    ) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        promise::check_phase(server, phase, epoch)?;
        self.quorum.on_phase(server, phase, epoch)
    }

    pub fn on_established(
        &mut self,
        server: Server<'_>,
        epoch: Epoch,
        initial: Zxid,
    ) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        self.quorum.on_established(server, epoch, initial)
    }

    pub fn on_deliver(&mut self, server: Server<'_>, zxid: Zxid) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        self.quorum.check_commit(server, zxid, "delivered")
    }

    pub fn on_confirmed(&self, server: Server<'_>, round: u64) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        self.quorum.check_confirmed(server, round)
    }

    /// `server` crashed; `interrupted` is the epoch write it was in the middle of, if any: its
    /// epoch files may hold that value or the one before.
    pub fn on_crash(&mut self, server: ServerId, interrupted: Option<Persisted>) {
        self.promise.crashed(server, interrupted);
        self.quorum.crashed(server);
    }

    /// `server` restarts from its disk.
    pub fn on_restart(&mut self, server: Server<'_>) -> Result<(), Violation> {
        if !self.enabled {
            return Ok(());
        }
        self.promise.check_restart(server)
    }
}

fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}
