//! Requests answered from the local tree: reads, watch registration, pings, auth.
//!
//! Reads see the state as of every transaction applied so far on this server (ZooKeeper's
//! sequential consistency); they are answered in request order behind the connection's own
//! writes (see [`crate::state::Queued`]).

use bytes::Bytes;
use proto::{
    perms, AddWatchMode, ClientInfo, ErrorCode, EventType, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, KeeperState, MultiOp, MultiResult, ReplyPacket, Request, RequestPacket,
    Response, WatcherEvent, WatcherType,
};
use tree::acl::check_acl;

use crate::state::ServerState;
use crate::watches::{ConnId, WatchKind};

/// The answer to a request that does not change the tree.
pub fn answer(state: &mut ServerState, conn: ConnId, packet: &RequestPacket) -> ReplyPacket {
    // ZooKeeper answers every ping with the ping xid (-2), whatever xid the client sent.
    let xid = match packet.request {
        Request::Ping => proto::xid::PING,
        _ => packet.header.xid,
    };
    let zxid = state.last_zxid();
    match read(state, conn, &packet.request) {
        Ok(response) => ReplyPacket::ok(xid, zxid.as_i64(), response),
        Err(code) => ReplyPacket::error(xid, zxid.as_i64(), code),
    }
}

fn valid(path: &str) -> Result<(), ErrorCode> {
    tree::path::validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

fn auth_of(state: &ServerState, conn: ConnId) -> Vec<proto::Id> {
    state
        .clients
        .get(conn)
        .map(|c| c.auth.clone())
        .unwrap_or_default()
}

fn check(state: &ServerState, conn: ConnId, path: &str, perm: i32) -> Result<(), ErrorCode> {
    let (_, _, acl) = state.tree.get(path).ok_or(ErrorCode::NoNode)?;
    check_acl(acl, perm, &auth_of(state, conn), false)
}

fn sorted_children(state: &ServerState, path: &str) -> Vec<String> {
    state
        .tree
        .children(path)
        .map(|c| c.iter().map(|name| name.to_string()).collect())
        .unwrap_or_default()
}

fn read(state: &mut ServerState, conn: ConnId, request: &Request) -> Result<Response, ErrorCode> {
    match request {
        Request::Ping => Ok(Response::Empty),
        Request::Exists(r) => {
            valid(&r.path)?;
            let stat = state.tree.stat(&r.path);
            if r.watch {
                state.watches.add(conn, WatchKind::Data, &r.path);
            }
            stat.map(Response::Stat).ok_or(ErrorCode::NoNode)
        }
        Request::GetData(r) => {
            valid(&r.path)?;
            check(state, conn, &r.path, perms::READ)?;
            let (data, stat, _) = state.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
            // A copy: the node owns its bytes exactly (see `tree::Node::data`).
            let response = GetDataResponse {
                data: data.map(Bytes::copy_from_slice),
                stat,
            };
            if r.watch {
                state.watches.add(conn, WatchKind::Data, &r.path);
            }
            Ok(Response::GetData(response))
        }
        Request::GetAcl(r) => {
            valid(&r.path)?;
            let (_, stat, acl) = state.tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
            let mut response = GetAclResponse {
                acl: acl.to_vec(),
                stat,
            };
            check(state, conn, &r.path, perms::READ | perms::ADMIN)?;
            // ZooKeeper 3.8 shows digest credentials only to who may administer the node; a
            // reader without ADMIN sees every digest id as "user:x".
            if check(state, conn, &r.path, perms::ADMIN).is_err() {
                for a in &mut response.acl {
                    if a.id.scheme == "digest" {
                        a.id.id = redact_digest(&a.id.id);
                    }
                }
            }
            Ok(Response::GetAcl(response))
        }
        Request::GetChildren(r) | Request::GetChildren2(r) => {
            valid(&r.path)?;
            check(state, conn, &r.path, perms::READ)?;
            let children = sorted_children(state, &r.path);
            let stat = state.tree.stat(&r.path).ok_or(ErrorCode::NoNode)?;
            if r.watch {
                state.watches.add(conn, WatchKind::Child, &r.path);
            }
            Ok(match request {
                Request::GetChildren(_) => Response::GetChildren(GetChildrenResponse { children }),
                _ => Response::GetChildren2(GetChildren2Response { children, stat }),
            })
        }
        Request::GetAllChildrenNumber(r) => {
            valid(&r.path)?;
            check(state, conn, &r.path, perms::READ)?;
            let total = state
                .tree
                .all_children_number(&r.path)
                .ok_or(ErrorCode::NoNode)?;
            Ok(Response::GetAllChildrenNumber(
                GetAllChildrenNumberResponse {
                    total_number: i32::try_from(total).unwrap_or(i32::MAX),
                },
            ))
        }
        Request::GetEphemerals(r) => {
            let session = state.clients.get(conn).map_or(0, |c| c.session_id);
            let mut ephemerals: Vec<String> = state
                .tree
                .ephemerals(session)
                .into_iter()
                .filter(|p| r.prefix_path == "/" || p.starts_with(&r.prefix_path))
                .collect();
            ephemerals.sort();
            Ok(Response::GetEphemerals(GetEphemeralsResponse {
                ephemerals,
            }))
        }
        Request::MultiRead(ops) => {
            let results = ops
                .iter()
                .map(|op| {
                    let single = match op {
                        MultiOp::GetChildren(r) => Request::GetChildren(r.clone()),
                        MultiOp::GetData(r) => Request::GetData(r.clone()),
                        _ => {
                            return MultiResult::Error {
                                err: ErrorCode::BadArguments,
                            }
                        }
                    };
                    match read(state, conn, &single) {
                        Ok(Response::GetChildren(r)) => MultiResult::GetChildren {
                            children: r.children,
                        },
                        Ok(Response::GetData(r)) => MultiResult::GetData {
                            data: r.data,
                            stat: r.stat,
                        },
                        Ok(_) => MultiResult::Error {
                            err: ErrorCode::SystemError,
                        },
                        Err(err) => MultiResult::Error { err },
                    }
                })
                .collect();
            Ok(Response::Multi(results))
        }
        Request::SetWatches(w) => {
            set_watches(
                state,
                conn,
                w.relative_zxid,
                &w.data_watches,
                &w.exist_watches,
                &w.child_watches,
                &[],
                &[],
            );
            Ok(Response::Empty)
        }
        Request::SetWatches2(w) => {
            set_watches(
                state,
                conn,
                w.relative_zxid,
                &w.data_watches,
                &w.exist_watches,
                &w.child_watches,
                &w.persistent_watches,
                &w.persistent_recursive_watches,
            );
            Ok(Response::Empty)
        }
        Request::AddWatch(r) => {
            valid(&r.path)?;
            let kind = match AddWatchMode::try_from(r.mode) {
                Ok(AddWatchMode::Persistent) => WatchKind::Persistent,
                Ok(AddWatchMode::PersistentRecursive) => WatchKind::PersistentRecursive,
                Err(_) => return Err(ErrorCode::BadArguments),
            };
            state.watches.add(conn, kind, &r.path);
            Ok(Response::AddWatch)
        }
        Request::CheckWatches(r) => check_watches(state, conn, &r.path, r.watcher_type, false),
        Request::RemoveWatches(r) => check_watches(state, conn, &r.path, r.watcher_type, true),
        Request::WhoAmI => {
            let infos = auth_of(state, conn)
                .into_iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme,
                    user: id.id,
                })
                .collect();
            Ok(Response::WhoAmI(infos))
        }
        Request::Sasl(_) => Err(ErrorCode::Unimplemented),
        _ => Err(ErrorCode::Unimplemented),
    }
}

/// ZooKeeper's `id.replaceAll(":.*", ":x")`: every match runs from a `:` to the end of its
/// line (Java's `.` stops at line terminators), so "user:hash" becomes "user:x".
fn redact_digest(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    let mut skipping = false;
    for ch in id.chars() {
        let terminator = matches!(ch, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
        if skipping && !terminator {
            continue;
        }
        skipping = false;
        if ch == ':' {
            out.push_str(":x");
            skipping = true;
        } else {
            out.push(ch);
        }
    }
    out
}

/// checkWatches / removeWatches: NoWatcher unless the connection holds such a watch.
fn check_watches(
    state: &mut ServerState,
    conn: ConnId,
    path: &str,
    watcher_type: i32,
    remove: bool,
) -> Result<Response, ErrorCode> {
    valid(path)?;
    let kinds = watch_kinds(watcher_type)?;
    if !kinds.iter().any(|&k| state.watches.has(conn, k, path)) {
        return Err(ErrorCode::NoWatcher);
    }
    if remove {
        state.watches.remove(conn, &kinds, path);
    }
    Ok(Response::Empty)
}

fn watch_kinds(raw: i32) -> Result<Vec<WatchKind>, ErrorCode> {
    Ok(
        match WatcherType::try_from(raw).map_err(|_| ErrorCode::BadArguments)? {
            WatcherType::Children => vec![WatchKind::Child],
            WatcherType::Data => vec![WatchKind::Data],
            WatcherType::Persistent => vec![WatchKind::Persistent],
            WatcherType::PersistentRecursive => vec![WatchKind::PersistentRecursive],
            WatcherType::Any => vec![
                WatchKind::Child,
                WatchKind::Data,
                WatchKind::Persistent,
                WatchKind::PersistentRecursive,
            ],
        },
    )
}

/// Re-registers a reconnecting client's watches, firing at once those whose node changed after
/// the last zxid the client saw (ZooKeeper's setWatches).
#[allow(clippy::too_many_arguments)]
fn set_watches(
    state: &mut ServerState,
    conn: ConnId,
    relative_zxid: i64,
    data: &[String],
    exist: &[String],
    child: &[String],
    persistent: &[String],
    recursive: &[String],
) {
    let zxid = state.last_zxid();
    let mut events = Vec::new();
    for path in data {
        match state.tree.stat(path) {
            None => events.push((path.clone(), EventType::NodeDeleted)),
            Some(stat) if stat.mzxid > relative_zxid => {
                events.push((path.clone(), EventType::NodeDataChanged))
            }
            Some(_) => state.watches.add(conn, WatchKind::Data, path),
        }
    }
    for path in exist {
        if state.tree.exists(path) {
            events.push((path.clone(), EventType::NodeCreated));
        } else {
            state.watches.add(conn, WatchKind::Data, path);
        }
    }
    for path in child {
        match state.tree.stat(path) {
            None => events.push((path.clone(), EventType::NodeDeleted)),
            Some(stat) if stat.pzxid > relative_zxid => {
                events.push((path.clone(), EventType::NodeChildrenChanged))
            }
            Some(_) => state.watches.add(conn, WatchKind::Child, path),
        }
    }
    for path in persistent {
        state.watches.add(conn, WatchKind::Persistent, path);
    }
    for path in recursive {
        state
            .watches
            .add(conn, WatchKind::PersistentRecursive, path);
    }
    for (path, event_type) in events {
        let event = WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path,
        };
        let notification = ReplyPacket::notification(zxid.as_i64(), event);
        state.clients.send_notification(conn, &notification);
    }
}

#[cfg(test)]
mod tests {
    use proto::{Acl, GetAclRequest, Id};
    use tree::{CreateTxn, NodeKind, Txn, TxnHeader, TxnRecord};

    use super::*;
    use crate::replica::Application;
    use crate::state::test_conn;

    /// ZooKeeper 3.8's getACL needs READ or ADMIN; without ADMIN the digest ids come back as
    /// "user:x" (FinalRequestProcessor, getACL); with ADMIN (or as super) they are shown whole.
    #[test]
    fn get_acl_hides_digests_from_who_may_not_administer() {
        let mut s = crate::state::test_state();
        test_conn(&mut s, 1, vec![Id::new("digest", "alice:hash=")]);
        test_conn(&mut s, 2, vec![Id::new("digest", "bob:other=")]);
        test_conn(&mut s, 3, vec![Id::new("super", "")]);
        test_conn(&mut s, 4, vec![Id::new("digest", "carol:c=")]);
        let acl = vec![
            Acl {
                perms: perms::ALL,
                id: Id::new("digest", "alice:hash="),
            },
            Acl {
                perms: perms::READ,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: perms::ADMIN,
                id: Id::new("digest", "carol:c="),
            },
        ];
        let record = TxnRecord::new(
            TxnHeader {
                zxid: zab::Zxid::from_u64(1),
                time_ms: 1,
                session_id: 0,
                cxid: 0,
            },
            Txn::Create(CreateTxn {
                path: "/n".into(),
                data: None,
                acl: acl.clone(),
                kind: NodeKind::Persistent,
                parent_cversion: 1,
                with_stat: false,
            }),
        );
        s.deliver(&zab::Txn {
            zxid: zab::Zxid::from_u64(1),
            data: record.encode().into(),
        });
        let get = |s: &mut ServerState, conn| {
            let req = Request::GetAcl(GetAclRequest { path: "/n".into() });
            match read(s, conn, &req) {
                Ok(Response::GetAcl(r)) => r.acl,
                other => panic!("getACL: {other:?}"),
            }
        };
        assert_eq!(get(&mut s, 1), acl);
        assert_eq!(get(&mut s, 3), acl);
        assert_eq!(get(&mut s, 4), acl);
        let redacted: Vec<(String, i32)> = get(&mut s, 2)
            .into_iter()
            .map(|a| (format!("{}:{}", a.id.scheme, a.id.id), a.perms))
            .collect();
        assert_eq!(
            redacted,
            [
                ("digest:alice:x".to_string(), perms::ALL),
                ("world:anyone".to_string(), perms::READ),
                ("digest:carol:x".to_string(), perms::ADMIN),
            ]
        );
    }

    #[test]
    fn digest_redaction_is_zookeepers_replace_all() {
        assert_eq!(
            redact_digest("alice:uLD5NOZLQJ80mnO9Vlr0fn9L2Fg="),
            "alice:x"
        );
        assert_eq!(redact_digest("nocolon"), "nocolon");
        assert_eq!(redact_digest("a:b:c"), "a:x");
        assert_eq!(redact_digest("a:b\nc:d"), "a:x\nc:x");
    }
}
