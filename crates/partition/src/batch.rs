//! Records travel, and are stored, in batches.

use crate::ids::{LeaderEpoch, Offset, ProducerId};

/// Who produced a batch, for idempotence: the producer's id and the sequence number of the
/// batch's first record (each record takes one sequence number, as offsets do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Producer {
    pub id: ProducerId,
    pub first_seq: u64,
}

/// A batch as it is stored: the header plus its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub header: BatchHeader,
    pub records: Vec<Vec<u8>>,
}

/// What the state machines need of a batch (never the payloads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: Offset,
    /// How many records (≥ 1).
    pub count: u32,
    /// The leader epoch in which the batch was first written.
    pub epoch: LeaderEpoch,
    pub producer: Option<Producer>,
}

impl BatchHeader {
    /// The offset after the batch's last record.
    pub fn end_offset(&self) -> Offset {
        self.base_offset + u64::from(self.count)
    }
}

impl Batch {
    pub fn end_offset(&self) -> Offset {
        self.header.end_offset()
    }

    /// Payload bytes, for bounds.
    pub fn payload_bytes(&self) -> usize {
        self.records.iter().map(Vec::len).sum()
    }
}
