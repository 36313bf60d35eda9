use bytes::Bytes;
use proto::{ErrorCode, ReconfigRequest};
use tree::{Txn, TxnHeader, TxnRecord};

use super::*;

const THREE: &str = "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001\n\
                     server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002\n\
                     server.3=127.0.0.1:2003:3003:participant;127.0.0.1:4003\n\
                     version=0";

fn current() -> DynamicConfig {
    DynamicConfig::parse(THREE).unwrap()
}

fn request(joining: &str, leaving: &str, new_members: &str) -> ReconfigRequest {
    ReconfigRequest {
        joining_servers: joining.into(),
        leaving_servers: leaving.into(),
        new_members: new_members.into(),
        cur_config_id: -1,
    }
}

fn ids(config: &DynamicConfig) -> Vec<(u64, bool)> {
    config
        .servers
        .iter()
        .map(|s| (s.member.id, s.member.observer))
        .collect()
}

#[test]
fn leaving_and_joining_change_the_current_configuration() {
    let joining = "server.4=127.0.0.1:2004:3004:observer;127.0.0.1:4004";
    let next = next_config(&request(joining, "3", ""), &current(), true).unwrap();
    assert_eq!(ids(&next), [(1, false), (2, false), (4, true)]);
    // A joining line for a member replaces its line: how a role changes.
    let to_observer = "server.3=127.0.0.1:2003:3003:observer;127.0.0.1:4003";
    let next = next_config(&request(to_observer, "", ""), &current(), true).unwrap();
    assert_eq!(ids(&next), [(1, false), (2, false), (3, true)]);
    // Nothing asked: the same members (ZooKeeper proposes it as a new version).
    let next = next_config(&request("", "", ""), &current(), true).unwrap();
    assert_eq!(ids(&next), ids(&current()));
}

#[test]
fn new_members_replace_the_whole_configuration() {
    let members = "server.1=127.0.0.1:2001:3001:participant;127.0.0.1:4001,\
                   server.2=127.0.0.1:2002:3002:participant;127.0.0.1:4002,\
                   server.5=127.0.0.1:2005:3005:observer;127.0.0.1:4005";
    let next = next_config(&request("", "", members), &current(), true).unwrap();
    assert_eq!(ids(&next), [(1, false), (2, false), (5, true)]);
}

#[test]
fn bad_input_is_bad_arguments() {
    let bad = |r: ReconfigRequest, standalone: bool| {
        assert_eq!(
            next_config(&r, &current(), standalone),
            Err(ErrorCode::BadArguments),
            "{r:?}"
        );
    };
    bad(request("some thing", "", ""), true);
    // Hosts that would not read back from the proposed text (they panicked a leader once).
    for host in ["[ ]", "[[x]", "\u{a0}"] {
        let joiner = format!("server.4={host}:1:2:observer;5");
        bad(request(&joiner, "", ""), true);
    }
    bad(
        request("server.4=127.0.0.1:2004:3004:observer;[[c]:5", "", ""),
        true,
    );
    bad(request("", "three", ""), true);
    // A joiner without its client address (ZooKeeper wants all three ports).
    bad(
        request("server.4=127.0.0.1:2004:3004:participant", "", ""),
        true,
    );
    // A joiner on another member's peer port.
    bad(
        request("server.4=127.0.0.1:2001:3004;127.0.0.1:4004", "", ""),
        true,
    );
    // Under standaloneEnabled (ZooKeeper's default) a configuration needs two voters.
    bad(request("", "2,3", ""), true);
    assert!(next_config(&request("", "2,3", ""), &current(), false).is_ok());
    bad(request("", "1,2,3", ""), false);
    bad(
        request("", "", "server.1=127.0.0.1:1:2:observer;127.0.0.1:3"),
        false,
    );
}

#[test]
fn the_core_learns_the_membership_only_from_reconfig_records() {
    let mut next = next_config(&request("", "3", ""), &current(), true).unwrap();
    next.version = 0x1_0000_0007;
    let header = TxnHeader {
        zxid: zab::Zxid::from_u64(0x1_0000_0007),
        ..TxnHeader::default()
    };
    let txn = Txn::Reconfig {
        data: Bytes::from(next.render()),
    };
    let bytes = TxnRecord::new(header, txn).encode();
    let membership = decode_membership(&bytes).unwrap();
    assert_eq!(membership.voters, [zab::ServerId(1), zab::ServerId(2)]);
    assert!(membership.observers.is_empty());
    let set = TxnRecord::new(
        header,
        Txn::SetData {
            path: "/a".into(),
            data: Some(Bytes::from(next.render())),
            version: 1,
        },
    );
    assert_eq!(decode_membership(&set.encode()), None);
    assert_eq!(decode_membership(&[]), None);
    assert_eq!(decode_membership(&bytes[..bytes.len() - 1]), None);
}
