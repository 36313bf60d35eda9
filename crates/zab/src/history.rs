//! A server's history as the core sees it: the zxid of the snapshot it starts from, the
//! transactions after it, how far they are durable, and the configurations they carry.
//!
//! Every transaction's zxid is kept back to the base, but its payload only while it is in the
//! held tail (see [`History::drop_payloads`]): older payloads are on disk, and a DIFF that
//! needs them has the driver read them from the log (`Action::ReadLog`).

use crate::membership::{Decoder, Membership};
use crate::types::{Txn, Zxid};

/// The accepted history of one server.
///
/// Invariants: `txns` is strictly increasing in zxid, every zxid in it is above `base`, and
/// `base <= durable <= last()`; `base_membership` is the configuration in force at `base`
/// (its version at or below `base`), and `changes` holds, in order, the configuration of every
/// transaction in `txns` that carries one, versioned by its zxid. The payloads of
/// `txns[..held_from]` were dropped (left empty); those of `txns[held_from..]` are held and
/// add up to `held_bytes`.
#[derive(Clone, Debug)]
pub struct History {
    base: Zxid,
    txns: Vec<Txn>,
    held_from: usize,
    held_bytes: usize,
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
        let held_bytes = txns.iter().map(|t| t.data.len()).sum();
        History {
            base,
            txns,
            held_from: 0,
            held_bytes,
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

    /// The transaction at `zxid`, if its payload is held.
    pub fn get(&self, zxid: Zxid) -> Option<&Txn> {
        self.txns
            .binary_search_by_key(&zxid, |t| t.zxid)
            .ok()
            .filter(|&i| i >= self.held_from)
            .map(|i| &self.txns[i])
    }

    /// The zxid of the newest transaction whose payload was dropped, if any: a DIFF from below
    /// it reads the log up to it.
    pub fn unheld_through(&self) -> Option<Zxid> {
        self.held_from.checked_sub(1).map(|i| self.txns[i].zxid)
    }

    /// How many payloads are held, and their bytes.
    pub fn held(&self) -> (usize, usize) {
        (self.txns.len() - self.held_from, self.held_bytes)
    }

    /// Drops the oldest held payloads at or below `through` while more than `keep_txns` are
    /// held or they add up to more than `keep_bytes`. The caller passes what is durable and
    /// delivered: a payload is needed in memory only until the log holds it and the state
    /// machine has it.
    pub fn drop_payloads(&mut self, through: Zxid, keep_txns: usize, keep_bytes: usize) {
        while self.held_from < self.txns.len()
            && (self.txns.len() - self.held_from > keep_txns || self.held_bytes > keep_bytes)
        {
            let txn = &mut self.txns[self.held_from];
            if txn.zxid > through {
                break;
            }
            self.held_bytes -= txn.data.len();
            txn.data = bytes::Bytes::new();
            self.held_from += 1;
        }
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

    /// The transactions strictly after `after` and at or below `upto`, whose payloads must all
    /// be held: what is delivered or sent from memory. Panics otherwise (a dropped payload
    /// handed on would corrupt a state machine).
    pub fn held_range(&self, after: Zxid, upto: Zxid) -> &[Txn] {
        let txns = self.range(after, upto);
        if let (Some(first), Some(unheld)) = (txns.first(), self.unheld_through()) {
            assert!(
                first.zxid > unheld,
                "payload of {} dropped (held after {unheld})",
                first.zxid
            );
        }
        txns
    }

    /// The transactions strictly after `after` and at or below `upto`; the payloads of those
    /// at or below [`History::unheld_through`] are empty.
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
        self.held_bytes += txn.data.len();
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
        let dropped_held: usize = self.txns[keep.max(self.held_from)..]
            .iter()
            .map(|t| t.data.len())
            .sum();
        self.held_bytes -= dropped_held;
        self.held_from = self.held_from.min(keep);
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
        self.held_from = 0;
        self.held_bytes = 0;
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
        let dropped_held: usize = self.txns[self.held_from.min(drop)..drop]
            .iter()
            .map(|t| t.data.len())
            .sum();
        self.held_bytes -= dropped_held;
        self.held_from = self.held_from.saturating_sub(drop);
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

    #[test]
    fn payloads_leave_memory_oldest_first_within_the_tail_and_the_point_given() {
        let mut h = History::recovered(
            Zxid::ZERO,
            (1..=10)
                .map(|i| Txn {
                    zxid: Zxid::new(1, i),
                    data: bytes::Bytes::from(vec![0u8; 10]),
                })
                .collect(),
            Membership::new(vec![ServerId(1)], vec![]),
            |_| None,
        );
        assert_eq!(h.held(), (10, 100));
        // Only up to the point given (durable and delivered), whatever the tail says.
        h.drop_payloads(Zxid::new(1, 3), 2, usize::MAX);
        assert_eq!(
            (h.held(), h.unheld_through()),
            ((7, 70), Some(Zxid::new(1, 3)))
        );
        assert!(h.get(Zxid::new(1, 3)).is_none() && h.has_point(Zxid::new(1, 3)));
        // The byte budget bounds too.
        h.drop_payloads(Zxid::new(1, 10), 100, 45);
        assert_eq!(h.held(), (4, 40));
        assert_eq!(h.held_range(Zxid::new(1, 6), Zxid::new(1, 10)).len(), 4);
        // Truncation and compaction keep the count and the bytes right.
        h.truncate(Zxid::new(1, 8));
        assert_eq!(h.held(), (2, 20));
        h.compact(Zxid::new(1, 7));
        assert_eq!((h.held(), h.unheld_through()), ((1, 10), None));
        h.truncate(Zxid::new(1, 7));
        assert_eq!(h.held(), (0, 0));
        h.append(Txn {
            zxid: Zxid::new(2, 1),
            data: bytes::Bytes::from_static(b"abc"),
        });
        assert_eq!(h.held(), (1, 3));
    }

    #[test]
    #[should_panic(expected = "dropped")]
    fn a_dropped_payload_is_never_handed_on() {
        let mut h = history(3);
        h.drop_payloads(Zxid::new(1, 3), 1, usize::MAX);
        h.held_range(Zxid::ZERO, Zxid::new(1, 3));
    }
}
