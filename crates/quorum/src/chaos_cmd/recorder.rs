//! The history being recorded: one event per invocation and per completion, timed from the
//! start of the workload, classified as ok, failed (definitely no effect) or indeterminate.

use chaos::history::{Event, Kind, OpKind};
use client::zk;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

pub(super) struct Recorder {
    pub(super) start: Instant,
    pub(super) next_id: AtomicU64,
    pub(super) events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub(super) fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub(super) fn invoke(
        &self,
        session: u32,
        op: OpKind,
        path: &str,
        f: impl FnOnce(&mut Event),
    ) -> Event {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut e = Event::invoke(id, session, op, path, self.now());
        f(&mut e);
        self.events.lock().unwrap().push(e.clone());
        e
    }

    pub(super) fn complete(&self, inv: &Event, kind: Kind, f: impl FnOnce(&mut Event)) {
        let mut e = Event::complete(inv, kind, self.now());
        f(&mut e);
        self.events.lock().unwrap().push(e);
    }

    /// Completes `inv` with the outcome of `result` (`ok` filled by `f`), returning whether the
    /// session is known to have ended.
    pub(super) fn finish<T>(
        &self,
        inv: &Event,
        result: Result<Result<T, zk::Error>, tokio::time::error::Elapsed>,
        f: impl FnOnce(&mut Event, T),
    ) -> bool {
        match result {
            Ok(Ok(v)) => {
                self.complete(inv, Kind::Ok, |e| f(e, v));
                false
            }
            Ok(Err(err)) => {
                let (kind, name) = classify(&err);
                self.complete(inv, kind, |e| e.error = Some(name));
                matches!(err, zk::Error::SessionExpired | zk::Error::ClientClosed)
            }
            Err(_) => {
                self.complete(inv, Kind::Info, |e| e.error = Some("timeout".into()));
                false
            }
        }
    }
}

/// `fail` when the server answered with an error (the operation had no effect), `info` otherwise.
fn classify(err: &zk::Error) -> (Kind, String) {
    use zk::Error as E;
    let definite = matches!(
        err,
        E::NoNode
            | E::NodeExists
            | E::BadVersion
            | E::NotEmpty
            | E::NoAuth
            | E::BadArguments(_)
            | E::InvalidAcl
            | E::NoChildrenForEphemerals
    );
    let name = match err {
        E::BadVersion => "bad-version".to_string(),
        E::NoNode => "no-node".to_string(),
        E::NodeExists => "node-exists".to_string(),
        E::ConnectionLoss => "connection-loss".to_string(),
        E::SessionExpired => "session-expired".to_string(),
        other => format!("{other:?}").to_lowercase(),
    };
    (if definite { Kind::Fail } else { Kind::Info }, name)
}

/// Fills a read's completion with the value and Stat read.
pub(super) fn read_result(e: &mut Event, (data, stat): (Vec<u8>, zk::Stat)) {
    e.value = Some(String::from_utf8_lossy(&data).into_owned());
    e.version = Some(stat.version);
    e.zxid = Some(stat.mzxid);
}
