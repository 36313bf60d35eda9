use proptest::prelude::*;

use super::*;

/// What ZooKeeper 3.8 showed in `/zookeeper/config` (see docs/membership.md), byte for byte.
const ZOOKEEPER_STATIC: &str = "server.1=127.0.0.1:41893:59455:participant\n\
server.2=127.0.0.1:43013:45741:participant\nserver.3=127.0.0.1:34585:44101:participant\nversion=0";
const ZOOKEEPER_INLINE: &str = "server.1=127.0.0.1:45283:59669:participant;127.0.0.1:37887\n\
server.2=127.0.0.1:52085:52501:participant;127.0.0.1:41145\n\
server.3=127.0.0.1:56729:50023:participant;127.0.0.1:50275\nversion=100000000";

#[test]
fn zookeepers_text_parses_and_renders_back_unchanged() {
    for text in [ZOOKEEPER_STATIC, ZOOKEEPER_INLINE] {
        let config = DynamicConfig::parse(text).unwrap();
        assert_eq!(config.servers.len(), 3);
        assert_eq!(config.render(), text);
    }
    let inline = DynamicConfig::parse(ZOOKEEPER_INLINE).unwrap();
    assert_eq!(inline.version, 1 << 32);
    assert_eq!(
        inline.servers[1].client,
        Some(ClientAddress {
            host: "127.0.0.1".into(),
            port: 41145
        })
    );
}

#[test]
fn short_forms_are_filled_in_as_zookeeper_shows_them() {
    let config = DynamicConfig::parse(
        "# members\nserver.3=c:1:2:OBSERVER;2181\n\nserver.1 = a:1:2\nserver.2=[::1]:1:2;[::1]:2181\n",
    )
    .unwrap();
    assert_eq!(
        config.render(),
        "server.1=a:1:2:participant\nserver.2=[::1]:1:2:participant;[::1]:2181\n\
         server.3=c:1:2:observer;0.0.0.0:2181\nversion=0"
    );
}

#[test]
fn bad_texts_are_errors_naming_the_line() {
    for (text, expected) in [
        ("server.1=a:1:2\nserver.1=b:1:2", "listed twice"),
        ("server.1=a:1:2:observer", "at least one must vote"),
        ("server.x=a:1:2", "not a server id"),
        ("server.1=a:1", "expected host:peerPort"),
        ("server.1=a:1:2:3:4", "expected host:peerPort"),
        ("server.1=a:1:99999", "bad port"),
        ("server.1=a:1:2:voter", "neither participant nor observer"),
        ("server.1=a:1:2;a:b", "bad port"),
        ("server.1=a:1:2;:5", "bad client address"),
        ("server.1=[::1:1:2", "expected host:peerPort"),
        ("server.1=:1:2", "expected host:peerPort"),
        ("version=zz", "not a hexadecimal"),
        ("version=1\nversion=2", "twice"),
        ("group.1=1:2", "unexpected key"),
        ("just words", "expected key=value"),
    ] {
        let err = DynamicConfig::parse(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
    let err = DynamicConfig::parse("\n\nserver.1=a").unwrap_err();
    assert!(
        matches!(err, DynamicConfigError::Line { line: 3, .. }),
        "{err:?}"
    );
}

#[test]
fn a_reconfig_server_list_is_split_on_commas() {
    let specs =
        parse_server_list("server.5=e:1:2:observer;2185, server.6=f:1:2\nserver.7=g:1:2").unwrap();
    let ids: Vec<u64> = specs.iter().map(|s| s.member.id).collect();
    assert_eq!(ids, [5, 6, 7]);
    assert!(specs[0].member.observer && specs[0].client.as_ref().unwrap().port == 2185);
    assert!(parse_server_list("").unwrap().is_empty());
    for bad in ["5=e:1:2", "server.5", "server.5=e:1", "server.x=e:1:2"] {
        assert!(parse_server_list(bad).is_err(), "{bad}");
    }
}

#[test]
fn too_many_servers_are_refused() {
    let text: String = (0..=MAX_SERVERS)
        .map(|i| format!("server.{i}=h:1:2\n"))
        .collect();
    assert!(DynamicConfig::parse(&text)
        .unwrap_err()
        .to_string()
        .contains("more than"));
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9.-]{0,20}",
        any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
        any::<[u16; 8]>().prop_map(|w| std::net::Ipv6Addr::from(w).to_string()),
    ]
}

fn spec() -> impl Strategy<Value = ServerSpec> {
    (
        0u64..1000,
        host(),
        any::<u16>(),
        any::<u16>(),
        any::<bool>(),
        proptest::option::of((host(), any::<u16>())),
    )
        .prop_map(
            |(id, host, peer_port, election_port, observer, client)| ServerSpec {
                member: Member {
                    id,
                    host,
                    peer_port,
                    election_port,
                    observer,
                },
                client: client.map(|(host, port)| ClientAddress { host, port }),
            },
        )
}

proptest! {
    #[test]
    fn render_then_parse_is_the_identity(
        specs in proptest::collection::vec(spec(), 1..8),
        version in any::<u64>(),
    ) {
        let mut config = DynamicConfig::new(specs, version);
        config.servers.dedup_by_key(|s| s.member.id);
        config.servers[0].member.observer = false;
        let parsed = DynamicConfig::parse(&config.render()).unwrap();
        prop_assert_eq!(parsed, config);
    }

    #[test]
    fn parse_never_panics(text in "(server\\.[0-9]{1,3}=|version=|[\\[\\]:;=a-z0-9.\\n#])*") {
        if let Ok(config) = DynamicConfig::parse(&text) {
            prop_assert_eq!(DynamicConfig::parse(&config.render()).unwrap(), config);
        }
    }
}
