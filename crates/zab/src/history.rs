//! A server's history as the core sees it: the zxid of the snapshot it starts from, the
//! transactions after it, and how far they are durable.

use crate::types::{Txn, Zxid};

/// The accepted history of one server.
///
/// Invariants: `txns` is strictly increasing in zxid, every zxid in it is above `base`, and
/// `base <= durable <= last()`.
#[derive(Clone, Debug, Default)]
pub struct History {
    base: Zxid,
    txns: Vec<Txn>,
    durable: Zxid,
}

impl History {
    /// A history recovered from disk: everything given is durable.
    pub fn recovered(base: Zxid, log: Vec<Txn>) -> History {
        let mut txns = log;
        txns.retain(|t| t.zxid > base);
        assert!(
            txns.windows(2).all(|w| w[0].zxid < w[1].zxid),
            "recovered log is not in zxid order"
        );
        let durable = txns.last().map_or(base, |t| t.zxid);
        History {
            base,
            txns,
            durable,
        }
    }

    /// The zxid of the snapshot this history starts from.
    pub fn base(&self) -> Zxid {
        self.base
    }

    pub fn last(&self) -> Zxid {
        self.txns.last().map_or(self.base, |t| t.zxid)
    }

    pub fn durable(&self) -> Zxid {
        self.durable
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// Whether `zxid` names a point of this history: the base or one of its transactions.
    pub fn has_point(&self, zxid: Zxid) -> bool {
        zxid == self.base || self.txns.binary_search_by_key(&zxid, |t| t.zxid).is_ok()
    }

    /// The transaction at `zxid`, if held.
    pub fn get(&self, zxid: Zxid) -> Option<&Txn> {
        self.txns
            .binary_search_by_key(&zxid, |t| t.zxid)
            .ok()
            .map(|i| &self.txns[i])
    }

    /// The largest point (base or transaction) at or below `zxid`, if `zxid >= base`.
    pub fn point_at_or_below(&self, zxid: Zxid) -> Option<Zxid> {
        if zxid < self.base {
            return None;
        }
        let i = self.txns.partition_point(|t| t.zxid <= zxid);
        Some(if i == 0 {
            self.base
        } else {
            self.txns[i - 1].zxid
        })
    }

    /// The transactions strictly after `after` and at or below `upto`.
    pub fn range(&self, after: Zxid, upto: Zxid) -> &[Txn] {
        let start = self.txns.partition_point(|t| t.zxid <= after);
        let end = self.txns.partition_point(|t| t.zxid <= upto);
        if start >= end {
            &[]
        } else {
            &self.txns[start..end]
        }
    }

    /// Appends a transaction above the last one.
    pub fn append(&mut self, txn: Txn) {
        assert!(
            txn.zxid > self.last(),
            "append {} after {}",
            txn.zxid,
            self.last()
        );
        self.txns.push(txn);
    }

    /// Records that the log is durable up to `zxid` (clamped to what is held: a report about
    /// records since truncated says nothing more than "durable up to the truncation point").
    pub fn mark_durable(&mut self, zxid: Zxid) {
        let clamped = zxid.min(self.last());
        if clamped > self.durable {
            self.durable = clamped;
        }
    }

    /// Drops every transaction after `zxid`. Truncation is durable, so `durable` follows.
    pub fn truncate(&mut self, zxid: Zxid) {
        assert!(
            zxid >= self.base,
            "truncate to {} below base {}",
            zxid,
            self.base
        );
        let keep = self.txns.partition_point(|t| t.zxid <= zxid);
        self.txns.truncate(keep);
        self.durable = self.durable.min(self.last());
    }

    /// Replaces the whole history with a snapshot point (SNAP). Durable on return.
    pub fn reset(&mut self, base: Zxid) {
        self.base = base;
        self.txns.clear();
        self.durable = base;
    }

    /// Forgets transactions at or below `zxid` (they are in a durable snapshot).
    pub fn compact(&mut self, zxid: Zxid) {
        if zxid <= self.base {
            return;
        }
        let drop = self.txns.partition_point(|t| t.zxid <= zxid);
        if drop == 0 {
            return;
        }
        self.base = self.txns[drop - 1].zxid;
        self.txns.drain(..drop);
        self.durable = self.durable.max(self.base);
    }
}
