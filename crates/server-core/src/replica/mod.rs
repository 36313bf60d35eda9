//! The replica: the pure Zab core driven over a [`Storage`].
//!
//! This is the server's driver of `zab::Peer`. It carries out the core's actions in order, as
//! the core's contract demands: epoch files, truncations and installed snapshots are durable
//! before the next action runs, appends go to the storage, whose durability comes back as
//! `Input::LogDurable` (through [`StorageEvent`]), and committed transactions are handed to the
//! [`Application`]. The same replica runs over files in the server (its `replica::file_storage`)
//! and over a simulated disk in the simulator.

pub mod compaction_lag;
pub mod recover;
pub mod recovery;
pub mod snapshot_policy;
pub mod storage;

use bytes::Bytes;
use zab::{Action, Boot, Input, Message, NotLeader, Peer, Phase, ServerId, Snapshot, Txn, Zxid};

pub use recover::{recover, Recovered};
pub use storage::{FrozenSnapshot, Storage, StorageEvent, WriteSnapshot};

use crate::bugs::{Bugs, ServerBug};
use compaction_lag::CompactionLag;
use snapshot_policy::SnapshotPolicy;

/// The replicated state machine the replica drives.
pub trait Application {
    /// Applies a committed transaction (strictly in zxid order).
    fn deliver(&mut self, txn: &Txn);
    /// The state as of the last delivered transaction (a leader sends it to a follower too far
    /// behind for a DIFF).
    fn snapshot(&self) -> Snapshot;
    /// The state as of the last delivered transaction, for the storage to write later;
    /// `None` while the previous one is still being written (the replica asks again after
    /// the next delivery). By default, [`Application::snapshot`] serialized at once.
    fn freeze(&mut self) -> Option<FrozenSnapshot> {
        Some(self.snapshot().into())
    }
    /// The state for a follower's SNAP, at once: as [`Application::freeze`], but an earlier
    /// frozen state still held will do (the follower gets the rest as a DIFF).
    fn freeze_for_peer(&mut self) -> FrozenSnapshot {
        self.snapshot().into()
    }
    /// Replaces the whole state (restart, or SNAP from a leader).
    fn install(&mut self, snapshot: &Snapshot) -> Result<(), String>;
    /// Replaces the whole state at a restart. `logged` are the transactions the log holds
    /// after the snapshot, delivered once the server has synchronized with a leader (unless
    /// the leader truncates them): an application can make room for them now, while nothing
    /// waits on it. By default [`Application::install`].
    fn restore(&mut self, snapshot: &Snapshot, logged: &[Txn]) -> Result<(), String> {
        let _ = logged;
        self.install(snapshot)
    }
    /// A quorum confirmed this leader's leadership up to `round`.
    fn leadership_confirmed(&mut self, round: u64);
    /// The configuration in force at the state's last delivered transaction, when the state
    /// keeps one (the Zab core starts its history from it); `None`: the one in
    /// [`zab::Config`].
    fn membership(&self) -> Option<zab::Membership> {
        None
    }
}

/// Where messages to other servers go.
pub trait Transport {
    fn send(&mut self, to: ServerId, message: Message);
}

/// A transport for a single-server ensemble, which has nobody to talk to.
pub struct NoPeers;

impl Transport for NoPeers {
    fn send(&mut self, _to: ServerId, _message: Message) {}
}

/// Why the replica stopped. Storage errors are fatal: the process must stop rather than risk
/// acknowledging what is not on disk.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("storage: {0}")]
    Storage(#[from] ::storage::StorageError),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("refusing to start: {0}")]
    Unrecoverable(String),
}

/// The Zab core with its disk.
pub struct Replica<A: Application, S: Storage, T: Transport> {
    peer: Peer,
    storage: S,
    pub app: A,
    pub transport: T,
    out: Vec<Action>,
    /// When the next periodic snapshot is due.
    snapshot_policy: SnapshotPolicy,
    /// Where to compact the core's history: one snapshot behind the newest.
    compaction: CompactionLag,
    /// The broken variant it runs (the simulator's teeth; never one without the feature).
    bugs: Bugs,
}

/// What the replica needs to start.
pub struct ReplicaOptions {
    pub zab: zab::Config,
    pub snap_count: u64,
    pub snap_retain: usize,
    pub log_options: ::storage::LogOptions,
    /// A number that differs between starts of the process (see `zab::Boot::nonce`).
    pub nonce: u64,
    /// The version of the newest configuration this server activated (its dynamic file's;
    /// see `zab::Boot::activated`).
    pub activated: Zxid,
}

/// The activated version the core may trust: one at or below the snapshot (in force anyway), or
/// the zxid of a reconfiguration in the recovered log. Anything else (a dynamic file named after
/// an epoch, as ZooKeeper names its first one, or a file from another history) would make the
/// core take uncommitted configurations of the log for committed ones: it counts as none.
fn trusted_activation(activated: Zxid, boot: &Boot, decoder: zab::Decoder) -> Zxid {
    if activated <= boot.snapshot_zxid {
        return activated;
    }
    let carried = boot
        .log
        .iter()
        .any(|t| t.zxid == activated && decoder(&t.data).is_some());
    if carried {
        activated
    } else {
        tracing::warn!(%activated, "the dynamic file's version is no reconfiguration of this log");
        Zxid::ZERO
    }
}

impl<A: Application, S: Storage, T: Transport> Replica<A, S, T> {
    /// Restores `app` from what was recovered and starts the core over `storage`.
    pub fn start(
        options: ReplicaOptions,
        recovered: Recovered,
        mut app: A,
        storage: S,
        transport: T,
    ) -> Result<Self, ReplicaError> {
        let mut snapshot_zxid = Zxid::ZERO;
        let mut snapshot_bytes = 0;
        if let Some(snapshot) = &recovered.snapshot {
            snapshot_zxid = snapshot.zxid;
            snapshot_bytes = snapshot.data.len();
            // `recovered.log` holds only what follows the snapshot.
            app.restore(snapshot, &recovered.log)
                .map_err(ReplicaError::Snapshot)?;
        }
        let stored = recovered.epochs;
        tracing::info!(
            snapshot = %snapshot_zxid,
            log_records = recovered.log.len(),
            accepted_epoch = stored.accepted_epoch,
            current_epoch = stored.current_epoch,
            "recovered"
        );
        let boot = Boot {
            accepted_epoch: zab::Epoch(stored.accepted_epoch),
            accepted_leader: ServerId(stored.accepted_leader),
            current_epoch: zab::Epoch(stored.current_epoch),
            snapshot_zxid,
            log: recovered.log,
            nonce: options.nonce,
            membership: app.membership(),
            activated: Zxid::ZERO,
        };
        let boot = Boot {
            activated: trusted_activation(options.activated, &boot, options.zab.decoder),
            ..boot
        };
        // Servers, and starts of one, roll different snapshot points (`snapshot_policy`).
        let policy_seed = options.nonce ^ options.zab.id.0.rotate_left(32);
        let mut replica = Replica {
            peer: Peer::new(options.zab, boot),
            storage,
            app,
            transport,
            out: Vec::new(),
            snapshot_policy: SnapshotPolicy::new(options.snap_count, snapshot_bytes, policy_seed),
            compaction: CompactionLag::new(snapshot_zxid),
            bugs: Bugs::default(),
        };
        let mut out = std::mem::take(&mut replica.out);
        replica.peer.start(&mut out);
        replica.execute(out)?;
        Ok(replica)
    }

    /// Runs a deliberately broken variant (the simulator's teeth).
    pub fn with_bugs(mut self, bugs: Bugs) -> Self {
        self.bugs = bugs;
        self
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The storage, for the simulator's checks of what its disk holds.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, for a driver that runs its background work itself (the simulator).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    pub fn phase(&self) -> Phase {
        self.peer.phase()
    }

    pub fn step(&mut self, input: Input) -> Result<(), ReplicaError> {
        let mut out = std::mem::take(&mut self.out);
        self.peer.step(input, &mut out);
        self.execute(out)
    }

    /// What the storage reported, handed back by the driver.
    pub fn on_storage_event(&mut self, event: StorageEvent) -> Result<(), ReplicaError> {
        match event {
            StorageEvent::Durable(zxid) => self.step(Input::LogDurable(zxid)),
            StorageEvent::Fatal(error) => Err(ReplicaError::Storage(error)),
            StorageEvent::PeerSnapshot {
                for_server,
                snapshot,
            } => self.step(Input::SnapshotTaken {
                for_server,
                snapshot,
            }),
            StorageEvent::PeerLog {
                for_server,
                after,
                up_to,
                txns,
            } => {
                let txns = txns.map_err(|error| {
                    tracing::warn!(peer = for_server.0, %after, %up_to, %error,
                        "log read for a follower's DIFF failed: it gets a SNAP");
                    error.to_string()
                });
                self.step(Input::LogRead {
                    for_server,
                    after,
                    up_to,
                    txns,
                })
            }
            StorageEvent::SnapshotSaved { zxid, oldest_kept } => {
                tracing::debug!(%zxid, "snapshot durable");
                if let Some(oldest) = oldest_kept {
                    self.storage.purge_through(oldest);
                }
                // Only now all of it: the core counts a compacted history as durable
                // (`Input::Compact`), and the log records the snapshot covers may not have been
                // fsynced at its freeze (a follower delivers a COMMIT before its own log has
                // the proposal on disk). One snapshot behind: see `compaction_lag`.
                let through = if self.bugs.has(ServerBug::CompactBeforeSaved) {
                    zxid
                } else {
                    self.compaction.saved(zxid)
                };
                self.step(Input::Compact(through))
            }
        }
    }

    /// Starts a leadership-confirmation round (leader only; see `zab::Peer::confirm_leadership`).
    pub fn confirm_leadership(&mut self) -> Result<Option<u64>, ReplicaError> {
        let mut out = std::mem::take(&mut self.out);
        let round = self.peer.confirm_leadership(&mut out);
        self.execute(out)?;
        Ok(round)
    }

    /// Broadcasts a transaction (leader only).
    pub fn propose(&mut self, data: Bytes) -> Result<Result<Zxid, NotLeader>, ReplicaError> {
        let mut out = std::mem::take(&mut self.out);
        let result = self.peer.propose(data, &mut out);
        self.execute(out)?;
        Ok(result)
    }

    /// Broadcasts a reconfiguration (leader only; see `zab::Peer::propose_reconfig`).
    pub fn propose_reconfig(
        &mut self,
        data: Bytes,
    ) -> Result<Result<Zxid, zab::ReconfigRefused>, ReplicaError> {
        let mut out = std::mem::take(&mut self.out);
        let result = self.peer.propose_reconfig(data, &mut out);
        self.execute(out)?;
        Ok(result)
    }

    fn execute(&mut self, mut out: Vec<Action>) -> Result<(), ReplicaError> {
        let mut snapshot_requests = Vec::new();
        for action in out.drain(..) {
            match action {
                Action::Send { to, message } => self.transport.send(to, message),
                Action::PersistAcceptedEpoch { epoch, leader } => {
                    self.storage.store_accepted_epoch(epoch, leader)?
                }
                Action::PersistCurrentEpoch(epoch) => self.storage.store_current_epoch(epoch)?,
                Action::Append(txns) => self.storage.append(txns),
                Action::Truncate(zxid) => self.storage.truncate(zxid)?,
                Action::InstallSnapshot(snapshot) => {
                    self.app
                        .install(&snapshot)
                        .map_err(ReplicaError::Snapshot)?;
                    self.storage.install_snapshot(&snapshot)?;
                    self.snapshot_policy.taken(snapshot.data.len());
                    self.compaction.installed(snapshot.zxid);
                }
                Action::Deliver(txn) => {
                    self.app.deliver(&txn);
                    self.snapshot_policy.delivered(txn.data.len());
                }
                Action::TakeSnapshot { for_server } => snapshot_requests.push(for_server),
                Action::ReadLog {
                    for_server,
                    after,
                    up_to,
                } => self.storage.read_for_peer(for_server, after, up_to),
                Action::PhaseChanged { phase, epoch } => {
                    tracing::info!(phase = phase.name(), %epoch, "zab phase");
                }
                Action::LeadershipConfirmed { round } => self.app.leadership_confirmed(round),
                Action::Established { epoch, initial } => {
                    tracing::info!(%epoch, %initial, "established as leader");
                }
                Action::MembershipChanged(membership) => {
                    tracing::info!(version = %membership.version, voters = ?membership.voters,
                        observers = ?membership.observers, "configuration activated");
                }
            }
        }
        self.out = out;
        for for_server in snapshot_requests {
            // Serialized off the core task; the core goes on and hears back with
            // StorageEvent::PeerSnapshot.
            let snapshot = self.app.freeze_for_peer();
            tracing::info!(peer = for_server.0, zxid = %snapshot.zxid, "snapshot frozen for a follower");
            self.storage.serialize_for_peer(for_server, snapshot);
        }
        if self.snapshot_policy.due() {
            self.take_periodic_snapshot()?;
        }
        Ok(())
    }

    /// Freezes the state (O(1) for the data tree: see `tree::node_map`) and hands it to the
    /// storage to serialize and write. The core forgets the history up to the snapshot
    /// before (see `compaction_lag`) as far as the log is durable now, and the rest once this
    /// one, which covers it, is saved (`StorageEvent::SnapshotSaved`).
    fn take_periodic_snapshot(&mut self) -> Result<(), ReplicaError> {
        let Some(snapshot) = self.app.freeze() else {
            // The previous snapshot is still being written: the policy stays due.
            return Ok(());
        };
        let zxid = snapshot.zxid;
        self.snapshot_policy.taken(snapshot.size_hint);
        tracing::info!(%zxid, bytes = snapshot.size_hint, "snapshot frozen");
        self.storage.save_snapshot(snapshot);
        // The history only feeds DIFFs: forget now what the log already holds durably, up
        // to the freeze before, so memory stays bounded even while saves fail (the writer
        // logs and skips them). The rest waits for this snapshot on disk, because the core
        // counts what it forgets as durable.
        let before = self.compaction.frozen(zxid);
        let forget = if self.bugs.has(ServerBug::CompactBeforeSaved) {
            zxid
        } else {
            before.min(self.peer.durable_zxid())
        };
        self.step(Input::Compact(forget))
    }
}
