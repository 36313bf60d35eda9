//! The transactions this server prepped and proposed as leader, kept until it applies them.
//!
//! Every replica applies a transaction from the bytes it logged, so the leader used to decode
//! each one it had just encoded from the record prep made: about a fifth of an apply's
//! instructions, on the core thread that bounds write throughput. The leader keeps the record
//! with its bytes instead and applies it as it is when those same bytes are delivered. The
//! record is what the bytes decode to, since they were encoded from it; the bytes are compared
//! whole before it is used, so a proposal replaced under another leadership is decoded anew.

use std::collections::VecDeque;

use bytes::Bytes;
use tree::TxnRecord;
use zab::Txn;

/// Proposed records in zxid order, each with the bytes it was proposed as.
#[derive(Debug, Default)]
pub struct Prepped {
    records: VecDeque<(Bytes, TxnRecord)>,
}

impl Prepped {
    /// `record` was proposed as `bytes`, after every record kept so far.
    pub fn proposed(&mut self, bytes: Bytes, record: TxnRecord) {
        debug_assert!(self
            .records
            .back()
            .is_none_or(|(_, last)| last.header.zxid < record.header.zxid));
        self.records.push_back((bytes, record));
    }

    /// The record `txn` was encoded from, if this server proposed it. Records proposed before
    /// it that were never delivered here (another leader's history replaced them) go.
    pub fn take(&mut self, txn: &Txn) -> Option<TxnRecord> {
        while let Some((bytes, record)) = self.records.front() {
            if record.header.zxid > txn.zxid {
                return None;
            }
            let same = record.header.zxid == txn.zxid && *bytes == txn.data;
            let (_, record) = self.records.pop_front().expect("the front is there");
            if same {
                return Some(record);
            }
        }
        None
    }

    /// Forgets every record (leadership lost, or a snapshot installed).
    pub fn clear(&mut self) {
        self.records.clear();
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// None kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use tree::Txn as TreeTxn;

    use super::*;

    fn record(zxid: u64, path: &str) -> (Txn, TxnRecord) {
        let txn = crate::state::tests::record(zxid, TreeTxn::Delete { path: path.into() });
        let record = TxnRecord::decode(&txn.data).expect("a record encoded here decodes");
        (txn, record)
    }

    /// A delivered proposal is found and taken; ones before it that were never delivered
    /// go; a later one stays; the same zxid with other bytes is not taken for it.
    #[test]
    fn a_delivered_proposal_is_taken_and_what_it_replaced_is_dropped() {
        let mut prepped = Prepped::default();
        let (t1, r1) = record(1, "/a");
        let (t2, r2) = record(2, "/b");
        let (t3, r3) = record(3, "/c");
        for (t, r) in [(&t1, &r1), (&t2, &r2), (&t3, &r3)] {
            prepped.proposed(t.data.clone(), r.clone());
        }
        assert_eq!(prepped.take(&t2), Some(r2), "t1 was never delivered here");
        assert_eq!(prepped.len(), 1);
        let (other, _) = record(3, "/other");
        assert_eq!(prepped.take(&other), None, "another proposal of zxid 3");
        assert!(prepped.is_empty());
        prepped.proposed(t3.data.clone(), r3);
        let (t0, _) = record(0, "/early");
        assert_eq!(prepped.take(&t0), None);
        assert_eq!(prepped.len(), 1, "a later record stays");
    }
}
