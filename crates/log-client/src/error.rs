//! What can go wrong talking to brokers and to Quorum.

use partition::{ErrorCode, TopicPartition};

/// Why a request, a lookup or a delivery failed. `Clone` because one broken connection fails
/// every request that was in flight on it with the same error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("cannot connect to broker at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("connection to broker at {addr} broken: {reason}")]
    Broken { addr: String, reason: String },
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("broker refused: {0:?}")]
    Broker(ErrorCode),
    #[error("broker answered {0}")]
    Protocol(String),
    #[error("partition {0} has no leader")]
    NoLeader(TopicPartition),
    #[error("no topic {0}")]
    NoTopic(String),
    #[error("Quorum: {0}")]
    Quorum(String),
    #[error("malformed metadata in Quorum: {0}")]
    Metadata(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the producer was closed before the record was answered")]
    Closed,
}

impl LogError {
    /// Whether retrying (after looking the leader up again) may succeed: connection trouble,
    /// a timeout, a partition between leaders, or a broker error that says so.
    pub fn retriable(&self) -> bool {
        match self {
            LogError::Connect { .. }
            | LogError::Broken { .. }
            | LogError::Timeout(_)
            | LogError::NoLeader(_)
            | LogError::Quorum(_) => true,
            LogError::Broker(code) => code.retriable(),
            _ => false,
        }
    }

    /// Whether the cached leader (and its connection) should be forgotten: the broker is
    /// unreachable or says it is not the leader of the epoch we think.
    pub fn stale_leader(&self) -> bool {
        match self {
            LogError::Connect { .. } | LogError::Broken { .. } | LogError::Timeout(_) => true,
            LogError::Broker(code) => matches!(
                code,
                ErrorCode::NotLeader
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::UnknownPartition
            ),
            _ => false,
        }
    }
}

impl From<broker::meta::MetaError> for LogError {
    fn from(e: broker::meta::MetaError) -> LogError {
        use broker::meta::MetaError;
        match e {
            MetaError::Quorum(e) => LogError::Quorum(e.to_string()),
            MetaError::Decode(e) => LogError::Metadata(e.to_string()),
            MetaError::Invalid(why) => LogError::Invalid(why),
        }
    }
}
