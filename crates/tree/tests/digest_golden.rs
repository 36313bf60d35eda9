//! The tree digest of one fixed history, pinned: a change to how nodes are stored must not
//! change it, and a change of the hash itself needs a new snapshot format (format 2 moved node
//! hashes from FNV-1a to XXH3; a format-1 snapshot of the same history is kept to show it still
//! restores). The history covers every node kind,
//! null and empty data, a second ACL, sequential names, a child set emptied again, setData,
//! setACL and a closed session's ephemerals. The figure was taken with the build before nodes
//! stopped storing their derived Stat fields (69464f4).

mod common;

use bytes::Bytes;
use common::{create, create_req, Leader};
use proto::{
    perms, Acl, CreateTtlRequest, DeleteRequest, Id, Request, SetAclRequest, SetDataRequest,
};

/// The fixed history, run.
fn fixed_history() -> Leader {
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
    l
}

#[test]
fn the_digest_of_a_fixed_history_does_not_change() {
    let l = fixed_history();
    assert_eq!(l.tree.digest(), l.tree.compute_digest());
    let mut paths: Vec<String> = l
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
    assert_eq!(l.tree.digest(), 5_207_427_722_658_913_388);
}

/// The same history's snapshot as the build before snapshot format 2 wrote it (format 1, node
/// hashes FNV-1a, written by 54c3f66), which carries that build's pinned digest.
const FORMAT_1: &[u8] = include_bytes!("fixtures/fixed-history-v1.snapshot");

#[test]
fn a_format_1_snapshot_restores_to_the_same_tree_and_a_changed_one_does_not() {
    let stored = u64::from_be_bytes(FORMAT_1[FORMAT_1.len() - 8..].try_into().unwrap());
    assert_eq!(stored, 5_882_666_510_801_481_896);
    let l = fixed_history();
    let restored = tree::DataTree::restore_from_bytes(FORMAT_1).unwrap();
    assert!(restored == l.tree);
    assert_eq!(restored.digest(), l.tree.digest());

    // A byte of data changed, the length kept: only the digest can tell.
    let at = FORMAT_1.windows(8).position(|w| w == b"new data").unwrap();
    let mut changed = FORMAT_1.to_vec();
    changed[at] = b'N';
    let err = tree::DataTree::restore_from_bytes(&changed).unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
}

#[test]
fn snapshots_are_written_in_format_2_and_read_back() {
    let l = fixed_history();
    let mut bytes = Vec::new();
    l.tree.snapshot_to(&mut bytes).unwrap();
    // The records are format 1's: only the version byte and the digest differ.
    assert_eq!(bytes.len(), FORMAT_1.len());
    assert_eq!((bytes[5], FORMAT_1[5]), (2, 1));
    let end = bytes.len() - 8;
    assert_eq!(bytes[..5], FORMAT_1[..5]);
    assert_eq!(bytes[6..end], FORMAT_1[6..end]);
    assert_eq!(bytes[end..], l.tree.digest().to_be_bytes());
    assert!(tree::DataTree::restore_from_bytes(&bytes).unwrap() == l.tree);
}
