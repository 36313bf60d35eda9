//! The replica over files: the core's replica (`server_core::replica`, re-exported here) with
//! the server's [`FileStorage`] — epoch and snapshot files, the log written by the log writer
//! thread (group commit), periodic snapshots by the snapshot writer thread.

pub mod background_priority;
pub mod file_storage;
pub mod log_writer;
pub mod peer_snapshots;
pub mod snapshot_writer;

use std::path::Path;

pub use file_storage::FileStorage;
pub use server_core::replica::*;

/// Recovers from `data_dir` (snapshots, epochs) and `log_dir` (the txn log) and starts the
/// replica over them. `on_event` is called from the writer threads; it must hand the event back
/// to whoever calls [`Replica::on_storage_event`].
pub fn open<A: Application, T: Transport>(
    data_dir: &Path,
    log_dir: &Path,
    options: ReplicaOptions,
    app: A,
    transport: T,
    on_event: impl Fn(StorageEvent) + Send + Sync + 'static,
) -> Result<Replica<A, FileStorage, T>, ReplicaError> {
    let (storage, recovered) = FileStorage::open(
        data_dir,
        log_dir,
        options.log_options,
        options.snap_retain,
        on_event,
    )?;
    Replica::start(options, recovered, app, storage, transport)
}
