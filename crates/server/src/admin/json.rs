//! The JSON bodies, key for key as ZooKeeper 3.8's AdminServer writes them (field names found
//! by asking a real ZooKeeper 3.8). Every body has `command` (the command's name, whatever
//! alias was asked) and `error` (`null` when it worked).

use serde_json::{json, Map, Value};

use super::commands::Command;
use super::AdminContext;
use crate::four_letter_words::{version, ConnectionView, ServerView};

/// What ZooKeeper says for a command that needs a serving server while it is not serving.
const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// The body for `command`.
pub fn run(command: &Command, view: &ServerView, context: &AdminContext) -> Vec<u8> {
    let map = if command.needs_serving && view.mode == "looking" {
        error(NOT_SERVING)
    } else {
        match command.name {
            "configuration" => configuration(context),
            "connections" => connection_lists(view, true),
            "environment" => environment(),
            "is_read_only" => object(json!({ "read_only": view.read_only })),
            "leader" => leader(view, context),
            "monitor" => super::monitor::monitor(view, context),
            "server_stats" => server_stats(view, context, false),
            "stats" => server_stats(view, context, true),
            "voting_view" => voting_view(context),
            "watch_summary" => object(json!({
                "num_connections": view.watching_connections,
                "num_paths": view.watched_paths,
                "num_total_watches": view.watch_count,
            })),
            _ => Map::new(), // ruok: nothing but command and error
        }
    };
    finish(map, command.name)
}

/// ZooKeeper's body for a name it does not know (with status 200).
pub fn unknown(name: &str) -> Vec<u8> {
    finish(error(&format!("Unknown command: {name}")), name)
}

fn finish(mut map: Map<String, Value>, name: &str) -> Vec<u8> {
    map.insert("command".into(), Value::from(name));
    map.entry("error").or_insert(Value::Null);
    let mut body = serde_json::to_vec_pretty(&Value::Object(map)).unwrap_or_default();
    body.push(b'\n');
    body
}

fn error(message: &str) -> Map<String, Value> {
    object(json!({ "error": message }))
}

pub(super) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn configuration(context: &AdminContext) -> Map<String, Value> {
    let cfg = &context.config;
    object(json!({
        "client_port": cfg.client_port,
        "data_dir": cfg.data_dir.display().to_string(),
        "data_log_dir": cfg.data_log_dir.display().to_string(),
        "tick_time": cfg.tick_time.as_millis() as u64,
        "max_client_cnxns": cfg.limits.max_connections_per_ip,
        "min_session_timeout": cfg.min_session_timeout.as_millis() as u64,
        "max_session_timeout": cfg.max_session_timeout.as_millis() as u64,
        "server_id": if cfg.is_standalone() { 0 } else { cfg.my_id },
        "client_port_listen_backlog": -1,
    }))
}

/// `stats` and `srvr` (`server_stats`): `stats` adds the connections.
fn server_stats(
    view: &ServerView,
    context: &AdminContext,
    with_connections: bool,
) -> Map<String, Value> {
    let data_size = dir_size(&context.config.data_dir);
    let log_size = dir_size(&context.config.data_log_dir);
    let mut map = object(json!({
        "version": version(),
        "read_only": view.read_only,
        "server_stats": {
            "packets_sent": view.packets_sent,
            "packets_received": view.packets_received,
            "fsync_threshold_exceed_count": 0,
            "client_response_stats": client_response(),
            "data_dir_size": data_size,
            "log_dir_size": log_size,
            "provider_null": false,
            "server_state": view.mode,
            "last_processed_zxid": view.zxid.as_i64(),
            "outstanding_requests": view.outstanding,
            "avg_latency": view.latency_avg_ms,
            "max_latency": view.latency_max_ms,
            "min_latency": view.latency_min_ms,
            "num_alive_client_connections": view.connection_count,
            "uptime": uptime_ms(context),
            "auth_failed_count": 0,
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
        },
        "client_response": client_response(),
        "node_count": view.node_count,
    }));
    if with_connections {
        map.append(&mut connection_lists(view, false));
    }
    map
}

/// Response sizes are not tracked: -1, as ZooKeeper reports before its first response.
fn client_response() -> Value {
    json!({ "last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1 })
}

pub(super) fn uptime_ms(context: &AdminContext) -> u64 {
    context.started.elapsed().as_millis() as u64
}

/// `connections` and `secure_connections`; `full` for `cons`, the short form for `stats`.
fn connection_lists(view: &ServerView, full: bool) -> Map<String, Value> {
    let connections: Vec<Value> = view
        .connections
        .iter()
        .map(|c| connection(c, full))
        .collect();
    object(json!({ "connections": connections, "secure_connections": [] }))
}

fn connection(c: &ConnectionView, full: bool) -> Value {
    let mut map = object(json!({
        "remote_socket_address": c.remote.trim_start_matches('/'),
        "interest_ops": 1,
        "outstanding_requests": c.queued,
        "packets_received": c.received,
        "packets_sent": c.sent,
    }));
    if full {
        map.append(&mut object(json!({
            "session_id": c.session_id,
            "last_operation": c.last_operation,
            "established": 0,
            "session_timeout": c.session_timeout_ms,
            "last_cxid": c.last_cxid,
            "last_zxid": c.last_zxid.as_i64(),
            "last_response_time": 0,
            "last_latency": c.last_latency_ms,
            "min_latency": c.min_latency_ms,
            "avg_latency": c.avg_latency_ms.round() as u64,
            "max_latency": c.max_latency_ms,
        })));
    }
    Value::Object(map)
}

/// ZooKeeper's `environment` without the Java runtime's keys (`java.*`, and `os.memory.*`,
/// which are the JVM heap's figures).
fn environment() -> Map<String, Value> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let env = |key: &str| std::env::var(key).unwrap_or_default();
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    object(json!({
        "zookeeper.version": version(),
        "host.name": read("/proc/sys/kernel/hostname"),
        "os.name": if std::env::consts::OS == "linux" { "Linux" } else { std::env::consts::OS },
        "os.arch": std::env::consts::ARCH,
        "os.version": read("/proc/sys/kernel/osrelease"),
        "user.name": env("USER"),
        "user.home": env("HOME"),
        "user.dir": dir,
    }))
}

/// In an ensemble the leader's id and host; a standalone server has none, and ZooKeeper says so.
fn leader(view: &ServerView, context: &AdminContext) -> Map<String, Value> {
    let cfg = &context.config;
    if cfg.is_standalone() {
        return error("server is not initialized");
    }
    let leader_id = view.leader.map_or(-1, |id| id as i64);
    let leader_ip = cfg
        .members
        .iter()
        .find(|m| Some(m.id) == view.leader)
        .map(|m| m.host.clone())
        .unwrap_or_default();
    object(json!({
        "is_leader": view.mode == "leader",
        "leader_id": leader_id,
        "leader_ip": leader_ip,
    }))
}

/// The voting members by id, as ZooKeeper 3.8 describes them (empty standalone; observers do
/// not vote, so they are not listed). Only this server's client address is known: ZooKeeper
/// also leaves it empty for a member whose `server.N` line names none.
fn voting_view(context: &AdminContext) -> Map<String, Value> {
    let cfg = &context.config;
    let mut members = Map::new();
    if !cfg.is_standalone() {
        for m in cfg.members.iter().filter(|m| !m.observer) {
            let client_address = if m.id == cfg.my_id {
                cfg.client_address().to_string()
            } else {
                String::new()
            };
            let member = json!({
                "server_addresses": [format!("{}:{}", m.host, m.peer_port)],
                "election_addresses": [format!("{}:{}", m.host, m.election_port)],
                "client_address": client_address,
                "learner_type": "participant",
            });
            members.insert(m.id.to_string(), member);
        }
    }
    object(json!({ "current_config": members }))
}

/// Bytes of the files in `dir` and its direct subdirectories (where the log and snapshots
/// are); 0 when unreadable.
fn dir_size(dir: &std::path::Path) -> u64 {
    let files = |d: &std::path::Path| -> Vec<std::fs::Metadata> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .collect()
    };
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.metadata() {
            Ok(m) if m.is_dir() => {
                total += files(&entry.path())
                    .iter()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum::<u64>()
            }
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// The shape a real ZooKeeper 3.8 ensemble answers (server 1 of three, on loopback).
    #[test]
    fn voting_view_describes_each_member_as_zookeeper_does() {
        let mut config = crate::config::Config::parse(
            "dataDir=/x\nclientPort=2181\nclientPortAddress=127.0.0.1\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n",
        )
        .unwrap();
        config.my_id = 1;
        let context = AdminContext {
            config: Arc::new(config),
            started: Instant::now(),
        };
        let view = Value::Object(voting_view(&context));
        let expected = json!({ "current_config": {
            "1": {
                "server_addresses": ["127.0.0.1:2888"],
                "election_addresses": ["127.0.0.1:3888"],
                "client_address": "127.0.0.1:2181",
                "learner_type": "participant",
            },
            "2": {
                "server_addresses": ["127.0.0.1:2889"],
                "election_addresses": ["127.0.0.1:3889"],
                "client_address": "",
                "learner_type": "participant",
            },
        }});
        assert_eq!(view, expected);
        let leader = Value::Object(leader(
            &ServerView {
                mode: "follower".into(),
                leader: Some(2),
                ..Default::default()
            },
            &context,
        ));
        let expected = json!({ "is_leader": false, "leader_id": 2, "leader_ip": "127.0.0.1" });
        assert_eq!(leader, expected);
    }
}
