//! `quorum bench tree-memory`: resident memory per znode of the data tree alone, in this
//! process, with the allocator the server uses. Creates go through the server's own path: prep,
//! the record encoded as Zab carries it, decoded and applied, so each node's data and path are
//! allocated as a replica allocates them. The tree's shape and paths are those `quorum bench
//! run --workload create` leaves: 32 × 8 clients' sequences, numbered from 1, under one parent
//! named as that command names it. A server's resident memory adds its history, buffers and
//! sessions to this figure. Memory the allocator freed but has not returned yet (the table's
//! old copy when it doubled) counts, as it does in a server's RSS.

use bytes::Bytes;
use proto::{Acl, CreateRequest, Request};
use tree::{
    prep, prep_create_session, DataTree, Outstanding, PrepCtx, Txn, TxnHeader, TxnRecord, Zxid,
};

/// The session every create belongs to.
const SESSION: i64 = 7;

/// Arguments of `quorum bench tree-memory`.
#[derive(clap::Args)]
pub struct Args {
    /// Znodes to create.
    #[arg(long, default_value_t = 1_000_000)]
    znodes: u32,
    /// Bytes of data per znode.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// Freeze the tree for a snapshot after this many creates, as a server's periodic
    /// snapshot does; the creates that follow go to the overlay and are folded back once it
    /// is released.
    #[arg(long)]
    snapshot_at: Option<u32>,
    /// Creates made while that snapshot is held (a server holds it while it writes it).
    #[arg(long, default_value_t = 100_000)]
    snapshot_held_for: u32,
}

/// When a snapshot is held during the creates: from the `at`th create, for `held_for`.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotHeld {
    pub at: u32,
    pub held_for: u32,
}

/// What one run measured.
#[derive(Debug)]
pub struct Figures {
    pub znodes: usize,
    pub rss_before_bytes: u64,
    pub rss_after_bytes: u64,
    /// The longest one create took to apply: a step that grows with the tree (a table doubling
    /// in one go) shows here.
    pub longest_apply: std::time::Duration,
    /// The longest [`BATCH`] creates in a row took, prep to apply: a follower applies a
    /// leader's COMMIT of many transactions in one go, so work spread over a few hundred
    /// changes still holds its core at once.
    pub longest_batch: std::time::Duration,
}

/// Creates timed together for [`Figures::longest_batch`].
const BATCH: u32 = 512;

impl Figures {
    pub fn bytes_per_znode(&self) -> f64 {
        self.rss_after_bytes.saturating_sub(self.rss_before_bytes) as f64
            / self.znodes.max(1) as f64
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let held = args.snapshot_at.map(|at| SnapshotHeld {
        at,
        held_for: args.snapshot_held_for,
    });
    let f = measure(args.znodes, args.value_size, held)?;
    println!(
        "{} znodes of {} bytes: RSS {} -> {} MiB, {:.0} bytes per znode; longest apply {:.1} ms, \
         longest {BATCH} creates {:.1} ms",
        f.znodes,
        args.value_size,
        f.rss_before_bytes >> 20,
        f.rss_after_bytes >> 20,
        f.bytes_per_znode(),
        f.longest_apply.as_secs_f64() * 1e3,
        f.longest_batch.as_secs_f64() * 1e3
    );
    Ok(())
}

/// Creates `znodes` znodes of `value_size` bytes under one parent and reads the RSS around it,
/// holding a frozen snapshot of the tree during some of them if asked.
pub fn measure(
    znodes: u32,
    value_size: usize,
    held: Option<SnapshotHeld>,
) -> Result<Figures, String> {
    let mut tree = DataTree::new();
    let mut pending = Outstanding::new();
    let mut counter = 0;
    let mut longest = std::time::Duration::ZERO;
    let mut create = |tree: &mut DataTree, pending: &mut Outstanding, path: Option<String>| {
        counter += 1;
        let zxid = Zxid::new(1, counter);
        let txn = match path {
            None => prep_create_session(pending, SESSION, 30_000, zxid),
            Some(path) => {
                let request = Request::Create(CreateRequest {
                    path,
                    data: Some(Bytes::from(vec![b'x'; value_size])),
                    acl: Acl::open_unsafe(),
                    flags: 0,
                });
                let ctx = PrepCtx {
                    zxid,
                    session_id: SESSION,
                    auth: &[],
                    extended_types: false,
                    skip_acl: false,
                    local_session: false,
                };
                prep(tree, pending, &request, &ctx).unwrap_or_else(Txn::Error)
            }
        };
        let header = TxnHeader {
            zxid,
            time_ms: 1_700_000_000_000,
            session_id: SESSION,
            cxid: 0,
        };
        let bytes = TxnRecord::new(header, txn).encode();
        let record = TxnRecord::decode(&bytes).map_err(|e| format!("decode: {e}"))?;
        let started = std::time::Instant::now();
        let result = tree.apply(&record);
        longest = longest.max(started.elapsed());
        pending.applied(zxid);
        match result.outcome.err() {
            proto::ErrorCode::Ok => Ok(()),
            err => Err(format!("txn {zxid}: {err:?}")),
        }
    };
    create(&mut tree, &mut pending, None)?;
    // As the load generator names its parent: `/bench-create-<pid>-<ns since the epoch>`.
    let stamp = 1_700_000_000_u128 * 1_000_000_000;
    let parent = format!("/bench-create-{}-{stamp}", std::process::id());
    create(&mut tree, &mut pending, Some(parent.clone()))?;
    let before = resident_bytes()?;
    let clients = 32 * 8;
    let mut longest_batch = std::time::Duration::ZERO;
    let mut batch_started = std::time::Instant::now();
    let mut frozen = None;
    for i in 0..znodes {
        if let Some(h) = held {
            if i == h.at {
                frozen = Some(tree.freeze().ok_or("the tree could not be frozen")?);
            } else if i == h.at.saturating_add(h.held_for) {
                frozen = None;
            }
        }
        if i % BATCH == 0 {
            longest_batch = longest_batch.max(batch_started.elapsed());
            batch_started = std::time::Instant::now();
        }
        let (s, k, seq) = ((i % clients) / 8, i % 8, i / clients + 1);
        create(
            &mut tree,
            &mut pending,
            Some(format!("{parent}/c{s}-{k}-{seq}")),
        )?;
    }
    drop(frozen);
    let after = resident_bytes()?;
    Ok(Figures {
        znodes: tree.children(&parent).map_or(0, |c| c.len()),
        rss_before_bytes: before,
        rss_after_bytes: after,
        longest_apply: longest,
        longest_batch,
    })
}

/// This process's resident memory.
pub(crate) fn resident_bytes() -> Result<u64, String> {
    let statm = std::fs::read_to_string("/proc/self/statm").map_err(|e| e.to_string())?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or("unreadable /proc/self/statm")?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * u64::try_from(page).map_err(|_| "no page size")?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_znode_is_created_and_the_memory_read() {
        let f = super::measure(3_000, 10, None).unwrap();
        assert_eq!(f.znodes, 3_000);
        assert!(f.rss_before_bytes > 0 && f.rss_after_bytes > 0);
    }

    #[test]
    fn creates_made_while_a_snapshot_is_held_are_all_there() {
        let held = super::SnapshotHeld {
            at: 1_000,
            held_for: 1_000,
        };
        let f = super::measure(3_000, 10, Some(held)).unwrap();
        assert_eq!(f.znodes, 3_000);
    }
}
