//! The replica: the pure Zab core driven with real storage.
//!
//! This is the server's driver of `zab::Peer`. It carries out the core's actions in order, as
//! the core's contract demands: epoch files and truncations are durable before the next action
//! runs, appends go to the [`log_writer`] thread whose fsyncs come back as
//! `Input::LogDurable`, and committed transactions are handed to the [`Application`].

pub mod log_writer;
pub mod recovery;
pub mod snapshot_policy;
pub mod snapshot_writer;

use std::path::Path;

use bytes::Bytes;
use storage::{
    EpochStore, FileEpochStore, FileSnapshotStore, FileTxnLog, LogOptions, SnapshotStore,
    StorageError, TxnLog,
};
use zab::{Action, Boot, Input, Message, NotLeader, Peer, Phase, ServerId, Snapshot, Txn, Zxid};

use log_writer::{LogEvent, LogWriter};
use snapshot_policy::SnapshotPolicy;
use snapshot_writer::SnapshotWriter;

/// The replicated state machine the replica drives.
pub trait Application {
    /// Applies a committed transaction (strictly in zxid order).
    fn deliver(&mut self, txn: &Txn);
    /// The state as of the last delivered transaction.
    fn snapshot(&self) -> Snapshot;
    /// Replaces the whole state (restart, or SNAP from a leader).
    fn install(&mut self, snapshot: &Snapshot) -> Result<(), String>;
    /// A quorum confirmed this leader's leadership up to `round`.
    fn leadership_confirmed(&mut self, round: u64);
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
    Storage(#[from] StorageError),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error("refusing to start: {0}")]
    Unrecoverable(String),
}

/// The Zab core with its disk.
pub struct Replica<A: Application, T: Transport> {
    peer: Peer,
    log: LogWriter,
    epochs: FileEpochStore,
    snapshots: FileSnapshotStore,
    /// Saves the periodic snapshots off the core task.
    snapshot_writer: SnapshotWriter,
    pub app: A,
    transport: T,
    out: Vec<Action>,
    /// When the next periodic snapshot is due.
    snapshot_policy: SnapshotPolicy,
}

/// What the replica needs to start.
pub struct ReplicaOptions {
    pub zab: zab::Config,
    pub snap_count: u64,
    pub snap_retain: usize,
    pub log_options: LogOptions,
    /// A number that differs between starts of the process (see `zab::Boot::nonce`).
    pub nonce: u64,
}

impl<A: Application, T: Transport> Replica<A, T> {
    /// Recovers from `data_dir` (snapshots, epochs) and `log_dir` (the txn log) and starts the
    /// core. `on_log_event` is called from the log writer thread; it must hand the event back
    /// to whoever calls [`Replica::on_log_event`].
    pub fn open(
        data_dir: &Path,
        log_dir: &Path,
        options: ReplicaOptions,
        mut app: A,
        transport: T,
        on_log_event: impl Fn(LogEvent) + Send + Sync + 'static,
    ) -> Result<Self, ReplicaError> {
        let mut epochs = FileEpochStore::open(data_dir)?;
        let mut snapshots = FileSnapshotStore::open(data_dir)?;
        let mut log = FileTxnLog::open(log_dir, options.log_options)?;
        let stored = epochs.load()?;
        let mut snapshot_zxid = Zxid::ZERO;
        let mut snapshot_bytes = 0;
        if let Some(snapshot) = snapshots.load_newest()? {
            snapshot_zxid = Zxid::from_u64(snapshot.zxid);
            snapshot_bytes = snapshot.data.len();
            let snapshot = Snapshot {
                zxid: snapshot_zxid,
                data: Bytes::from(snapshot.data),
            };
            app.install(&snapshot).map_err(ReplicaError::Snapshot)?;
        }
        let found = recovery::Found {
            accepted_epoch: stored.accepted_epoch,
            current_epoch: stored.current_epoch,
            snapshot: snapshot_zxid,
            newest_snapshot_file: snapshots.list()?.last().map(|&z| Zxid::from_u64(z)),
            log_base: Zxid::from_u64(log.base_zxid()),
            log_last: Zxid::from_u64(log.last_zxid()),
        };
        recovery::check(&found).map_err(ReplicaError::Unrecoverable)?;
        let mut recovered = Vec::new();
        let last = log.last_zxid();
        let mut after = snapshot_zxid.as_u64();
        while after < last {
            let page = log.read_range(after, last, 16 << 20)?;
            let Some(end) = page.last().map(|e| e.zxid) else {
                break;
            };
            recovered.extend(page.into_iter().map(|e| Txn {
                zxid: Zxid::from_u64(e.zxid),
                data: Bytes::from(e.payload),
            }));
            after = end;
        }
        tracing::info!(
            snapshot = %snapshot_zxid,
            log_records = recovered.len(),
            accepted_epoch = stored.accepted_epoch,
            current_epoch = stored.current_epoch,
            "recovered"
        );
        let boot = Boot {
            accepted_epoch: zab::Epoch(stored.accepted_epoch),
            accepted_leader: ServerId(stored.accepted_leader),
            current_epoch: zab::Epoch(stored.current_epoch),
            snapshot_zxid,
            log: recovered,
            nonce: options.nonce,
        };
        let peer = Peer::new(options.zab, boot);
        let report = std::sync::Arc::new(on_log_event);
        let snapshot_report = report.clone();
        let snapshot_writer =
            SnapshotWriter::start(data_dir, options.snap_retain, move |e| snapshot_report(e))?;
        let log = LogWriter::start(log, move |e| report(e));
        let mut replica = Replica {
            peer,
            log,
            epochs,
            snapshots,
            snapshot_writer,
            app,
            transport,
            out: Vec::new(),
            snapshot_policy: SnapshotPolicy::new(options.snap_count, snapshot_bytes),
        };
        let mut out = std::mem::take(&mut replica.out);
        replica.peer.start(&mut out);
        replica.execute(out)?;
        Ok(replica)
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    pub fn phase(&self) -> Phase {
        self.peer.phase()
    }

    pub fn step(&mut self, input: Input) -> Result<(), ReplicaError> {
        let mut out = std::mem::take(&mut self.out);
        self.peer.step(input, &mut out);
        self.execute(out)
    }

    /// A log writer event, handed back from the writer thread.
    pub fn on_log_event(&mut self, event: LogEvent) -> Result<(), ReplicaError> {
        match event {
            LogEvent::Durable(zxid) => self.step(Input::LogDurable(zxid)),
            LogEvent::Fatal(error) => Err(ReplicaError::Storage(error)),
            LogEvent::SnapshotSaved { zxid, oldest_kept } => {
                tracing::debug!(%zxid, "snapshot durable");
                if let Some(oldest) = oldest_kept {
                    self.log.purge_through(oldest);
                }
                Ok(())
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

    fn execute(&mut self, mut out: Vec<Action>) -> Result<(), ReplicaError> {
        let mut snapshot_requests = Vec::new();
        for action in out.drain(..) {
            match action {
                Action::Send { to, message } => self.transport.send(to, message),
                Action::PersistAcceptedEpoch { epoch, leader } => {
                    self.epochs.store_accepted_epoch(epoch.0, leader.0)?
                }
                Action::PersistCurrentEpoch(epoch) => self.epochs.store_current_epoch(epoch.0)?,
                Action::Append(txns) => self.log.append(txns),
                Action::Truncate(zxid) => self.log.truncate(zxid)?,
                Action::InstallSnapshot(snapshot) => {
                    self.app
                        .install(&snapshot)
                        .map_err(ReplicaError::Snapshot)?;
                    self.save_snapshot(&snapshot)?;
                    self.log.reset(snapshot.zxid)?;
                    self.snapshot_policy.taken(snapshot.data.len());
                }
                Action::Deliver(txn) => {
                    self.app.deliver(&txn);
                    self.snapshot_policy.delivered(txn.data.len());
                }
                Action::TakeSnapshot { for_server } => snapshot_requests.push(for_server),
                Action::PhaseChanged { phase, epoch } => {
                    tracing::info!(phase = phase.name(), %epoch, "zab phase");
                }
                Action::LeadershipConfirmed { round } => self.app.leadership_confirmed(round),
                Action::Established { epoch, initial } => {
                    tracing::info!(%epoch, %initial, "established as leader");
                }
            }
        }
        self.out = out;
        for for_server in snapshot_requests {
            let snapshot = self.app.snapshot();
            self.step(Input::SnapshotTaken {
                for_server,
                snapshot,
            })?;
        }
        if self.snapshot_policy.due() {
            let started = std::time::Instant::now();
            let snapshot = self.app.snapshot();
            let zxid = snapshot.zxid;
            self.snapshot_policy.taken(snapshot.data.len());
            // Serializing is the one part that holds up the core task: worth watching.
            tracing::info!(
                %zxid,
                bytes = snapshot.data.len(),
                ms = started.elapsed().as_millis() as u64,
                "snapshot taken"
            );
            self.snapshot_writer.save(snapshot);
            // The in-memory history only feeds DIFF syncs; the log on disk keeps every record
            // until the snapshot is durable (LogEvent::SnapshotSaved).
            self.step(Input::Compact(zxid))?;
        }
        Ok(())
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), ReplicaError> {
        let data = snapshot.data.clone();
        self.snapshots
            .save(snapshot.zxid.as_u64(), &mut |w| w.write_all(&data))?;
        tracing::info!(zxid = %snapshot.zxid, bytes = data.len(), "snapshot saved");
        Ok(())
    }
}
