//! `quorum log describe NAME`: each partition's state in Quorum (leader, leader epoch, ISR with
//! broker epochs, controller epoch) and what each assigned replica reports (role, HW, LEO).

use std::sync::Arc;

use log_client::admin::{PartitionView, ReplicaView, Role};
use log_client::{Cluster, QuorumMeta};

pub async fn run(cluster: &Arc<Cluster<QuorumMeta>>, name: &str) -> Result<(), String> {
    let zk = cluster.meta().zk();
    let views = log_client::admin::describe(zk, cluster.pool(), name)
        .await
        .map_err(|e| e.to_string())?;
    let heads: Vec<[String; 5]> = views.iter().map(state_columns).collect();
    // The ISR column is as wide as its widest entry (broker epochs are long numbers).
    let isr_width = heads.iter().map(|h| h[4].len()).max().unwrap_or(0).max(3);
    let line = |h: [&str; 5]| {
        format!(
            "{:<9} {:<6} {:<6} {:<10} {:<isr_width$}",
            h[0], h[1], h[2], h[3], h[4]
        )
    };
    let title = line(["PARTITION", "LEADER", "EPOCH", "CTRL-EPOCH", "ISR"]);
    println!(
        "{title} {:<7} {:<10} {:>10} {:>10}",
        "REPLICA", "ROLE", "HW", "LEO"
    );
    for (view, h) in views.iter().zip(&heads) {
        let head = line([&h[0], &h[1], &h[2], &h[3], &h[4]]);
        let blank = " ".repeat(head.len());
        for (i, (broker, replica)) in view.replicas.iter().enumerate() {
            let lead = if i == 0 { &head } else { &blank };
            println!("{lead} {broker:<7} {}", replica_columns(replica));
        }
    }
    Ok(())
}

/// Partition, leader, leader epoch, controller epoch and ISR, as text.
fn state_columns(view: &PartitionView) -> [String; 5] {
    let partition = view.partition.to_string();
    match &view.state {
        None => [
            partition,
            "?".into(),
            "?".into(),
            "?".into(),
            "(no state)".into(),
        ],
        Some(state) => {
            let members: Vec<String> = state
                .isr
                .iter()
                .map(|m| format!("{}@{}", m.broker, m.epoch))
                .collect();
            [
                partition,
                state.leader.map_or("none".into(), |l| l.to_string()),
                state.leader_epoch.to_string(),
                state.controller_epoch.to_string(),
                members.join(","),
            ]
        }
    }
}

fn replica_columns(replica: &ReplicaView) -> String {
    match replica {
        ReplicaView::Reached {
            role,
            high_watermark,
            log_end,
            ..
        } => format!(
            "{:<10} {high_watermark:>10} {log_end:>10}",
            role_name(*role)
        ),
        ReplicaView::Unreachable(why) => format!("unreachable ({why})"),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Idle => "idle",
        Role::NoReplica => "no-replica",
    }
}
