use super::*;

#[test]
fn a_zookeeper_zoo_cfg_parses() {
    let cfg = Config::parse(
        "# comment\ntickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\n\
         clientPort=2181\n4lw.commands.whitelist=ruok, srvr,mntr\nautopurge.purgeInterval=1\n\
         server.1=a:2888:3888\nserver.2=b:2888:3888;0.0.0.0:2181\nserver.3=c:2888:3888:participant\n\
         admin.enableServer=false\n",
    )
    .unwrap();
    assert_eq!(cfg.tick_time, Duration::from_millis(2000));
    assert_eq!(cfg.min_session_timeout, Duration::from_millis(4000));
    assert_eq!(cfg.max_session_timeout, Duration::from_millis(40000));
    assert_eq!(cfg.data_log_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(cfg.members.len(), 3);
    assert_eq!(
        cfg.members[1],
        Member {
            id: 2,
            host: "b".into(),
            peer_port: 2888,
            election_port: 3888,
            observer: false,
        }
    );
    assert!(cfg.allows_four_letter_word("srvr") && !cfg.allows_four_letter_word("dump"));
    assert!(cfg.ignored.is_empty() && cfg.warnings.is_empty(), "{cfg:?}");
}

#[test]
fn the_fsync_warning_threshold_is_read() {
    let parse = |extra: &str| Config::parse(&format!("dataDir=/var/lib/zk\n{extra}"));
    assert_eq!(parse("").unwrap().fsync_warning_ms, 1000);
    let cfg = parse("fsync.warningthresholdms=50\n").unwrap();
    assert_eq!(cfg.fsync_warning_ms, 50);
    assert!(cfg.ignored.is_empty() && cfg.warnings.is_empty(), "{cfg:?}");
    assert!(parse("fsync.warningthresholdms=soon\n").is_err());
}

#[test]
fn the_example_configurations_parse() {
    for text in [
        include_str!("../../../../examples/ensemble-3/server1.cfg"),
        include_str!("../../../../examples/ensemble-5/server5.cfg"),
    ] {
        let cfg = Config::parse(text).unwrap();
        assert!(cfg.members.len() == 3 || cfg.members.len() == 5);
        assert!(cfg.ignored.is_empty(), "unknown keys: {:?}", cfg.ignored);
    }
}

#[test]
fn the_peer_secret_is_read_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.secret");
    let cfg_text = format!(
        "dataDir=/x\nquorum.peerSecretFile={}\nquorum.maxPeerSendQueueBytes=5000000\n",
        path.display()
    );
    let mut cfg = Config::parse(&cfg_text).unwrap();
    assert_eq!(cfg.max_peer_send_queue_bytes, 5_000_000);
    assert!(cfg.ignored.is_empty(), "{:?}", cfg.ignored);
    let err = cfg.read_peer_secret().unwrap_err().to_string();
    assert!(err.contains("cannot read the peer secret file"), "{err}");
    std::fs::write(&path, " \n").unwrap();
    let err = cfg.read_peer_secret().unwrap_err().to_string();
    assert!(err.contains("is empty"), "{err}");
    std::fs::write(&path, "s3cret\n").unwrap();
    cfg.read_peer_secret().unwrap();
    assert_eq!(
        cfg.peer_secret,
        crate::peers::PeerSecret::from_text("s3cret")
    );
}

#[test]
fn bad_values_name_the_line() {
    let err = Config::parse("dataDir=/x\ntickTime=fast\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("tickTime"), "{err}");
    let err = Config::parse("tickTime=2000\n").unwrap_err().to_string();
    assert!(err.contains("dataDir"), "{err}");
    let err = Config::parse("dataDir=/x\nserver.1=a:1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.1"), "{err}");
    let err = Config::parse("dataDir=/x\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("minSessionTimeout"), "{err}");
}

/// A typo must not pass silently: `clientport=2182` used to leave the server on 2181
/// without a word.
#[test]
fn unknown_keys_and_clamped_values_are_warned_about() {
    let cfg = Config::parse(
        "dataDir=/x\nclientport=2182\nsyncLimit=0\nadmin.enableServer=false\nfoo=bar\n",
    )
    .unwrap();
    assert_eq!(cfg.client_port, 2181);
    assert_eq!(cfg.sync_limit, 1);
    let text = cfg.warnings.join("\n");
    assert!(
        text.contains("clientport=2182") && text.contains("did you mean clientPort?"),
        "{text}"
    );
    assert!(text.contains("syncLimit=0"), "{text}");
    assert!(text.contains("foo=bar"), "{text}");
    assert!(
        !text.contains("admin.enableServer"),
        "a key Quorum reads is not a typo: {text}"
    );
    assert_eq!(cfg.warnings.len(), 3, "{text}");
}

#[test]
fn io_threads_default_to_the_core_thread_unless_tls_is_on_and_are_capped() {
    assert_eq!(Config::parse("dataDir=/x\n").unwrap().io_threads(), 0);
    let tls =
        "dataDir=/x\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=none\n";
    assert_eq!(
        Config::parse(tls).unwrap().io_threads(),
        super::TLS_IO_THREADS
    );
    let cfg = Config::parse(&format!("{tls}quorum.ioThreads=0\n")).unwrap();
    assert_eq!(cfg.io_threads(), 0);
    let cfg = Config::parse("dataDir=/x\nquorum.ioThreads=4\n").unwrap();
    assert_eq!((cfg.io_threads(), cfg.warnings.len()), (4, 0));
    let cfg = Config::parse("dataDir=/x\nquorum.ioThreads=100000\n").unwrap();
    assert_eq!(cfg.io_threads(), super::MAX_IO_THREADS as usize);
    assert!(
        cfg.warnings[0].contains("quorum.ioThreads=100000"),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn limits_are_read_and_kept_consistent_with_jute_maxbuffer() {
    let cfg = Config::parse(
        "dataDir=/x\nmaxClientCnxns=5\nmaxCnxns=100\nglobalOutstandingLimit=50\n\
         quorum.maxRequestBytesPerConnection=10\njute.maxbuffer=0x200000\n",
    )
    .unwrap();
    assert_eq!(cfg.limits.max_connections_per_ip, 5);
    assert_eq!(cfg.limits.max_connections, 100);
    assert_eq!(cfg.limits.global_outstanding_requests, 50);
    assert_eq!(cfg.max_packet_bytes, 0x200000);
    assert_eq!(cfg.limits.max_request_bytes_per_connection, 0x200000 + 4);
    assert!(cfg
        .warnings
        .iter()
        .any(|w| w.contains("maxRequestBytesPerConnection")));
    assert!(cfg.limits.max_outbound_bytes_per_connection >= 2 * 0x200000);
}

#[test]
fn observers_are_members_that_do_not_vote() {
    let cfg = Config::parse(
        "dataDir=/d\nserver.1=a:2888:3888\nserver.2=b:2888:3888:participant\n\
         server.3=c:2888:3888;2181\nserver.4=d:2888:3888:observer;0.0.0.0:2181\n",
    )
    .unwrap();
    assert_eq!(cfg.voter_ids().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(cfg.observer_ids().collect::<Vec<_>>(), vec![4]);
    let mut observer = cfg.clone();
    observer.my_id = 4;
    assert!(observer.is_observer() && !cfg.is_observer());
    let zab = observer.zab_config();
    let membership = zab.initial_membership();
    assert_eq!(
        membership.quorum_size(),
        2,
        "a majority of the three voters"
    );
    assert!(membership.is_member(zab::ServerId(4)) && !membership.is_voter(zab::ServerId(4)));
}

#[test]
fn bad_roles_and_a_peer_type_that_disagrees_are_refused() {
    let err = Config::parse("dataDir=/d\nserver.1=a:2888:3888:witness\n").unwrap_err();
    assert!(
        err.to_string().contains("neither participant nor observer"),
        "{err}"
    );
    let err = Config::parse("dataDir=/d\nserver.1=a:2888:3888:observer\n").unwrap_err();
    assert!(err.to_string().contains("at least one must vote"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    let text = format!(
        "dataDir={}\npeerType=observer\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n",
        dir.path().display()
    );
    std::fs::write(&cfg_path, text).unwrap();
    std::fs::write(dir.path().join("myid"), "2\n").unwrap();
    let err = Config::load(&cfg_path).unwrap_err();
    assert!(
        err.to_string()
            .contains("peerType=observer but server.2 is listed as participant"),
        "{err}"
    );
}

#[test]
fn read_only_mode_is_off_unless_set_under_either_name() {
    let base = "dataDir=/d\n";
    assert!(!Config::parse(base).unwrap().read_only_enabled);
    for key in ["readonlymode.enabled", "zookeeper.readonlymode.enabled"] {
        let cfg = Config::parse(&format!("{base}{key}=true\n")).unwrap();
        assert!(cfg.read_only_enabled, "{key}");
        assert!(cfg.warnings.is_empty(), "{key}: {:?}", cfg.warnings);
    }
    assert!(Config::parse(&format!("{base}readonlymode.enabled=maybe\n")).is_err());
    let cfg = Config::parse(&format!("{base}localSessionsEnabled=true\n")).unwrap();
    // ZooKeeper 3.8 does not upgrade local sessions unless told to.
    assert!(cfg.local_sessions_enabled && !cfg.local_sessions_upgrading_enabled);
    let upgrading =
        format!("{base}localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n");
    assert!(
        Config::parse(&upgrading)
            .unwrap()
            .local_sessions_upgrading_enabled
    );
    assert!(!Config::parse(base).unwrap().local_sessions_enabled);
}

#[test]
fn quorum_tls_is_read_and_what_it_lacks_is_warned_about() {
    let cfg = Config::parse(
        "dataDir=/d\nsslQuorum=true\nssl.quorum.keyStore.location=/k.jks\n\
         ssl.quorum.trustStore.location=/t.jks\nsslQuorumReloadCertFiles=true\n\
         portUnification=false\nssl.quorum.context.supplier.class=x.Y\n\
         ssl.keyStore.passwordPath=/p\n",
    )
    .unwrap();
    assert!(cfg.quorum_tls.enabled);
    assert_eq!(cfg.warnings.len(), 3, "{:?}", cfg.warnings);
    assert!(cfg.warnings[0].starts_with("sslQuorumReloadCertFiles=true is not supported"));
    assert!(cfg.warnings[1].contains("unknown setting ssl.quorum.context.supplier.class"));
    assert!(cfg.warnings[2].contains("unknown setting ssl.keyStore.passwordPath"));
}
