//! Durable before answering: a server's answer may only state what its disk durably holds.
//!
//! The paper (DSN 2011) has a follower record f.p before ACK-E (phase 1, f.1.2), record the
//! synchronized history and f.a before ACK-LD (phase 2, f.2.1), and write a proposal to its
//! durable log before ACK (phase 3, f.3.1). ZooKeeper's Zab.tla models the history as durable
//! (`FollowerProcessPROPOSE` appends, then replies ACK); the implementation fsyncs first
//! (`SyncRequestProcessor` before `SendAckRequestProcessor`), and writes currentEpoch after the
//! synced history and before the ACK of NEWLEADER (apache/zookeeper #1993, #2028, #2152). The
//! rule is judged against the simulated disk: the fsynced log, the snapshot, the epoch files.

use zab::Message;

use super::{violation, Server};
use crate::checker::Violation;

pub fn check_answer(server: Server<'_>, message: &Message) -> Result<(), Violation> {
    let disk = server.disk;
    match *message {
        Message::AckEpoch { epoch, .. } if disk.accepted_epoch < epoch => violation(
            "durable before answering",
            format!(
                "{} sent ACK-E of {epoch} with acceptedEpoch {} on disk",
                server.id, disk.accepted_epoch
            ),
        ),
        Message::AckNewLeader { epoch, .. } if disk.current_epoch != epoch => violation(
            "durable before answering",
            format!(
                "{} sent ACK-LD of {epoch} with currentEpoch {} on disk",
                server.id, disk.current_epoch
            ),
        ),
        Message::AckNewLeader { zxid, .. } | Message::Ack { zxid, .. }
            if disk.durable_end() < zxid =>
        {
            violation(
                "durable before answering",
                format!(
                    "{} sent {} for {zxid} with its log durable only to {}",
                    server.id,
                    message.name(),
                    disk.durable_end()
                ),
            )
        }
        _ => Ok(()),
    }
}
