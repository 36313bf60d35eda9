//! What clients and brokers say to a partition's replicas, independent of the wire encoding.

use crate::batch::{Batch, Producer};
use crate::ids::{BrokerEpoch, BrokerId, LeaderEpoch, Offset};

/// When a produce is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// Never.
    None,
    /// Once durable on the leader.
    Leader,
    /// Once the high watermark passes it (every ISR member has it).
    All,
}

/// Who is fetching, when a replica fetches from its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicaFetch {
    pub broker: BrokerId,
    pub broker_epoch: BrokerEpoch,
    /// The leader epoch the follower follows; the leader refuses any other.
    pub leader_epoch: LeaderEpoch,
}

/// A request to the replica of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Produce {
        acks: Acks,
        producer: Option<Producer>,
        records: Vec<Vec<u8>>,
    },
    /// Records from `offset`; `replica` is set when a follower fetches.
    Fetch {
        offset: Offset,
        max_bytes: u32,
        replica: Option<ReplicaFetch>,
    },
    /// Where does `epoch` end in the leader's log (KIP-101)? `leader_epoch` is the asker's view
    /// of the current leader epoch.
    OffsetForEpoch {
        epoch: LeaderEpoch,
        leader_epoch: LeaderEpoch,
    },
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// This broker does not lead the partition (now); look the leader up again.
    NotLeader,
    /// The asker's leader epoch is older than the leader's: it must learn the new state.
    FencedLeaderEpoch,
    /// The asker's leader epoch is newer than the leader's: this leader is stale.
    UnknownLeaderEpoch,
    /// acks=all with an ISR smaller than min.insync.replicas: not written.
    NotEnoughReplicas,
    /// Written, but the ISR shrank below min.insync.replicas before it was committed.
    NotEnoughReplicasAfterAppend,
    /// A sequence gap from an idempotent producer: not written.
    OutOfOrderSequence,
    /// The offset is beyond the log end.
    OffsetOutOfRange,
    /// The leader has too many produces waiting; retry later.
    TooManyPending,
    /// This broker holds no replica of the partition.
    UnknownPartition,
}

impl ErrorCode {
    /// Whether a client should look the leader up again and retry.
    pub fn retriable(self) -> bool {
        !matches!(
            self,
            ErrorCode::OutOfOrderSequence | ErrorCode::UnknownPartition
        )
    }
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Produced {
        base_offset: Offset,
    },
    Fetched {
        high_watermark: Offset,
        log_end: Offset,
        batches: Vec<Batch>,
    },
    /// The end of the largest epoch ≤ the one asked; None when the leader has none.
    EpochEnd {
        end: Option<(LeaderEpoch, Offset)>,
    },
    Error(ErrorCode),
}
