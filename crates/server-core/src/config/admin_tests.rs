use super::*;

#[test]
fn a_zoo_cfg_gets_zookeepers_admin_defaults_and_code_gets_none() {
    let cfg = Config::parse("dataDir=/x\n").unwrap();
    assert_eq!(cfg.admin, AdminConfig::zookeeper_default());
    assert!(cfg.admin.enabled);
    assert_eq!(cfg.admin.port, 8080);
    assert_eq!(cfg.admin.address, IpAddr::from([0, 0, 0, 0]));
    assert_eq!(cfg.admin.command_url, "/commands");
    assert_eq!(cfg.admin.idle_timeout, Duration::from_secs(30));
    assert!(!Config::standalone(PathBuf::from("/x"), 2181).admin.enabled);
}

#[test]
fn admin_keys_are_read() {
    let cfg = Config::parse(
        "dataDir=/x\nadmin.enableServer=false\nadmin.serverPort=9090\n\
         admin.serverAddress=127.0.0.1\nadmin.commandURL=/zk/\nadmin.idleTimeout=1500\n",
    )
    .unwrap();
    assert!(!cfg.admin.enabled);
    assert_eq!(cfg.admin.port, 9090);
    assert_eq!(cfg.admin.address, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(cfg.admin.command_url, "/zk");
    assert_eq!(cfg.admin.idle_timeout, Duration::from_millis(1500));
    assert!(cfg.warnings.is_empty() && cfg.ignored.is_empty(), "{cfg:?}");
}

#[test]
fn bad_admin_values_name_the_key_and_line() {
    for (text, key) in [
        ("admin.serverPort=80800", "admin.serverPort"),
        ("admin.serverAddress=localhost:1", "admin.serverAddress"),
        ("admin.enableServer=perhaps", "admin.enableServer"),
        ("admin.commandURL=commands", "admin.commandURL"),
    ] {
        let err = Config::parse(&format!("dataDir=/x\n{text}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains(key), "{err}");
    }
    let cfg = Config::parse("dataDir=/x\nadmin.idleTimeout=1\n").unwrap();
    assert_eq!(cfg.admin.idle_timeout, Duration::from_millis(100));
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
}

/// An operator who sets SASL up must hear that Quorum does not enforce it: once per key.
#[test]
fn java_only_keys_are_accepted_with_one_warning_each() {
    let cfg = Config::parse(
        "dataDir=/x\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         authProvider.2=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         quorum.auth.enableSasl=true\nadmin.portUnification=true\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         admin.enableServer=false\nstandaloneEnabled=false\nadmin.nosuch=1\n",
    )
    .unwrap();
    let text = cfg.warnings.join("\n");
    for key in [
        "serverCnxnFactory=",
        "authProvider.1=",
        "authProvider.2=",
        "quorum.auth.enableSasl=",
        "admin.portUnification=",
        "metricsProvider.className=",
    ] {
        let n = cfg.warnings.iter().filter(|w| w.starts_with(key)).count();
        assert_eq!(n, 1, "{key}: {text}");
    }
    assert!(text.contains("SASL"), "{text}");
    assert!(text.contains("unknown setting admin.nosuch=1"), "{text}");
    assert_eq!(cfg.warnings.len(), 7, "{text}");
    assert!(
        !text.contains("standaloneEnabled"),
        "harmless keys stay quiet: {text}"
    );
}
