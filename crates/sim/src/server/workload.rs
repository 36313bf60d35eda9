//! What simulated clients ask: every kind of request, over a small fixed namespace so that
//! requests collide. Register operations (on /r0../r3) are recorded in the chaos crate's
//! history format and checked for linearizability; watches are set only on /w (open ACLs, so
//! every change is due to its watchers).

use bytes::Bytes;
use proto::{
    Acl, AddWatchRequest, AuthPacket, CheckVersionRequest, CreateRequest, CreateTtlRequest,
    DeleteRequest, ExistsRequest, GetAclRequest, GetChildrenRequest, GetDataRequest, Id, MultiOp,
    Request, SetAclRequest, SetDataRequest, SyncRequest,
};

use crate::rng::Rng;

/// The registers whose operations are checked for linearizability.
pub const REGISTERS: [&str; 4] = ["/r0", "/r1", "/r2", "/r3"];
/// Persistent parents made at the start of a run.
pub const PARENTS: [&str; 6] = ["/n", "/w", "/e", "/s", "/k", "/t"];
const PLAIN: [&str; 5] = ["/n/a", "/n/b", "/n/c", "/n/d", "/n/e"];
const WATCHED: [&str; 4] = ["/w/a", "/w/b", "/w/c", "/w"];

/// A watch a client holds, as the server keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchSpec {
    /// getData, or exists on a node that is there: NodeCreated, NodeDataChanged,
    /// NodeDeleted, once.
    Data(String),
    /// exists on a missing node: the same events (ZooKeeper keeps it with the data watches),
    /// re-set after a reconnect as an exist watch.
    Exist(String),
    /// getChildren: NodeChildrenChanged, NodeDeleted, once.
    Child(String),
    /// addWatch persistent: every event of the node.
    Persistent(String),
    /// addWatch persistent recursive: created, changed, deleted of the node and below.
    Recursive(String),
}

/// A register operation, as the history records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Read,
    Write {
        value: String,
    },
    Cas {
        value: String,
        version: i32,
    },
    /// A sync followed by a getData, one operation in the history (completed by the read).
    SyncRead,
}

/// What a request is for, so its reply can be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Checked for order and zxid only.
    Plain,
    /// A register operation on `path`.
    Register { path: String, op: RegisterOp },
    /// The sync half of a SyncRead (its read follows).
    SyncOfRead,
    /// Sets `watch` when it succeeds (`always`: exists sets it even on NoNode).
    Watch { watch: WatchSpec, always: bool },
    /// setWatches after a reconnect: the watches it carried are held from its reply on.
    SetWatches,
}

/// One request to send.
#[derive(Clone, Debug)]
pub struct Planned {
    pub request: Request,
    pub purpose: Purpose,
}

fn open_acl() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn data(rng: &mut Rng) -> Option<Bytes> {
    Some(Bytes::from(vec![b'x'; rng.below(40) as usize]))
}

fn create(path: &str, flags: i32, data: Option<Bytes>) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data,
        acl: open_acl(),
        flags,
    })
}

/// The requests that make the namespace (NodeExists answers when it is there already).
pub fn setup() -> Vec<Planned> {
    let mut out = Vec::new();
    // Registers start empty at version 0, as the history checker assumes.
    for path in REGISTERS.iter().chain(PARENTS.iter()) {
        out.push(Planned {
            request: create(path, 0, Some(Bytes::new())),
            purpose: Purpose::Plain,
        });
    }
    out
}

/// A register operation on a random register; `tag` makes written values unique.
pub fn register(rng: &mut Rng, tag: &str) -> Vec<Planned> {
    let path = REGISTERS[rng.below(REGISTERS.len() as u64) as usize].to_string();
    let read = || {
        Request::GetData(GetDataRequest {
            path: path.clone(),
            watch: false,
        })
    };
    let op = match rng.below(4) {
        0 => RegisterOp::Read,
        1 => RegisterOp::Write {
            value: tag.to_string(),
        },
        2 => RegisterOp::Cas {
            value: tag.to_string(),
            version: rng.below(6) as i32,
        },
        _ => RegisterOp::SyncRead,
    };
    let register = |op| Purpose::Register {
        path: path.clone(),
        op,
    };
    match op {
        RegisterOp::Read => vec![Planned {
            request: read(),
            purpose: register(RegisterOp::Read),
        }],
        RegisterOp::Write { value } => vec![Planned {
            request: Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(Bytes::from(value.clone())),
                version: -1,
            }),
            purpose: register(RegisterOp::Write { value }),
        }],
        RegisterOp::Cas { value, version } => vec![Planned {
            request: Request::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(Bytes::from(value.clone())),
                version,
            }),
            purpose: register(RegisterOp::Cas { value, version }),
        }],
        RegisterOp::SyncRead => vec![
            Planned {
                request: Request::Sync(SyncRequest { path: path.clone() }),
                purpose: Purpose::SyncOfRead,
            },
            Planned {
                request: read(),
                purpose: register(RegisterOp::SyncRead),
            },
        ],
    }
}

/// Any other request: writes, reads, watches, multi, ACLs, auth, pings, ephemeral,
/// sequential, container and TTL nodes.
pub fn other(rng: &mut Rng, client: usize) -> Planned {
    let plain = |request| Planned {
        request,
        purpose: Purpose::Plain,
    };
    let pick =
        |rng: &mut Rng, from: &[&str]| from[rng.below(from.len() as u64) as usize].to_string();
    match rng.below(20) {
        0 | 1 => plain(create(&pick(rng, &PLAIN), 0, data(rng))),
        2 => plain(Request::Delete(DeleteRequest {
            path: pick(rng, &PLAIN),
            version: -1,
        })),
        3 => plain(Request::SetData(SetDataRequest {
            path: pick(rng, &PLAIN),
            data: data(rng),
            version: if rng.chance(0.3) {
                rng.below(4) as i32
            } else {
                -1
            },
        })),
        4 => plain(Request::GetData(GetDataRequest {
            path: pick(rng, &PLAIN),
            watch: false,
        })),
        5 => plain(Request::GetChildren2(GetChildrenRequest {
            path: "/n".into(),
            watch: false,
        })),
        6 => plain(create(
            &format!("/e/c{client}-{}", rng.below(3)),
            1,
            data(rng),
        )),
        7 => plain(create("/s/q-", 2 + rng.below(2) as i32, data(rng))),
        8 => plain(Request::CreateContainer(CreateRequest {
            path: "/k/c".into(),
            data: None,
            acl: open_acl(),
            flags: 4,
        })),
        9 => plain(create(&format!("/k/c/x{}", rng.below(3)), 0, None)),
        10 => plain(Request::CreateTtl(CreateTtlRequest {
            path: format!("/t/x{}", rng.below(3)),
            data: None,
            acl: open_acl(),
            flags: 5,
            ttl: rng.between(50, 2_000) as i64,
        })),
        11 => multi(rng),
        12 => acl(rng),
        13 => plain(Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from(format!("u{client}:p")),
        })),
        14 => plain(Request::Ping),
        15 | 16 => watched_write(rng),
        _ => watch(rng),
    }
}

/// A multi of create/setData/check/delete on the plain nodes (failing ones included).
fn multi(rng: &mut Rng) -> Planned {
    let mut ops = Vec::new();
    for _ in 0..rng.between(1, 4) {
        let path = PLAIN[rng.below(PLAIN.len() as u64) as usize].to_string();
        ops.push(match rng.below(4) {
            0 => MultiOp::Create(CreateRequest {
                path,
                data: None,
                acl: open_acl(),
                flags: 0,
            }),
            1 => MultiOp::SetData(SetDataRequest {
                path,
                data: data(rng),
                version: -1,
            }),
            2 => MultiOp::Check(CheckVersionRequest {
                path,
                version: rng.below(3) as i32,
            }),
            _ => MultiOp::Delete(DeleteRequest { path, version: -1 }),
        });
    }
    Planned {
        request: Request::Multi(ops),
        purpose: Purpose::Plain,
    }
}

/// setACL or getACL on a plain node.
fn acl(rng: &mut Rng) -> Planned {
    let path = PLAIN[rng.below(PLAIN.len() as u64) as usize].to_string();
    let request = if rng.chance(0.5) {
        Request::GetAcl(GetAclRequest { path })
    } else {
        let acl = if rng.chance(0.7) {
            open_acl()
        } else {
            vec![Acl {
                perms: proto::perms::ALL,
                id: Id::new("digest", "u0:x"),
            }]
        };
        Request::SetAcl(SetAclRequest {
            path,
            acl,
            version: -1,
        })
    };
    Planned {
        request,
        purpose: Purpose::Plain,
    }
}

/// A change to a watched node.
fn watched_write(rng: &mut Rng) -> Planned {
    let path = WATCHED[rng.below(3) as usize];
    let request = match rng.below(3) {
        0 => create(path, 0, data(rng)),
        1 => Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        }),
        _ => Request::SetData(SetDataRequest {
            path: path.into(),
            data: data(rng),
            version: -1,
        }),
    };
    Planned {
        request,
        purpose: Purpose::Plain,
    }
}

/// A read that sets a watch on /w, or an addWatch.
fn watch(rng: &mut Rng) -> Planned {
    let path = WATCHED[rng.below(WATCHED.len() as u64) as usize].to_string();
    let (request, watch, always) = match rng.below(5) {
        0 => (
            Request::Exists(ExistsRequest {
                path: path.clone(),
                watch: true,
            }),
            WatchSpec::Data(path),
            true,
        ),
        1 => (
            Request::GetData(GetDataRequest {
                path: path.clone(),
                watch: true,
            }),
            WatchSpec::Data(path),
            false,
        ),
        2 => (
            Request::GetChildren(GetChildrenRequest {
                path: path.clone(),
                watch: true,
            }),
            WatchSpec::Child(path),
            false,
        ),
        3 => (
            Request::AddWatch(AddWatchRequest {
                path: path.clone(),
                mode: 0,
            }),
            WatchSpec::Persistent(path),
            false,
        ),
        _ => (
            Request::AddWatch(AddWatchRequest {
                path: "/w".into(),
                mode: 1,
            }),
            WatchSpec::Recursive("/w".into()),
            false,
        ),
    };
    Planned {
        request,
        purpose: Purpose::Watch { watch, always },
    }
}
