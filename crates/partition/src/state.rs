//! What Quorum holds about a partition, and its text encoding.
//!
//! The state znode is written only by the controller, by compare-and-swap; the request znode only
//! by the partition's leader. Both are plain `key=value` lines so that `get` in a shell shows them
//! as they are. Decoding is strict: a malformed znode is an error, never a default.

use crate::ids::{BrokerEpoch, BrokerId, LeaderEpoch};

/// One ISR member: a broker and the broker epoch under which it joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Member {
    pub broker: BrokerId,
    pub epoch: BrokerEpoch,
}

/// `/topics/T/partitions/I/state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    /// None when no ISR member is alive (the partition is offline).
    pub leader: Option<BrokerId>,
    pub leader_epoch: LeaderEpoch,
    /// Never empty; the leader, when there is one, is a member.
    pub isr: Vec<Member>,
    /// The epoch of the controller that wrote this state.
    pub controller_epoch: u64,
}

impl PartitionState {
    /// The state of a new partition: every replica in sync (all are empty), no leader yet. The
    /// broker epochs are 0, which no registration has, so the controller re-admits each replica
    /// under its real epoch at the first election.
    pub fn initial(replicas: &[BrokerId]) -> PartitionState {
        PartitionState {
            leader: None,
            leader_epoch: 0,
            isr: replicas
                .iter()
                .map(|&broker| Member { broker, epoch: 0 })
                .collect(),
            controller_epoch: 0,
        }
    }

    /// The ISR entry of `broker`, if it is a member.
    pub fn member(&self, broker: BrokerId) -> Option<Member> {
        self.isr.iter().copied().find(|m| m.broker == broker)
    }

    /// The leader's ISR entry.
    pub fn leader_member(&self) -> Option<Member> {
        self.leader.and_then(|leader| self.member(leader))
    }

    pub fn encode(&self) -> String {
        let leader = match self.leader {
            Some(id) => id.to_string(),
            None => "none".to_string(),
        };
        format!(
            "leader={leader}\nleader_epoch={}\nisr={}\ncontroller_epoch={}\n",
            self.leader_epoch,
            encode_members(&self.isr),
            self.controller_epoch
        )
    }

    pub fn decode(text: &str) -> Result<PartitionState, DecodeError> {
        let fields = Fields::parse(text)?;
        let leader = match fields.get("leader")? {
            "none" => None,
            id => Some(parse_num(id, "leader")?),
        };
        let state = PartitionState {
            leader,
            leader_epoch: parse_num(fields.get("leader_epoch")?, "leader_epoch")?,
            isr: decode_members(fields.get("isr")?)?,
            controller_epoch: parse_num(fields.get("controller_epoch")?, "controller_epoch")?,
        };
        if state.isr.is_empty() {
            return Err(DecodeError("isr is empty".into()));
        }
        if let Some(leader) = state.leader {
            if state.member(leader).is_none() {
                return Err(DecodeError(format!("leader {leader} is not in the isr")));
            }
        }
        Ok(state)
    }
}

/// `/topics/T/partitions/I/isr_request`: the leader asks the controller to set the ISR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsrRequest {
    pub leader: BrokerId,
    pub leader_epoch: LeaderEpoch,
    /// The version of the state znode the leader based this on.
    pub state_version: u64,
    pub isr: Vec<Member>,
}

impl IsrRequest {
    pub fn encode(&self) -> String {
        format!(
            "leader={}\nleader_epoch={}\nstate_version={}\nisr={}\n",
            self.leader,
            self.leader_epoch,
            self.state_version,
            encode_members(&self.isr)
        )
    }

    pub fn decode(text: &str) -> Result<IsrRequest, DecodeError> {
        let fields = Fields::parse(text)?;
        Ok(IsrRequest {
            leader: parse_num(fields.get("leader")?, "leader")?,
            leader_epoch: parse_num(fields.get("leader_epoch")?, "leader_epoch")?,
            state_version: parse_num(fields.get("state_version")?, "state_version")?,
            isr: decode_members(fields.get("isr")?)?,
        })
    }
}

/// `/topics/T`: how many partitions and which brokers hold each (the first is preferred
/// leader), and the topic's `min.insync.replicas` (None: the brokers' default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub replicas: Vec<Vec<BrokerId>>,
    pub min_insync: Option<usize>,
}

impl Assignment {
    /// Partition i on brokers `brokers[(i + k) % n]`, k < `replication`: leaders spread evenly.
    pub fn round_robin(brokers: &[BrokerId], partitions: u32, replication: usize) -> Assignment {
        let n = brokers.len();
        let replicas = (0..partitions as usize)
            .map(|i| (0..replication).map(|k| brokers[(i + k) % n]).collect())
            .collect();
        Assignment {
            replicas,
            min_insync: None,
        }
    }

    pub fn encode(&self) -> String {
        let mut text = format!("partitions={}\n", self.replicas.len());
        for (i, replicas) in self.replicas.iter().enumerate() {
            let ids: Vec<String> = replicas.iter().map(|id| id.to_string()).collect();
            text.push_str(&format!("replicas.{i}={}\n", ids.join(",")));
        }
        if let Some(min) = self.min_insync {
            text.push_str(&format!("min_insync={min}\n"));
        }
        text
    }

    pub fn decode(text: &str) -> Result<Assignment, DecodeError> {
        let fields = Fields::parse(text)?;
        let count: usize = parse_num(fields.get("partitions")?, "partitions")?;
        let mut replicas = Vec::with_capacity(count.min(fields.0.len()));
        for i in 0..count {
            let key = format!("replicas.{i}");
            let list = fields.get(&key)?;
            let ids = list
                .split(',')
                .map(|id| parse_num(id, &key))
                .collect::<Result<Vec<BrokerId>, _>>()?;
            if ids.is_empty() {
                return Err(DecodeError(format!("{key} is empty")));
            }
            replicas.push(ids);
        }
        let min_insync = match fields.get("min_insync") {
            Ok(v) => Some(parse_num(v, "min_insync")?),
            Err(_) => None,
        };
        Ok(Assignment {
            replicas,
            min_insync,
        })
    }
}

/// A znode that is not what it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed partition metadata: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn encode_members(members: &[Member]) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|m| format!("{}@{}", m.broker, m.epoch))
        .collect();
    parts.join(",")
}

fn decode_members(text: &str) -> Result<Vec<Member>, DecodeError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let (broker, epoch) = part
                .split_once('@')
                .ok_or_else(|| DecodeError(format!("isr member {part:?} lacks @epoch")))?;
            Ok(Member {
                broker: parse_num(broker, "isr")?,
                epoch: parse_num(epoch, "isr")?,
            })
        })
        .collect()
}

fn parse_num<T: std::str::FromStr>(text: &str, key: &str) -> Result<T, DecodeError> {
    text.parse()
        .map_err(|_| DecodeError(format!("{key}={text:?} is not a number")))
}

/// The `key=value` lines of a znode.
struct Fields<'a>(Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn parse(text: &'a str) -> Result<Fields<'a>, DecodeError> {
        let mut fields = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| DecodeError(format!("line {line:?} is not key=value")))?;
            fields.push((key.trim(), value.trim()));
        }
        Ok(Fields(fields))
    }

    fn get(&self, key: &str) -> Result<&'a str, DecodeError> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| DecodeError(format!("{key} is missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let state = PartitionState {
            leader: Some(2),
            leader_epoch: 7,
            isr: vec![
                Member {
                    broker: 2,
                    epoch: 5,
                },
                Member {
                    broker: 1,
                    epoch: 9,
                },
            ],
            controller_epoch: 3,
        };
        assert_eq!(PartitionState::decode(&state.encode()), Ok(state));
        let offline = PartitionState::initial(&[1, 2, 3]);
        assert_eq!(PartitionState::decode(&offline.encode()), Ok(offline));
    }

    #[test]
    fn malformed_state_is_refused() {
        assert!(PartitionState::decode("leader=1\n").is_err());
        let no_member = "leader=4\nleader_epoch=1\nisr=1@2\ncontroller_epoch=1\n";
        assert!(PartitionState::decode(no_member).is_err());
        let empty = "leader=none\nleader_epoch=1\nisr=\ncontroller_epoch=1\n";
        assert!(PartitionState::decode(empty).is_err());
        assert!(
            PartitionState::decode("leader=x\nleader_epoch=1\nisr=1@1\ncontroller_epoch=1")
                .is_err()
        );
    }

    #[test]
    fn request_and_assignment_round_trip() {
        let request = IsrRequest {
            leader: 1,
            leader_epoch: 4,
            state_version: 12,
            isr: vec![Member {
                broker: 1,
                epoch: 3,
            }],
        };
        assert_eq!(IsrRequest::decode(&request.encode()), Ok(request));
        let mut assignment = Assignment::round_robin(&[1, 2, 3], 4, 2);
        assignment.min_insync = Some(2);
        assert_eq!(assignment.replicas[3], vec![1, 2]);
        assert_eq!(Assignment::decode(&assignment.encode()), Ok(assignment));
        assert!(Assignment::decode("partitions=99999999999\n").is_err());
    }
}
