//! `reconfig` on real processes. Servers 1–3 vote; server 4 is started as ZooKeeper's
//! documentation says a joining server is: with the ensemble's configuration plus itself as an
//! observer, while the members do not know it. It dials the members, syncs as a learner, and
//! a reconfig (through a zookeeper-client session authenticated as `super`, with writes
//! pipelined beside it) makes it a voter. Then its vote is needed — with server 1 down, three
//! of four voters commit only if server 4 acknowledges — and the change survives a restart of
//! the whole ensemble, read back from the dynamic file each server wrote.

use std::time::Duration;

use client::zk;
use futures::future::join_all;
use launch::{Ensemble, EnsembleSpec};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");
const PASSWORD: &str = "reconfig-test";

fn super_digest() -> String {
    tree::acl::generate_digest(&format!("super:{PASSWORD}"))
}

/// Servers 1–3 list only themselves; server 4 lists them and itself as an observer.
fn start() -> Ensemble {
    let ens = EnsembleSpec::new(4, QUORUM)
        .observers(1)
        .set("reconfigEnabled", "true")
        .set("DigestAuthenticationProvider.superDigest", super_digest())
        .temp_prefix("quorum-reconfig-")
        .write()
        .expect("write the ensemble");
    for id in 1..=3 {
        let cfg = ens.config_path(id);
        let text = std::fs::read_to_string(&cfg).expect("zoo.cfg");
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("server.4="))
            .collect();
        std::fs::write(&cfg, kept.join("\n") + "\n").expect("rewrite zoo.cfg");
    }
    launch(ens)
}

fn launch(mut ens: Ensemble) -> Ensemble {
    if let Err(e) = ens.launch(Duration::from_secs(60)) {
        panic!("{e}\n{}", ens.logs_tail(30));
    }
    ens
}

async fn connect(ens: &Ensemble, id: usize) -> zk::Client {
    client::connect(&ens.address(id), Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("connect to server {id}: {e}\n{}", ens.log(id)))
}

fn joining_line(ens: &Ensemble, id: usize, role: &str) -> String {
    format!(
        "server.{id}=127.0.0.1:{}:{}:{role};127.0.0.1:{}",
        ens.peer_port(id),
        ens.election_port(id),
        ens.client_port(id)
    )
}

async fn pipelined_creates(zk: &zk::Client, prefix: &str, count: usize) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let creates = (0..count).map(|k| {
        let path = format!("{prefix}-{k}");
        let options = &options;
        async move { zk.create(&path, b"v", options).await }
    });
    for (k, result) in join_all(creates).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("create {prefix}-{k}: {e}"));
    }
}

async fn config_text(zk: &zk::Client) -> (String, zk::Stat) {
    zk.sync("/zookeeper/config").await.expect("sync");
    let (data, stat) = zk.get_data("/zookeeper/config").await.expect("get config");
    (String::from_utf8(data).expect("utf-8"), stat)
}

/// Waits until server `id` shows `text` in `/zookeeper/config`.
async fn wait_for_config(ens: &Ensemble, id: usize, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(zk) = client::connect(&ens.address(id), Duration::from_secs(5)).await {
            if let Ok(Ok((data, _))) =
                tokio::time::timeout(Duration::from_secs(5), zk.get_data("/zookeeper/config")).await
            {
                if data == text.as_bytes() {
                    return;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server {id} never showed the configuration\n{}",
            ens.log(id)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_server_becomes_a_voter_and_the_change_survives_a_restart() {
    let mut ens = start();
    let admin = connect(&ens, 1).await;
    let (before, _) = config_text(&admin).await;
    assert!(!before.contains("server.4="), "{before}");

    // Without super: NOAUTH, and nothing changes.
    let line = joining_line(&ens, 4, "participant");
    let update = || zk::EnsembleUpdate::Incremental {
        joinings: vec![line.as_str()].into_iter(),
        leavings: Vec::new().into_iter(),
    };
    let refused = admin.update_ensemble(update(), None).await;
    assert!(matches!(refused, Err(zk::Error::NoAuth)), "{refused:?}");

    admin
        .auth("digest", format!("super:{PASSWORD}").as_bytes())
        .await
        .expect("auth as super");
    // Writes in flight on other sessions while the change is proposed and committed.
    let writer = connect(&ens, 2).await;
    let load = pipelined_creates(&writer, "/during-reconfig", 200);
    let change = admin.update_ensemble(update(), None);
    let (_, change) = tokio::join!(load, change);
    let (text, stat) = change.unwrap_or_else(|e| panic!("reconfig: {e}\n{}", ens.logs_tail(30)));
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains(&line), "{text}");
    assert!(
        text.ends_with(&format!("version={:x}", stat.mzxid)),
        "{text}"
    );
    for id in ens.ids() {
        wait_for_config(&ens, id, &text).await;
    }
    assert_eq!(ens.mode(4).as_deref(), Some("follower"), "{}", ens.log(4));

    // Four voters: with server 1 down, a write needs server 4's acknowledgement.
    ens.kill(1);
    ens.wait_for_leader(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    let survivor = connect(&ens, 4).await;
    pipelined_creates(&survivor, "/after-join", 50).await;

    // The dynamic file each server wrote brings the same membership back.
    for id in 2..=4 {
        ens.kill(id);
    }
    for id in ens.ids() {
        let cfg = std::fs::read_to_string(ens.config_path(id)).expect("zoo.cfg");
        assert!(cfg.contains("dynamicConfigFile="), "server {id}: {cfg}");
        assert!(!cfg.contains("server."), "server {id}: {cfg}");
    }
    ens.start_all().expect("restart");
    let mut ens = launch(ens);
    for id in ens.ids() {
        wait_for_config(&ens, id, &text).await;
    }
    let zk = connect(&ens, 3).await;
    let (after, _) = config_text(&zk).await;
    assert_eq!(after, text);
    let children = zk.list_children("/").await.expect("list");
    assert!(
        children.iter().any(|c| c.starts_with("after-join")),
        "{children:?}"
    );
    assert!(ens.leader().is_some());
}

/// A voter removed and added back, a server killed and restarted, then another voter removed:
/// each change is taken, and the restarted server is counted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_go_on_after_a_member_restarts() {
    let ens = EnsembleSpec::new(3, QUORUM)
        .set("reconfigEnabled", "true")
        .set("DigestAuthenticationProvider.superDigest", super_digest())
        .temp_prefix("quorum-reconfig-restart-")
        .write()
        .expect("write the ensemble");
    let mut ens = launch(ens);
    let admin = connect(&ens, 1).await;
    admin
        .auth("digest", format!("super:{PASSWORD}").as_bytes())
        .await
        .expect("auth as super");
    // A change that removes the leader may lose the connection that asked for it (the
    // servers drop their clients while they elect, as ZooKeeper's do): asking again is
    // harmless, a change already made is made again as a new version.
    let change = |joining: Vec<String>, leaving: Vec<String>| {
        let admin = &admin;
        async move {
            let mut last = None;
            for _ in 0..50 {
                let update = zk::EnsembleUpdate::Incremental {
                    joinings: joining.iter().map(String::as_str),
                    leavings: leaving.iter().map(String::as_str),
                };
                match admin.update_ensemble(update, None).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(last)
        }
    };
    let line3 = joining_line(&ens, 3, "participant");
    change(vec![], vec!["3".into()]).await.expect("remove 3");
    change(vec![line3], vec![]).await.expect("add 3 back");
    ens.kill(3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    ens.start(3).expect("restart 3");
    ens.wait_serving(3, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.log(3)));
    let last = change(vec![], vec!["2".into()]).await.err();
    assert!(last.is_none(), "remove 2: {last:?}\n{}", ens.logs_tail(40));
}
