//! proptest strategies for every record, shared by the round-trip and robustness tests.

#![allow(dead_code)]

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proto::*;

pub fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "/[a-z0-9/]{0,20}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

pub fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

pub fn data() -> impl Strategy<Value = Option<Bytes>> {
    option::of(bytes())
}

pub fn strings() -> impl Strategy<Value = Vec<String>> {
    vec(string(), 0..4)
}

pub fn id() -> impl Strategy<Value = Id> {
    (string(), string()).prop_map(|(scheme, id)| Id { scheme, id })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    vec(
        (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id }),
        0..3,
    )
}

prop_compose! {
    pub fn stat()(
        a in any::<i64>(), b in any::<i64>(), c in any::<i64>(), d in any::<i64>(),
        e in any::<i32>(), f in any::<i32>(), g in any::<i32>(), h in any::<i64>(),
        i in any::<i32>(), j in any::<i32>(), k in any::<i64>(),
    ) -> Stat {
        Stat {
            czxid: a, mzxid: b, ctime: c, mtime: d, version: e, cversion: f, aversion: g,
            ephemeral_owner: h, data_length: i, num_children: j, pzxid: k,
        }
    }
}

pub fn create() -> impl Strategy<Value = CreateRequest> {
    (string(), data(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

pub fn create_ttl() -> impl Strategy<Value = CreateTtlRequest> {
    (string(), data(), acls(), any::<i32>(), any::<i64>()).prop_map(
        |(path, data, acl, flags, ttl)| CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl,
        },
    )
}

pub fn path_version() -> impl Strategy<Value = (String, i32)> {
    (string(), any::<i32>())
}

pub fn path_watch() -> impl Strategy<Value = (String, bool)> {
    (string(), any::<bool>())
}

pub fn write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        create().prop_map(MultiOp::Create),
        create().prop_map(MultiOp::Create2),
        create().prop_map(MultiOp::CreateContainer),
        create_ttl().prop_map(MultiOp::CreateTtl),
        path_version().prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        (string(), data(), any::<i32>()).prop_map(|(path, data, version)| MultiOp::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        path_version()
            .prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

pub fn read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        path_watch()
            .prop_map(|(path, watch)| MultiOp::GetChildren(GetChildrenRequest { path, watch })),
        path_watch().prop_map(|(path, watch)| MultiOp::GetData(GetDataRequest { path, watch })),
    ]
}

pub fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        create().prop_map(Request::Create),
        create().prop_map(Request::Create2),
        create().prop_map(Request::CreateContainer),
        create_ttl().prop_map(Request::CreateTtl),
        path_version().prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        path_watch().prop_map(|(path, watch)| Request::Exists(ExistsRequest { path, watch })),
        path_watch().prop_map(|(path, watch)| Request::GetData(GetDataRequest { path, watch })),
        (string(), data(), any::<i32>()).prop_map(|(path, data, version)| Request::SetData(
            SetDataRequest {
                path,
                data,
                version
            }
        )),
        string().prop_map(|path| Request::GetAcl(GetAclRequest { path })),
        (string(), acls(), any::<i32>())
            .prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest { path, acl, version })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren(GetChildrenRequest { path, watch })),
        path_watch()
            .prop_map(|(path, watch)| Request::GetChildren2(GetChildrenRequest { path, watch })),
        string().prop_map(|path| Request::Sync(SyncRequest { path })),
        Just(Request::Ping),
        path_version()
            .prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        vec(write_op(), 0..4).prop_map(Request::Multi),
        vec(read_op(), 0..4).prop_map(Request::MultiRead),
        Just(Request::CloseSession),
        (any::<i64>(), strings(), strings(), strings()).prop_map(|(z, d, e, c)| {
            Request::SetWatches(SetWatches {
                relative_zxid: z,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })
        }),
        (
            any::<i64>(),
            strings(),
            strings(),
            strings(),
            strings(),
            strings()
        )
            .prop_map(|(z, d, e, c, p, r)| {
                Request::SetWatches2(SetWatches2 {
                    relative_zxid: z,
                    data_watches: d,
                    exist_watches: e,
                    child_watches: c,
                    persistent_watches: p,
                    persistent_recursive_watches: r,
                })
            }),
        (string(), any::<i32>())
            .prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        (string(), any::<i32>()).prop_map(|(path, watcher_type)| Request::CheckWatches(
            CheckWatchesRequest { path, watcher_type }
        )),
        (string(), any::<i32>()).prop_map(|(path, watcher_type)| Request::RemoveWatches(
            RemoveWatchesRequest { path, watcher_type }
        )),
        (any::<i32>(), string(), bytes()).prop_map(|(auth_type, scheme, auth)| Request::Auth(
            AuthPacket {
                auth_type,
                scheme,
                auth
            }
        )),
        string()
            .prop_map(|prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path })),
        string()
            .prop_map(|path| Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path })),
        Just(Request::WhoAmI),
        (string(), string(), string(), any::<i64>()).prop_map(|(j, l, n, c)| Request::Reconfig(
            ReconfigRequest {
                joining_servers: j,
                leaving_servers: l,
                new_members: n,
                cur_config_id: c,
            }
        )),
        bytes().prop_map(|token| Request::Sasl(SaslRequest { token })),
    ]
}

pub fn request_packet() -> impl Strategy<Value = RequestPacket> {
    (any::<i32>(), request()).prop_map(|(xid, request)| RequestPacket::new(xid, request))
}

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        bytes(),
        any::<bool>(),
    )
        .prop_map(|(v, z, t, s, p, r)| ConnectRequest {
            protocol_version: v,
            last_zxid_seen: z,
            timeout: t,
            session_id: s,
            passwd: p,
            read_only: r,
        })
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i64>(),
        bytes(),
        any::<bool>(),
    )
        .prop_map(|(v, t, s, p, r)| ConnectResponse {
            protocol_version: v,
            timeout: t,
            session_id: s,
            passwd: p,
            read_only: r,
        })
}

pub fn error_code() -> impl Strategy<Value = ErrorCode> {
    proptest::sample::select(ErrorCode::ALL)
}

pub fn multi_result() -> impl Strategy<Value = MultiResult> {
    prop_oneof![
        string().prop_map(|path| MultiResult::Create { path }),
        (string(), stat()).prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
        Just(MultiResult::Delete),
        stat().prop_map(|stat| MultiResult::SetData { stat }),
        Just(MultiResult::Check),
        strings().prop_map(|children| MultiResult::GetChildren { children }),
        (data(), stat()).prop_map(|(data, stat)| MultiResult::GetData { data, stat }),
        error_code().prop_map(|err| MultiResult::Error { err }),
    ]
}

pub fn watcher_event() -> impl Strategy<Value = WatcherEvent> {
    (
        proptest::sample::select(EventType::ALL),
        proptest::sample::select(KeeperState::ALL),
        string(),
    )
        .prop_map(|(event_type, state, path)| WatcherEvent {
            event_type,
            state,
            path,
        })
}

/// A response together with an opcode it answers.
pub fn response() -> impl Strategy<Value = (OpCode, Response)> {
    prop_oneof![
        proptest::sample::select(vec![
            OpCode::Delete,
            OpCode::Ping,
            OpCode::Check,
            OpCode::CloseSession,
            OpCode::SetWatches,
            OpCode::SetWatches2,
            OpCode::CheckWatches,
            OpCode::RemoveWatches,
            OpCode::Auth,
        ])
        .prop_map(|op| (op, Response::Empty)),
        string().prop_map(|path| (OpCode::Create, Response::Create(CreateResponse { path }))),
        (
            proptest::sample::select(vec![
                OpCode::Create2,
                OpCode::CreateContainer,
                OpCode::CreateTtl
            ]),
            string(),
            stat()
        )
            .prop_map(|(op, path, stat)| (op, Response::Create2(Create2Response { path, stat }))),
        (
            proptest::sample::select(vec![OpCode::Exists, OpCode::SetData, OpCode::SetAcl]),
            stat()
        )
            .prop_map(|(op, stat)| (op, Response::Stat(stat))),
        (data(), stat()).prop_map(|(data, stat)| (
            OpCode::GetData,
            Response::GetData(GetDataResponse { data, stat })
        )),
        (acls(), stat()).prop_map(|(acl, stat)| (
            OpCode::GetAcl,
            Response::GetAcl(GetAclResponse { acl, stat })
        )),
        strings().prop_map(|children| (
            OpCode::GetChildren,
            Response::GetChildren(GetChildrenResponse { children })
        )),
        (strings(), stat()).prop_map(|(children, stat)| (
            OpCode::GetChildren2,
            Response::GetChildren2(GetChildren2Response { children, stat })
        )),
        string().prop_map(|path| (OpCode::Sync, Response::Sync(SyncResponse { path }))),
        any::<i32>().prop_map(|total_number| (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber(GetAllChildrenNumberResponse { total_number })
        )),
        strings().prop_map(|ephemerals| (
            OpCode::GetEphemerals,
            Response::GetEphemerals(GetEphemeralsResponse { ephemerals })
        )),
        (
            proptest::sample::select(vec![OpCode::Multi, OpCode::MultiRead]),
            vec(multi_result(), 0..4)
        )
            .prop_map(|(op, results)| (op, Response::Multi(results))),
        Just((OpCode::AddWatch, Response::AddWatch)),
        vec(
            (string(), string()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }),
            0..3
        )
        .prop_map(|info| (OpCode::WhoAmI, Response::WhoAmI(info))),
        bytes().prop_map(|token| (OpCode::Sasl, Response::Sasl(SaslResponse { token }))),
        watcher_event().prop_map(|e| (OpCode::Notification, Response::Notification(e))),
    ]
}
