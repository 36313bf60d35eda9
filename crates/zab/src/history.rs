//! A server's history as the core sees it: the zxid of the snapshot it starts from, the
//! transactions after it, how far they are durable, and the configurations they carry.

use crate::membership::{Decoder, Membership};
use crate::types::{Txn, Zxid};

/// The accepted history of one server.
///
/// Invariants: `txns` is strictly increasing in zxid, every zxid in it is above `base`, and
/// `base <= durable <= last()`; `base_membership` is the configuration in force at `base`
/// (its version at or below `base`), and `changes` holds, in order, the configuration of every
/// transaction in `txns` that carries one, versioned by its zxid.
#[derive(Clone, Debug)]
pub struct History {
    base: Zxid,
    txns: Vec<Txn>,
    durable: Zxid,
    base_membership: Membership,
    changes: Vec<Membership>,
    decoder: Decoder,
    /// Compaction asked up to here and not done yet (see [`History::compact_some`]).
    compact_to: Zxid,
}

/// Transactions [`History::compact_some`] drops at a time: dropping the quarter of a million
/// a big tree's snapshot covers took the server's event loop 20–130 ms in one go.
pub const COMPACT_SLICE_TXNS: usize = 8192;

impl History {
    /// A history recovered from disk: everything given is durable. `base_membership` is the
    /// configuration in force at the snapshot `base`.
    pub fn recovered(
        base: Zxid,
        log: Vec<Txn>,
        base_membership: Membership,
        decoder: Decoder,
    ) -> History {
        let mut txns = log;
        txns.retain(|t| t.zxid > base);
        assert!(
            txns.windows(2).all(|w| w[0].zxid < w[1].zxid),
            "recovered log is not in zxid order"
        );
        let durable = txns.last().map_or(base, |t| t.zxid);
        let changes = txns
            .iter()
            .filter_map(|t| Self::decode(decoder, t))
            .collect();
        History {
            base,
            txns,
            durable,
            base_membership,
            changes,
            decoder,
            compact_to: base,
        }
    }

    fn decode(decoder: Decoder, txn: &Txn) -> Option<Membership> {
        decoder(&txn.data).map(|m| Membership {
            version: txn.zxid,
            ..m
        })
    }

    /// The configuration in force at `zxid` (at or above the base): the last one carried at or
    /// below it.
    pub fn membership_at(&self, zxid: Zxid) -> &Membership {
        let i = self.changes.partition_point(|m| m.version <= zxid);
        if i == 0 {
            &self.base_membership
        } else {
            &self.changes[i - 1]
        }
    }

    /// The configurations carried by transactions after `zxid`, in order.
    pub fn changes_after(&self, zxid: Zxid) -> &[Membership] {
        let i = self.changes.partition_point(|m| m.version <= zxid);
        &self.changes[i..]
    }

    /// Every configuration this history knows: the base one and each carried after it.
    pub fn memberships(&self) -> impl Iterator<Item = &Membership> {
        std::iter::once(&self.base_membership).chain(&self.changes)
    }

    /// Whether `data` carries a configuration, for this history's application.
    pub fn is_reconfig(&self, data: &[u8]) -> Option<Membership> {
        (self.decoder)(data)
    }

    /// The largest point (base or transaction) strictly below `zxid`, if above the base.
    pub fn point_before(&self, zxid: Zxid) -> Zxid {
        let i = self.txns.partition_point(|t| t.zxid < zxid);
        if i == 0 {
            self.base
        } else {
            self.txns[i - 1].zxid
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
        if let Some(m) = Self::decode(self.decoder, &txn) {
            self.changes.push(m);
        }
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
        self.changes.retain(|m| m.version <= zxid);
        self.durable = self.durable.min(self.last());
    }

    /// Replaces the whole history with a snapshot point (SNAP), at which `membership` is in
    /// force. Durable on return.
    pub fn reset(&mut self, base: Zxid, membership: Membership) {
        self.base = base;
        self.base_membership = membership;
        self.changes.clear();
        self.txns.clear();
        self.durable = base;
        self.compact_to = base;
    }

    /// Forgets transactions at or below `zxid` (they are in a durable snapshot), a slice now
    /// and the rest as [`History::compact_some`] is called again. Keeping them longer is
    /// always safe: they only feed DIFFs, which are cut from the history as they are sent.
    pub fn compact(&mut self, zxid: Zxid) {
        self.compact_to = self.compact_to.max(zxid);
        self.compact_some();
    }

    /// Drops up to [`COMPACT_SLICE_TXNS`] transactions at or below the point asked for.
    pub fn compact_some(&mut self) {
        let upto = self.compact_to;
        if upto <= self.base {
            return;
        }
        let drop = self
            .txns
            .partition_point(|t| t.zxid <= upto)
            .min(COMPACT_SLICE_TXNS);
        if drop == 0 {
            return;
        }
        self.base = self.txns[drop - 1].zxid;
        self.txns.drain(..drop);
        let folded = self.changes.partition_point(|m| m.version <= self.base);
        if let Some(last) = self.changes.drain(..folded).next_back() {
            self.base_membership = last;
        }
        self.durable = self.durable.max(self.base);
    }

    /// Whether compaction asked for is not done yet.
    pub fn compacting(&self) -> bool {
        self.compact_to > self.base && !self.txns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ServerId;

    fn history(n: u32) -> History {
        let log = (1..=n)
            .map(|i| Txn {
                zxid: Zxid::new(1, i),
                data: bytes::Bytes::new(),
            })
            .collect();
        let membership = Membership::new(vec![ServerId(1)], vec![]);
        History::recovered(Zxid::ZERO, log, membership, |_| None)
    }

    #[test]
    fn compaction_goes_a_slice_at_a_time() {
        let n = 3 * COMPACT_SLICE_TXNS as u32 + 10;
        let mut h = history(n);
        h.compact(Zxid::new(1, n - 5));
        assert_eq!(h.base(), Zxid::new(1, COMPACT_SLICE_TXNS as u32));
        let mut calls = 1;
        while h.compacting() {
            h.compact_some();
            calls += 1;
            assert!(calls < 10, "it ends");
        }
        assert_eq!(calls, 4);
        assert_eq!(h.base(), Zxid::new(1, n - 5), "up to the point asked for");
        assert_eq!(h.range(h.base(), h.last()).len(), 5);
        // A point asked for below what is already compacted changes nothing.
        h.compact(Zxid::new(1, 4));
        assert_eq!(h.base(), Zxid::new(1, n - 5));
    }
}
