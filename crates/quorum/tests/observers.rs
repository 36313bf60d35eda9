//! Observers on real processes: 3 voters and 2 observers (`server.N=…:observer`). Observers
//! serve reads and forward writes, never lead, survive a failover, and never count toward a
//! quorum: with two of three voters gone, three live servers of five commit nothing.

use std::time::Duration;

use client::zk;
use futures::future::join_all;
use launch::{Ensemble, EnsembleSpec};

const QUORUM: &str = env!("CARGO_BIN_EXE_quorum");
const VOTERS: [usize; 3] = [1, 2, 3];
const OBSERVERS: [usize; 2] = [4, 5];

fn start(server_args: &[&str]) -> Ensemble {
    let mut spec = EnsembleSpec::new(5, QUORUM)
        .observers(2)
        .temp_prefix("quorum-observers-");
    for arg in server_args {
        spec = spec.server_arg(arg);
    }
    let mut ens = spec.write().expect("write the ensemble");
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

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Many writes in flight at once on one session of an observer, as real clients pipeline.
async fn pipelined_creates(zk: &zk::Client, prefix: &str, count: usize) {
    let creates = (0..count).map(|k| {
        let path = format!("{prefix}-{k}");
        async move { zk.create(&path, b"v", &persistent()).await }
    });
    for (k, result) in join_all(creates).await.into_iter().enumerate() {
        result.unwrap_or_else(|e| panic!("create {prefix}-{k} through an observer: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_serve_and_forward_but_never_vote() {
    let mut ens = start(&[]);
    for id in OBSERVERS {
        assert_eq!(ens.mode(id).as_deref(), Some("observer"), "server {id}");
    }
    let leader = ens.leader().expect("a leader");
    assert!(VOTERS.contains(&leader), "observer {leader} leads");
    let mntr = launch::probe::four_letter(ens.client_port(leader), "mntr", Duration::from_secs(2))
        .expect("mntr on the leader");
    for line in ["zk_synced_followers\t2", "zk_synced_observers\t2"] {
        assert!(mntr.contains(line), "{line} not in:\n{mntr}");
    }

    // Writes through an observer reach every server; reads on it see them after a sync.
    let observer = connect(&ens, 4).await;
    pipelined_creates(&observer, "/o", 200).await;
    let voter = connect(&ens, VOTERS[0]).await;
    assert_eq!(voter.get_children("/").await.unwrap().1.num_children, 201);
    voter.set_data("/o-7", b"from a voter", None).await.unwrap();
    observer.sync("/o-7").await.unwrap();
    assert_eq!(observer.get_data("/o-7").await.unwrap().0, b"from a voter");

    // The leader dies: a voter takes over, the observers follow it and serve again.
    ens.kill(leader);
    let next = ens
        .wait_for_leader(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    assert!(VOTERS.contains(&next) && next != leader, "leader {next}");
    for id in OBSERVERS {
        ens.wait_serving(id, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("observer {id}: {e}\n{}", ens.log(id)));
    }
    let observer = connect(&ens, 5).await;
    pipelined_creates(&observer, "/after", 50).await;

    assert!(
        !commits_without_a_voter_quorum(&mut ens, leader, next, &observer).await,
        "a write committed with one voter of three and two observers"
    );
}

/// The teeth of the test above: a leader that counts observers (`--unsafe-bug
/// observer-counts`, only in builds with the `bugs` feature) commits with one voter of three.
#[cfg(feature = "bugs")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_counts_observers_is_caught() {
    let mut ens = start(&["--unsafe-bug", "observer-counts"]);
    ens.kill(VOTERS[0]);
    let leader = ens
        .wait_for_leader(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", ens.logs_tail(30)));
    let observer = connect(&ens, 4).await;
    pipelined_creates(&observer, "/o", 20).await;
    assert!(commits_without_a_voter_quorum(&mut ens, VOTERS[0], leader, &observer).await);
}

/// With voter `dead` gone and the leader `leader` alive, pauses the third voter and writes
/// through an observer: the leader then holds one voter of three (itself) and two observers.
/// Whether that write commits within 5 s.
async fn commits_without_a_voter_quorum(
    ens: &mut Ensemble,
    dead: usize,
    leader: usize,
    observer: &zk::Client,
) -> bool {
    let third = VOTERS
        .into_iter()
        .find(|&v| v != dead && v != leader)
        .expect("a third voter");
    ens.pause(third);
    let write = observer.create("/without-quorum", b"", &persistent());
    let committed = matches!(
        tokio::time::timeout(Duration::from_secs(5), write).await,
        Ok(Ok(_))
    );
    ens.resume(third);
    committed
}
