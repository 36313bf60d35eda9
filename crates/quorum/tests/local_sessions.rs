//! Local sessions on real processes, pipelined as real clients pipeline: a session opened on a
//! follower with `localSessionsEnabled` keeps 300 writes of mixed kinds in flight, an
//! ephemeral create among them. The writes before the ephemeral create go to the leader as a
//! local session's, the create upgrades the session on the way (a createSession ahead of it on
//! the same link), and the writes after it as a global session's: every one is answered, in
//! order, and the ephemeral node is owned by the session and goes when it closes.

use std::time::Duration;

use client::zk;
use futures::future::join_all;
use launch::EnsembleSpec;

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writes_of_a_local_session_upgrade_it_in_order() {
    let mut ens = EnsembleSpec::new(3, QUORUM)
        .set("localSessionsEnabled", "true")
        .set("localSessionsUpgradingEnabled", "true")
        .temp_prefix("quorum-local-sessions-")
        .write()
        .expect("write the ensemble");
    let leader = ens
        .launch(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    let follower = ens.ids().find(|&id| id != leader).expect("a follower");
    let zk = client::connect(&ens.address(follower), Duration::from_secs(10))
        .await
        .expect("connect to a follower");
    let session = zk.session_id().0;
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    zk.create("/ls", b"", &persistent)
        .await
        .expect("create /ls");

    let writes = (0..300).map(|k| {
        let (zk, persistent, ephemeral) = (&zk, &persistent, &ephemeral);
        async move {
            let path = format!("/ls/n{k:03}");
            match k {
                150 => zk.create("/ls/mine", b"e", ephemeral).await.map(|_| k),
                k if k % 3 == 2 => zk.set_data("/ls", b"v", None).await.map(|_| k),
                _ => zk.create(&path, b"p", persistent).await.map(|_| k),
            }
        }
    });
    for result in join_all(writes).await {
        result.unwrap_or_else(|e| panic!("a pipelined write failed: {e}\n{}", ens.logs_tail(20)));
    }

    let other = client::connect(&ens.address(leader), Duration::from_secs(10))
        .await
        .expect("connect to the leader");
    other.sync("/ls").await.expect("sync");
    let stat = other
        .check_stat("/ls/mine")
        .await
        .expect("stat")
        .expect("exists");
    assert_eq!(
        stat.ephemeral_owner, session,
        "owned by the upgraded session"
    );
    let (_, stat) = other.get_data("/ls").await.expect("get /ls");
    assert_eq!(stat.version, 100, "every setData applied once");
    assert_eq!(
        stat.num_children, 200,
        "199 persistent nodes and the ephemeral one"
    );

    drop(zk);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        other.sync("/ls").await.expect("sync");
        if other.check_stat("/ls/mine").await.expect("stat").is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ephemeral node outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
