//! Creating ledgers and claiming them for writing.
//!
//! A ledger has exactly one writer. The creator can write it at once ([`create_claimed`]); a
//! ledger created unclaimed (`quorum ledger create`) is claimed by the first client that CASes
//! its token into the metadata ([`claim`]), and every later claim is refused, so two writers
//! never assign the same entry ids with different payloads.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ledger::{BookieId, LedgerId, LedgerMetadata, LedgerState};

use crate::meta::{MetaError, MetaStore, Versioned};

/// Why a ledger could not be created or claimed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Metadata(#[from] MetaError),
    #[error("{wanted} bookies wanted, {registered} registered")]
    NotEnoughBookies { wanted: usize, registered: usize },
    #[error("bad ensemble: {0}")]
    BadShape(String),
    #[error("ledger {0} is {1}, not OPEN: it can no longer be written")]
    NotOpen(LedgerId, &'static str),
    #[error("ledger {0} is already claimed by writer {1}")]
    Claimed(LedgerId, String),
}

/// A token naming this writer, unique enough to tell two clients apart.
pub fn new_writer_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("w{}-{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// Picks `size` of the registered bookies, starting at a position that varies from ledger to
/// ledger so that ensembles spread over all bookies.
pub fn place(
    registered: &BTreeMap<BookieId, String>,
    size: usize,
    spread: u64,
) -> Result<Vec<BookieId>, OpenError> {
    let ids: Vec<BookieId> = registered.keys().copied().collect();
    if ids.len() < size || size == 0 {
        return Err(OpenError::NotEnoughBookies {
            wanted: size,
            registered: ids.len(),
        });
    }
    let start = (spread % ids.len() as u64) as usize;
    Ok((0..size).map(|i| ids[(start + i) % ids.len()]).collect())
}

/// Creates a ledger with ensemble size E, write quorum Qw and ack quorum Qa on registered
/// bookies, claimed by `writer` if given.
pub async fn create(
    meta: &MetaStore,
    ensemble: usize,
    write_quorum: usize,
    ack_quorum: usize,
    writer: Option<String>,
) -> Result<(LedgerId, Versioned), OpenError> {
    let registered = meta.bookies().await?;
    let spread = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let bookies = place(&registered, ensemble, spread)?;
    let mut metadata = LedgerMetadata::new(bookies, write_quorum, ack_quorum)
        .map_err(|e| OpenError::BadShape(e.0))?;
    metadata.writer = writer;
    Ok(meta.create(&metadata).await?)
}

/// Claims ledger `ledger` for the writer `token`.
pub async fn claim(
    meta: &MetaStore,
    ledger: LedgerId,
    token: &str,
) -> Result<Versioned, OpenError> {
    let mut current = meta.read(ledger).await?;
    loop {
        let metadata = &current.metadata;
        if metadata.state != LedgerState::Open {
            return Err(OpenError::NotOpen(ledger, metadata.state.name()));
        }
        match &metadata.writer {
            Some(owner) if owner == token => return Ok(current),
            Some(owner) => return Err(OpenError::Claimed(ledger, owner.clone())),
            None => {}
        }
        let mut claimed = metadata.clone();
        claimed.writer = Some(token.to_string());
        match meta.cas(ledger, &claimed, current.version).await {
            Ok(done) => return Ok(done),
            // Someone changed it first: look again (it may be our own claim after a lost reply).
            Err(MetaError::Conflict(now)) => current = now,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_spreads_over_the_registered_bookies() {
        let registered: BTreeMap<BookieId, String> = [
            (1, "a".to_string()),
            (2, "b".into()),
            (5, "c".into()),
            (7, "d".into()),
        ]
        .into();
        assert_eq!(place(&registered, 3, 0).unwrap(), vec![1, 2, 5]);
        assert_eq!(place(&registered, 3, 3).unwrap(), vec![7, 1, 2]);
        assert!(place(&registered, 5, 0).is_err());
        assert!(ledger::metadata::valid_writer(&new_writer_token()));
    }
}
