//! Ledger metadata in Quorum, through the ZooKeeper protocol.
//!
//! Layout (see docs/ledgers.md): `/ledgers/L<id, 10 digits>` holds a ledger's metadata,
//! `/ledgers/idgen/id-<seq>` hands out ids (a persistent sequential create; the sequence number
//! is the id, and the node is deleted at once), `/ledgers/bookies/<id>` are the bookies'
//! ephemeral registrations. Every change to a ledger's metadata is a `setData` with the version
//! read ([`MetaStore::cas`]); that conditional write is what orders the writer's ensemble changes
//! and the recoveries' state changes into one history.
//!
//! Lost replies: a request whose reply is lost may or may not have been applied. A retried
//! create that finds the node, or a retried CAS that finds a newer version, reads the node back:
//! if it holds exactly what we wrote, our write landed ([`MetaStore::cas`] reports success),
//! otherwise someone else's did (a conflict, with what they wrote).

use std::collections::BTreeMap;
use std::time::Duration;

use client::zk;
use ledger::metadata::MetadataError;
use ledger::{BookieId, LedgerId, LedgerMetadata};

/// The root of everything ledgers keep in Quorum.
pub const ROOT: &str = "/ledgers";
const IDGEN: &str = "/ledgers/idgen";
/// Where bookies register (ephemeral znodes named by their id, data "host:port").
pub const BOOKIES: &str = "/ledgers/bookies";
/// How many times a request that failed with a connection error is retried.
const RETRIES: u32 = 20;
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The path of ledger `id`'s metadata.
pub fn ledger_path(id: LedgerId) -> String {
    format!("{ROOT}/L{id:010}")
}

/// A ledger's metadata with the znode version it was read at (the CAS's expected version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    pub metadata: LedgerMetadata,
    pub version: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("no ledger {0}")]
    NoLedger(LedgerId),
    #[error("ledger {0}: {1}")]
    Corrupt(LedgerId, MetadataError),
    #[error("ledger metadata changed by someone else")]
    Conflict(Versioned),
    #[error("bookie registration {0:?} is not a bookie id")]
    BadBookie(String),
    #[error("Quorum: {0}")]
    Zk(#[from] zk::Error),
}

/// Whether a failed request may be retried (the outcome is unknown, not refused).
///
/// The client crate hands the requests in flight on a connection that broke the error that
/// broke it: `ConnectionLoss`, or a `Custom` error ("no response from connection in …ms" when a
/// server stops answering, an IO error). Either way the session goes on (disconnected, then
/// reconnected elsewhere) and the request's outcome is unknown, so both are retried; before,
/// a writer stopped whenever a Quorum server paused for a second.
fn retryable(error: &zk::Error) -> bool {
    matches!(
        error,
        zk::Error::ConnectionLoss
            | zk::Error::Timeout
            | zk::Error::Throttled
            | zk::Error::Custom(_)
    )
}

/// The ledger metadata store: a ZooKeeper session to Quorum.
pub struct MetaStore {
    zk: zk::Client,
}

impl MetaStore {
    /// Wraps a session, creating the ledger root nodes if they are missing.
    pub async fn new(zk: zk::Client) -> Result<MetaStore, MetaError> {
        let store = MetaStore { zk };
        for path in [ROOT, IDGEN, BOOKIES] {
            store.ensure(path).await?;
        }
        Ok(store)
    }

    /// The session, for callers that need more of Quorum.
    pub fn session(&self) -> &zk::Client {
        &self.zk
    }

    async fn ensure(&self, path: &str) -> Result<(), MetaError> {
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let result = self.retry(|| self.zk.create(path, b"", &options)).await;
        match result {
            Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `op` until it succeeds, fails for a reason other than a lost connection, or the
    /// retries run out.
    async fn retry<T, F, Fut>(&self, mut op: F) -> Result<T, zk::Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, zk::Error>>,
    {
        let mut tries = 0;
        loop {
            match op().await {
                Err(e) if retryable(&e) && tries < RETRIES => {
                    tries += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                other => return other,
            }
        }
    }

    /// Allocates a fresh ledger id and stores `metadata` under it.
    pub async fn create(
        &self,
        metadata: &LedgerMetadata,
    ) -> Result<(LedgerId, Versioned), MetaError> {
        let options = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        let prefix = format!("{IDGEN}/id-");
        let (_, sequence) = self
            .retry(|| self.zk.create(&prefix, b"", &options))
            .await?;
        let id = sequence.into_i64() as LedgerId;
        // The id node has done its job; a failed delete only leaves a harmless empty node.
        let _ = self.zk.delete(&format!("{prefix}{sequence}"), None).await;
        let bytes = metadata.encode();
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let path = ledger_path(id);
        match self
            .retry(|| self.zk.create(&path, &bytes, &persistent))
            .await
        {
            Ok((stat, _)) => Ok((
                id,
                Versioned {
                    metadata: metadata.clone(),
                    version: stat.version,
                },
            )),
            // Our create landed and its reply was lost (nobody else uses a fresh id).
            Err(zk::Error::NodeExists) => Ok((id, self.read(id).await?)),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads ledger `id`'s metadata.
    pub async fn read(&self, id: LedgerId) -> Result<Versioned, MetaError> {
        let path = ledger_path(id);
        match self.retry(|| self.zk.get_data(&path)).await {
            Ok((bytes, stat)) => {
                let metadata =
                    LedgerMetadata::decode(&bytes).map_err(|e| MetaError::Corrupt(id, e))?;
                Ok(Versioned {
                    metadata,
                    version: stat.version,
                })
            }
            Err(zk::Error::NoNode) => Err(MetaError::NoLedger(id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces ledger `id`'s metadata with `metadata` if its version is still `expected`.
    /// Returns the new version, or `Conflict` with what the znode holds now.
    pub async fn cas(
        &self,
        id: LedgerId,
        metadata: &LedgerMetadata,
        expected: i32,
    ) -> Result<Versioned, MetaError> {
        let path = ledger_path(id);
        let bytes = metadata.encode();
        let mut tries = 0;
        loop {
            match self.zk.set_data(&path, &bytes, Some(expected)).await {
                Ok(stat) => {
                    return Ok(Versioned {
                        metadata: metadata.clone(),
                        version: stat.version,
                    })
                }
                Err(zk::Error::BadVersion) => {
                    let now = self.read(id).await?;
                    // A retry after a lost reply finds our own write one version on.
                    if tries > 0 && now.metadata == *metadata && now.version == expected + 1 {
                        return Ok(now);
                    }
                    return Err(MetaError::Conflict(now));
                }
                Err(zk::Error::NoNode) => return Err(MetaError::NoLedger(id)),
                Err(e) if retryable(&e) && tries < RETRIES => {
                    tries += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The registered bookies and their addresses.
    pub async fn bookies(&self) -> Result<BTreeMap<BookieId, String>, MetaError> {
        let names = self.retry(|| self.zk.list_children(BOOKIES)).await?;
        let mut bookies = BTreeMap::new();
        for name in names {
            let id: BookieId = name
                .parse()
                .map_err(|_| MetaError::BadBookie(name.clone()))?;
            let path = format!("{BOOKIES}/{name}");
            match self.retry(|| self.zk.get_data(&path)).await {
                Ok((data, _)) => {
                    bookies.insert(id, String::from_utf8_lossy(&data).into_owned());
                }
                // Gone between the listing and the read: not registered any more.
                Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(bookies)
    }

    /// Ids of every ledger, in increasing order.
    pub async fn ledgers(&self) -> Result<Vec<LedgerId>, MetaError> {
        let names = self.retry(|| self.zk.list_children(ROOT)).await?;
        let mut ids: Vec<LedgerId> = names
            .iter()
            .filter_map(|n| n.strip_prefix('L').and_then(|d| d.parse().ok()))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
}
