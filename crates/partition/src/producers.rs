//! The producer table: what makes a retried batch not be written twice.
//!
//! Per producer id it keeps the last [`BATCHES_PER_PRODUCER`] batches' sequence ranges and
//! offsets. It is derived from the log alone (batches carry producer id and first sequence), so
//! every replica has it: a new leader rebuilds it from its log's tail and answers a retry of a
//! batch its predecessor wrote with the original offset. Memory is bounded: at most
//! `max_producers` ids; the least recently written is forgotten first, and a forgotten producer's
//! next batch is taken as the start of a new sequence (as Kafka's UNKNOWN_PRODUCER_ID lets a
//! producer restart).

use std::collections::{BTreeMap, VecDeque};

use crate::batch::BatchHeader;
use crate::ids::{Offset, ProducerId};

/// Batches remembered per producer (Kafka's max.in.flight for idempotence is 5).
pub const BATCHES_PER_PRODUCER: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    first_seq: u64,
    count: u32,
    base_offset: Offset,
}

/// What to do with a producer's batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqCheck {
    /// The next batch in sequence (or from a producer not known): write it.
    Append,
    /// Already written at `base_offset`: answer with that, do not write again.
    Duplicate { base_offset: Offset },
    /// A gap or a batch older than what is remembered: refuse it.
    OutOfOrder { expected: u64 },
}

#[derive(Clone, Debug)]
pub struct ProducerTable {
    max_producers: usize,
    producers: BTreeMap<ProducerId, VecDeque<Written>>,
}

impl ProducerTable {
    pub fn new(max_producers: usize) -> ProducerTable {
        ProducerTable {
            max_producers: max_producers.max(1),
            producers: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Whether a batch of `count` records from `id` starting at `first_seq` should be written.
    pub fn check(&self, id: ProducerId, first_seq: u64, count: u32) -> SeqCheck {
        let Some(batches) = self.producers.get(&id) else {
            return SeqCheck::Append;
        };
        if let Some(w) = batches
            .iter()
            .find(|w| w.first_seq == first_seq && w.count == count)
        {
            return SeqCheck::Duplicate {
                base_offset: w.base_offset,
            };
        }
        let expected = batches
            .back()
            .map_or(0, |w| w.first_seq + u64::from(w.count));
        if first_seq == expected {
            SeqCheck::Append
        } else {
            SeqCheck::OutOfOrder { expected }
        }
    }

    /// Notes a batch now in the log (appended, replicated or read back at start).
    pub fn record(&mut self, header: &BatchHeader) {
        let Some(producer) = header.producer else {
            return;
        };
        if !self.producers.contains_key(&producer.id) && self.producers.len() >= self.max_producers
        {
            self.forget_least_recent();
        }
        let batches = self.producers.entry(producer.id).or_default();
        batches.push_back(Written {
            first_seq: producer.first_seq,
            count: header.count,
            base_offset: header.base_offset,
        });
        if batches.len() > BATCHES_PER_PRODUCER {
            batches.pop_front();
        }
    }

    /// Forgets batches at or after `offset` (truncated away).
    pub fn truncate(&mut self, offset: Offset) {
        self.producers.retain(|_, batches| {
            batches.retain(|w| w.base_offset < offset);
            !batches.is_empty()
        });
    }

    fn forget_least_recent(&mut self) {
        let oldest = self
            .producers
            .iter()
            .min_by_key(|(_, batches)| batches.back().map_or(0, |w| w.base_offset))
            .map(|(&id, _)| id);
        if let Some(id) = oldest {
            self.producers.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Producer;

    fn header(id: ProducerId, first_seq: u64, count: u32, base_offset: Offset) -> BatchHeader {
        BatchHeader {
            base_offset,
            count,
            epoch: 1,
            producer: Some(Producer { id, first_seq }),
        }
    }

    #[test]
    fn duplicates_and_gaps() {
        let mut table = ProducerTable::new(2);
        assert_eq!(table.check(7, 0, 3), SeqCheck::Append);
        table.record(&header(7, 0, 3, 10));
        assert_eq!(
            table.check(7, 0, 3),
            SeqCheck::Duplicate { base_offset: 10 }
        );
        assert_eq!(table.check(7, 3, 1), SeqCheck::Append);
        assert_eq!(table.check(7, 5, 1), SeqCheck::OutOfOrder { expected: 3 });
        table.record(&header(7, 3, 1, 13));
        table.truncate(13);
        assert_eq!(table.check(7, 3, 1), SeqCheck::Append);
        table.record(&header(8, 0, 1, 20));
        table.record(&header(9, 0, 1, 21));
        assert_eq!(
            table.len(),
            2,
            "the least recently written producer is forgotten"
        );
        assert_eq!(table.check(7, 0, 3), SeqCheck::Append);
    }
}
