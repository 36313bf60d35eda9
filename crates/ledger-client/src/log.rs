//! A log of ledgers: a named, unbounded log built from ledgers, as Pulsar's managed ledger and
//! DistributedLog build theirs.
//!
//! The znode `/ledgers/logs/NAME` lists the log's ledgers in order. A writer takes the log over
//! in this order, and only then writes:
//! 1. read the list (and its znode version);
//! 2. recover every ledger of the last two that is not CLOSED: recovery fences it, so the
//!    previous writer can get nothing more acknowledged, and closes it at its last entry;
//! 3. create a new ledger, claimed by this writer;
//! 4. CAS the list, with the version read in 1, to the list plus the new ledger.
//!
//! If the CAS fails, another writer changed the list since step 1: this one gives up (and
//! deletes its unused ledger) rather than fence the other in turn, so two writers cannot take
//! the log from each other for ever. A second writer makes the first fail — the first one's
//! ledger is fenced under it — and never are both acknowledged at once: every entry the first
//! had acknowledged is in its ledger, closed before the second ledger exists in the list.
//!
//! Readers follow the list: every ledger in order, each up to its last entry (CLOSED) or its
//! last-add-confirmed (the open one at the tail).

use std::sync::Arc;
use std::time::Duration;

use client::zk;
use ledger::{EntryId, LedgerId, LedgerState};

use crate::meta::{MetaError, MetaStore};
use crate::open::{self, OpenError};
use crate::reader::{self, ReadError};
use crate::recovery::{self, RecoverError};
use crate::writer::{LedgerWriter, WriteError, WriteOptions};

/// Where logs live.
pub const LOGS: &str = "/ledgers/logs";
/// Most ledgers one log lists (a bound on what its znode makes a reader allocate).
pub const MAX_LOG_LEDGERS: usize = 100_000;
const HEADER: &str = "quorum-log 1";

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Metadata(#[from] MetaError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Recover(#[from] RecoverError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("log {0}: another writer changed it while this one took it over")]
    Superseded(String),
    #[error("log {0}: bad ledger list: {1}")]
    Corrupt(String, String),
    #[error("bad log name {0:?} (letters, digits, '.', '-', '_')")]
    BadName(String),
}

/// The znode of log `name`.
pub fn log_path(name: &str) -> Result<String, LogError> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        return Err(LogError::BadName(name.to_string()));
    }
    Ok(format!("{LOGS}/{name}"))
}

/// The list's znode bytes.
pub fn encode_list(ledgers: &[LedgerId]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for id in ledgers {
        text.push_str(&format!("{id}\n"));
    }
    text.into_bytes()
}

/// Parses the list; never panics on any input.
pub fn decode_list(bytes: &[u8]) -> Result<Vec<LedgerId>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("missing {HEADER:?} header"));
    }
    let mut ids = Vec::new();
    for line in lines {
        if ids.len() >= MAX_LOG_LEDGERS {
            return Err(format!("more than {MAX_LOG_LEDGERS} ledgers"));
        }
        ids.push(
            line.parse()
                .map_err(|_| format!("bad ledger id {line:?}"))?,
        );
    }
    Ok(ids)
}

/// Reads log `name`'s ledger list and its znode version, creating an empty log if missing.
async fn read_list(meta: &MetaStore, name: &str) -> Result<(Vec<LedgerId>, i32), LogError> {
    let path = log_path(name)?;
    let zk = meta.session();
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    match zk.create(LOGS, b"", &persistent).await {
        Ok(_) | Err(zk::Error::NodeExists) => {}
        Err(e) => return Err(MetaError::from(e).into()),
    }
    loop {
        match zk.get_data(&path).await {
            Ok((bytes, stat)) => {
                let ids = decode_list(&bytes).map_err(|e| LogError::Corrupt(name.into(), e))?;
                return Ok((ids, stat.version));
            }
            Err(zk::Error::NoNode) => {
                match zk.create(&path, &encode_list(&[]), &persistent).await {
                    Ok(_) | Err(zk::Error::NodeExists) => continue,
                    Err(e) => return Err(MetaError::from(e).into()),
                }
            }
            Err(e) => return Err(MetaError::from(e).into()),
        }
    }
}

/// The ledgers of log `name`, in order.
pub async fn ledgers(meta: &MetaStore, name: &str) -> Result<Vec<LedgerId>, LogError> {
    Ok(read_list(meta, name).await?.0)
}

/// How a log writer makes its ledger.
#[derive(Clone, Debug)]
pub struct LogOptions {
    pub ensemble: usize,
    pub write_quorum: usize,
    pub ack_quorum: usize,
    pub write: WriteOptions,
    /// How long the recovery of the previous writer's ledger may take.
    pub recovery_deadline: Duration,
}

/// Takes log `name` over (see the module docs) and returns the writer of its new ledger.
pub async fn take_over(
    meta: Arc<MetaStore>,
    name: &str,
    options: LogOptions,
) -> Result<LedgerWriter, LogError> {
    let (list, version) = read_list(&meta, name).await?;
    for &id in list.iter().rev().take(2) {
        if meta.read(id).await?.metadata.state != LedgerState::Closed {
            let timeout = options.write.request_timeout;
            recovery::recover(meta.clone(), id, timeout, options.recovery_deadline).await?;
        }
    }
    let token = open::new_writer_token();
    let (id, versioned) = open::create(
        &meta,
        options.ensemble,
        options.write_quorum,
        options.ack_quorum,
        Some(token),
    )
    .await?;
    let mut longer = list;
    longer.push(id);
    if longer.len() > MAX_LOG_LEDGERS {
        return Err(LogError::Corrupt(
            name.into(),
            format!("more than {MAX_LOG_LEDGERS} ledgers"),
        ));
    }
    let path = log_path(name)?;
    match meta
        .session()
        .set_data(&path, &encode_list(&longer), Some(version))
        .await
    {
        Ok(_) => {}
        Err(zk::Error::BadVersion) => {
            // Unused and never listed: nobody will miss it.
            let _ = meta
                .session()
                .delete(&crate::meta::ledger_path(id), None)
                .await;
            return Err(LogError::Superseded(name.into()));
        }
        Err(e) => return Err(MetaError::from(e).into()),
    }
    let bookies = meta.bookies().await?;
    Ok(LedgerWriter::spawn(
        id,
        versioned,
        meta,
        bookies,
        options.write,
    )?)
}

/// Reads log `name` from its first ledger, handing each entry to `sink` with its position;
/// returns how many entries were read.
pub async fn read(
    meta: &MetaStore,
    name: &str,
    request_timeout: Duration,
    deadline: Duration,
    mut sink: impl FnMut(LedgerId, EntryId, Vec<u8>),
) -> Result<u64, LogError> {
    let mut count = 0;
    for id in ledgers(meta, name).await? {
        reader::read(
            meta,
            id,
            0,
            EntryId::MAX,
            request_timeout,
            deadline,
            |entry, payload| {
                count += 1;
                sink(id, entry, payload)
            },
        )
        .await?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_bad_ones_are_refused() {
        assert_eq!(
            decode_list(&encode_list(&[3, 7, 12])).unwrap(),
            vec![3, 7, 12]
        );
        assert_eq!(decode_list(&encode_list(&[])).unwrap(), Vec::<u64>::new());
        assert!(decode_list(b"quorum-log 2\n1\n").is_err());
        assert!(decode_list(b"quorum-log 1\nx\n").is_err());
        assert!(log_path("a/b").is_err());
        assert!(log_path("orders-2026").is_ok());
    }
}
