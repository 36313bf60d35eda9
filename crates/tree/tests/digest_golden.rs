//! The tree digest of one fixed history, pinned: replicas of different builds compare digests,
//! so a change to how nodes are stored must not change it. The history covers every node kind,
//! null and empty data, a second ACL, sequential names, a child set emptied again, setData,
//! setACL and a closed session's ephemerals. The figure was taken with the build before nodes
//! stopped storing their derived Stat fields (69464f4).

mod common;

use bytes::Bytes;
use common::{create, create_req, Leader};
use proto::{
    perms, Acl, CreateTtlRequest, DeleteRequest, Id, Request, SetAclRequest, SetDataRequest,
};

#[test]
fn the_digest_of_a_fixed_history_does_not_change() {
    let mut l = Leader::new();
    l.extended_types = true;
    l.open(1);
    l.open(2);
    l.run(1, create("/p", 0));
    l.run(1, create("/p/a", 0));
    l.run(1, create("/p/s-", 2));
    l.run(1, create("/p/s-", 2));
    l.run(2, create("/p/e", 1));
    l.run(2, create("/p/es-", 3));
    l.run(1, Request::CreateContainer(create_req("/c", "", 4)));
    l.run(1, create("/c/x", 0));
    l.run(
        1,
        Request::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 60_000,
        }),
    );
    l.run(
        1,
        Request::Create(proto::CreateRequest {
            path: "/n".into(),
            data: None,
            acl: vec![Acl {
                perms: perms::READ | perms::WRITE,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            flags: 0,
        }),
    );
    l.run(
        1,
        Request::SetData(SetDataRequest {
            path: "/p/a".into(),
            data: Some(Bytes::from_static(b"new data")),
            version: -1,
        }),
    );
    l.run(
        1,
        Request::SetAcl(SetAclRequest {
            path: "/p".into(),
            acl: Acl::read_unsafe(),
            version: -1,
        }),
    );
    l.run(
        1,
        Request::Delete(DeleteRequest {
            path: "/c/x".into(),
            version: -1,
        }),
    );
    l.close(2);
    assert_eq!(l.tree.digest(), l.tree.compute_digest());
    let mut paths: Vec<&str> = l
        .tree
        .paths()
        .filter(|p| !p.starts_with("/zookeeper"))
        .collect();
    paths.sort_unstable();
    let ran = [
        "/",
        "/c",
        "/n",
        "/p",
        "/p/a",
        "/p/s-0000000001",
        "/p/s-0000000002",
        "/t",
    ];
    assert_eq!(paths, ran, "the history ran as written");
    assert_eq!(l.tree.digest(), 5_882_666_510_801_481_896);
}
