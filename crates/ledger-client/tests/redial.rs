//! A driver that asks a dead bookie again on every failure, as recovery does, dials it a few
//! times a second rather than as fast as its loop turns.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger::{BookieId, Request};
use ledger_client::bookies::{BookiePool, EventKind};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Sends to `bookie`, and again on every failure, for `window`; returns the failures seen and
/// how many of them began an outage.
async fn retry_for(
    addresses: BTreeMap<BookieId, String>,
    bookie: BookieId,
    window: Duration,
) -> (u32, u32) {
    let (mut pool, mut events) = BookiePool::new(addresses);
    let request = || Request::ReadLac {
        tag: 1,
        ledger: 7,
        fence: false,
    };
    pool.send(bookie, request());
    let (mut failures, mut outages) = (0, 0);
    let end = Instant::now() + window;
    while let Ok(Some(event)) = tokio::time::timeout_at(end, events.recv()).await {
        match event.kind {
            EventKind::Failed(_) => {
                failures += 1;
                outages += u32::from(pool.connection_failed(bookie));
                pool.send(bookie, request());
            }
            EventKind::Response(r) => panic!("a dead bookie answered {r:?}"),
        }
    }
    (failures, outages)
}

#[tokio::test]
async fn an_unregistered_bookie_is_asked_again_with_backoff() {
    let (failures, outages) = retry_for(BTreeMap::new(), 3, Duration::from_millis(1500)).await;
    // Waits of 0, 50, 100, 200, 400 and 500 ms: six or seven failures in 1.5 s, where a retry
    // without a wait fails thousands of times.
    assert!((3..=10).contains(&failures), "{failures} failures");
    assert_eq!(outages, 1, "one outage, however many retries");
}

#[tokio::test]
async fn a_bookie_that_hangs_up_is_dialed_again_with_backoff() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let hang_up = tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            drop(socket);
        }
    });
    let addresses = BTreeMap::from([(3, address)]);
    let (failures, outages) = retry_for(addresses, 3, Duration::from_millis(1500)).await;
    hang_up.abort();
    assert!((3..=10).contains(&failures), "{failures} failures");
    assert_eq!(outages, 1);
}
