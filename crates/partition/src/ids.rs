//! The names of things.

/// A broker's configured id (`quorum broker --id N`).
pub type BrokerId = u32;

/// A broker's incarnation: the czxid of its registration znode, new at every registration, so a
/// restarted broker is told apart from the one that joined the ISR before the crash.
pub type BrokerEpoch = u64;

/// The position of a record in its partition: 0, 1, 2, …
pub type Offset = u64;

/// A partition's leader epoch: bumped by the controller at every leader election.
pub type LeaderEpoch = u32;

/// An idempotent producer's id.
pub type ProducerId = u64;

/// A partition: topic name and index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> TopicPartition {
        TopicPartition {
            topic: topic.to_string(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
