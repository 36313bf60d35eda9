//! The `monitor` (`mntr`) body: the figures of the `mntr` four-letter word, under ZooKeeper's
//! JSON names (without the `zk_` prefix) and as numbers where ZooKeeper writes numbers.
//!
//! ZooKeeper 3.8 also reports several hundred figures of its Java request processors (queue
//! sizes and times per processor, JVM pauses, ...); Quorum has no such processors and reports
//! none of them. Quorum's own figures (`last_zxid`, `digest`, the sync counts, ...) come after
//! ZooKeeper's, as in the four-letter word.

use serde_json::{json, Map, Value};

use super::json::{object, uptime_ms};
use super::AdminContext;
use crate::four_letter_words::{version, ServerView};

pub fn monitor(view: &ServerView, context: &AdminContext) -> Map<String, Value> {
    let mut map = object(json!({
        "version": version(),
        "server_state": view.mode,
        "ephemerals_count": view.ephemerals_count,
        "num_alive_connections": view.connection_count,
        "avg_latency": view.latency_avg_ms,
        "max_latency": view.latency_max_ms,
        "min_latency": view.latency_min_ms,
        "outstanding_requests": view.outstanding,
        "znode_count": view.node_count,
        "global_sessions": view.session_count,
        "local_sessions": 0,
        "packets_sent": view.packets_sent,
        "packets_received": view.packets_received,
        "watch_count": view.watch_count,
        "approximate_data_size": view.approximate_data_size,
        "open_file_descriptor_count": view.open_fds,
        "max_file_descriptor_count": view.max_fds,
        "uptime": uptime_ms(context),
    }));
    map.append(&mut object(json!({
        "last_zxid": format!("0x{:x}", view.zxid),
        "current_epoch": view.epoch,
        "digest": format!("{:016x}", view.digest),
        "elections": view.elections,
        "outbound_bytes": view.outbound_bytes,
        "requests_in_flight": view.requests_in_flight,
        "sync_diff": view.syncs.diff,
        "sync_trunc": view.syncs.trunc,
        "sync_snap": view.syncs.snap,
        "sync_log_reads": view.syncs.log_reads,
        "sync_log_reads_refused": view.syncs.log_reads_refused,
    })));
    if view.mode == "leader" {
        let synced = view.followers.iter().filter(|(_, synced)| *synced).count();
        let observing = view.observers.iter().filter(|(_, synced)| *synced).count();
        let learners = view.followers.len() + view.observers.len();
        map.append(&mut object(json!({
            "learners": learners,
            "synced_followers": synced,
            "synced_non_voting_followers": 0,
            "synced_observers": observing,
            "pending_syncs": learners - synced - observing,
        })));
    }
    map
}
