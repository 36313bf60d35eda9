//! The partition log's invariants, checked as the run goes and once more when it has converged.
//!
//! - *one leader per epoch*: no two brokers ever append as leader of the same (partition,
//!   leader epoch);
//! - *acknowledged records kept*: a record acknowledged with acks=all is, at its offset, in the
//!   log of every leader whose high watermark passes that offset (a deposed leader that has not
//!   noticed may still append in its old epoch, but never commits);
//! - *consumers see one log below the HW*: a consumer is never given a record at or above the
//!   high watermark the leader announced with it, and every consumer reads the same record at
//!   the same offset, which later leaders keep too;
//! - *HW never goes back* on a replica (within one incarnation);
//! - *prefixes agree*: any two replicas' logs are identical up to the smaller of their HWs;
//! - *leader epochs grow* in the state znode, and every leader is in the ISR;
//! - at the end: every acks=all record is on every ISR member at its offset, and no record was
//!   written twice (records of acks=0 producers, which have no producer id, are left out).

use std::collections::BTreeMap;

use partition::{Batch, BrokerId, LeaderEpoch, Offset, PartitionState, TopicPartition};

use super::brokers::{SimBroker, SimLog};

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

fn violation(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

#[derive(Default)]
pub struct LogChecker {
    leaders: BTreeMap<(TopicPartition, LeaderEpoch), BrokerId>,
    /// Records that must never be lost: acks=all acknowledged, or read by a consumer.
    kept: BTreeMap<TopicPartition, BTreeMap<Offset, Vec<u8>>>,
    high_watermarks: BTreeMap<(BrokerId, u64, TopicPartition), Offset>,
}

impl LogChecker {
    pub(super) fn leader_append(
        &mut self,
        broker: BrokerId,
        tp: &TopicPartition,
        batch: &Batch,
        disk: &SimLog,
    ) -> Result<(), Violation> {
        let epoch = batch.header.epoch;
        let first = *self.leaders.entry((tp.clone(), epoch)).or_insert(broker);
        if first != broker {
            return violation(
                "one leader per epoch",
                format!(
                    "{tp}: brokers {first} and {broker} both appended as leader in epoch {epoch}"
                ),
            );
        }
        debug_assert_eq!(disk.end(), batch.header.base_offset);
        Ok(())
    }

    /// A leader's high watermark moved from `from` to `to`: every record it now counts as
    /// committed must be what was acknowledged or consumed there. (A deposed leader that has not
    /// noticed yet may still append in its old epoch — Kafka's zombie — but it cannot commit.)
    pub(super) fn leader_committed(
        &self,
        broker: BrokerId,
        tp: &TopicPartition,
        from: Offset,
        to: Offset,
        disk: &SimLog,
    ) -> Result<(), Violation> {
        let Some(kept) = self.kept.get(tp) else {
            return Ok(());
        };
        for (&offset, expected) in kept.range(from..to) {
            let found = disk.record(offset).map(|(_, r)| r);
            if found != Some(expected.as_slice()) {
                return violation(
                    "acknowledged records kept",
                    format!(
                        "{tp}: leader {broker}'s high watermark passes offset {offset} holding {} where {} was committed",
                        found.map_or("nothing".to_string(), show),
                        show(expected)
                    ),
                );
            }
        }
        Ok(())
    }

    /// A producer got acks=all for `records` at `base`.
    pub(super) fn acknowledged(
        &mut self,
        tp: &TopicPartition,
        base: Offset,
        records: &[Vec<u8>],
        brokers: &[SimBroker],
    ) -> Result<(), Violation> {
        for (i, record) in records.iter().enumerate() {
            self.keep(tp, base + i as u64, record, "acknowledged")?;
        }
        for b in brokers.iter().filter(|b| b.up) {
            let replica = b.replicas.get(tp).filter(|r| r.leading().is_some());
            if let (Some(replica), Some(disk)) = (replica, b.disks.get(tp)) {
                self.leader_committed(b.id, tp, 0, replica.high_watermark(), disk)?;
            }
        }
        Ok(())
    }

    /// A consumer read `record` at `offset` with the leader's `high_watermark`.
    pub(super) fn consumed(
        &mut self,
        tp: &TopicPartition,
        offset: Offset,
        record: &[u8],
        high_watermark: Offset,
    ) -> Result<(), Violation> {
        if offset >= high_watermark {
            return violation(
                "consumers read below the HW",
                format!(
                    "{tp}: a consumer got offset {offset} with high watermark {high_watermark}"
                ),
            );
        }
        self.keep(tp, offset, record, "read by a consumer")
    }

    fn keep(
        &mut self,
        tp: &TopicPartition,
        offset: Offset,
        record: &[u8],
        why: &str,
    ) -> Result<(), Violation> {
        let kept = self.kept.entry(tp.clone()).or_default();
        match kept.get(&offset) {
            Some(earlier) if earlier.as_slice() != record => violation(
                "consumers see one log",
                format!(
                    "{tp}: offset {offset} {why} as {} but committed as {}",
                    show(record),
                    show(earlier)
                ),
            ),
            Some(_) => Ok(()),
            None => {
                kept.insert(offset, record.to_vec());
                Ok(())
            }
        }
    }

    pub(super) fn high_watermark(
        &mut self,
        broker: BrokerId,
        life: u64,
        tp: &TopicPartition,
        hw: Offset,
    ) -> Result<(), Violation> {
        let seen = self
            .high_watermarks
            .entry((broker, life, tp.clone()))
            .or_insert(hw);
        if hw < *seen {
            return violation(
                "HW never goes back",
                format!("{tp}: broker {broker}'s high watermark went from {seen} to {hw}"),
            );
        }
        *seen = hw;
        Ok(())
    }

    /// Any two live replicas agree up to the smaller of their high watermarks.
    pub(super) fn prefixes(
        &self,
        tp: &TopicPartition,
        brokers: &[SimBroker],
    ) -> Result<(), Violation> {
        let replicas: Vec<(BrokerId, Offset, &SimLog)> = brokers
            .iter()
            .filter_map(|b| {
                let r = b.replicas.get(tp)?;
                Some((b.id, r.high_watermark(), b.disks.get(tp)?))
            })
            .collect();
        for (i, (a, hw_a, log_a)) in replicas.iter().enumerate() {
            for (b, hw_b, log_b) in &replicas[i + 1..] {
                let upto = (*hw_a).min(*hw_b) as usize;
                if upto == 0 {
                    continue;
                }
                let (ha, hb) = (log_a.hashes.get(upto - 1), log_b.hashes.get(upto - 1));
                if ha.is_none() || ha != hb {
                    return violation(
                        "prefixes agree",
                        format!("{tp}: brokers {a} and {b} differ below offset {upto} (both HWs reach it)"),
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) fn state_written(
        &self,
        tp: &TopicPartition,
        old: &PartitionState,
        new: &PartitionState,
    ) -> Result<(), Violation> {
        if new.leader_epoch < old.leader_epoch
            || (new.leader_epoch == old.leader_epoch && new.leader != old.leader)
        {
            return violation(
                "leader epochs grow",
                format!("{tp}: state went from {old:?} to {new:?}"),
            );
        }
        Ok(())
    }

    /// The final check once everything converged: every kept record is on every ISR member at
    /// its offset, and no producer's record appears twice in the leader's log.
    pub(super) fn converged(
        &self,
        tp: &TopicPartition,
        state: &PartitionState,
        brokers: &[SimBroker],
    ) -> Result<(), Violation> {
        for member in &state.isr {
            let disk = brokers[member.broker as usize - 1].disks.get(tp);
            for (&offset, expected) in self.kept.get(tp).into_iter().flatten() {
                let found = disk.and_then(|d| d.record(offset)).map(|(_, r)| r);
                if found != Some(expected.as_slice()) {
                    return violation(
                        "acknowledged records kept",
                        format!(
                            "{tp}: after the heal ISR member {} has {} at offset {offset}, not {}",
                            member.broker,
                            found.map_or("nothing".to_string(), show),
                            show(expected)
                        ),
                    );
                }
            }
        }
        let Some(leader) = state.leader else {
            return Ok(());
        };
        let Some(disk) = brokers[leader as usize - 1].disks.get(tp) else {
            return Ok(());
        };
        let mut seen = BTreeMap::new();
        for batch in &disk.batches {
            for (i, record) in batch.records.iter().enumerate() {
                let offset = batch.header.base_offset + i as u64;
                if record.first() == Some(&b'n') {
                    continue;
                }
                if let Some(first) = seen.insert(record.clone(), offset) {
                    return violation(
                        "written once",
                        format!("{tp}: {} is at offsets {first} and {offset}", show(record)),
                    );
                }
            }
        }
        Ok(())
    }
}

fn show(record: &[u8]) -> String {
    String::from_utf8_lossy(record).into_owned()
}
