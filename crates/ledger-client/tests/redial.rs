//! A driver that asks a dead bookie again on every failure, as recovery does, dials it a few
//! times a second rather than as fast as its loop turns, and hears of each failed connection
//! once, however many requests it carried.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger::{BookieId, Request};
use ledger_client::bookies::{BookiePool, EventKind, Failure};
use tokio::net::TcpListener;
use tokio::time::Instant;

fn read_lac(tag: u64) -> Request {
    Request::ReadLac {
        tag,
        ledger: 7,
        fence: false,
    }
}

/// Sends `in_flight` requests to `bookie`, and all of them again on every failure (as recovery
/// re-sends what was outstanding), for `window`; returns the failures reported and how many
/// of them began an outage.
async fn retry_for(
    addresses: BTreeMap<BookieId, String>,
    bookie: BookieId,
    in_flight: u64,
    window: Duration,
) -> (u32, u32) {
    let (mut pool, mut events) = BookiePool::new(addresses);
    let send_all =
        |pool: &mut BookiePool| (0..in_flight).for_each(|t| pool.send(bookie, read_lac(t)));
    send_all(&mut pool);
    let (mut failures, mut outages) = (0, 0);
    let end = Instant::now() + window;
    while let Ok(Some(event)) = tokio::time::timeout_at(end, events.recv()).await {
        match event.kind {
            EventKind::Failed(_) => match pool.connection_failed(bookie, event.connection) {
                Failure::Stale => {}
                failure => {
                    failures += 1;
                    outages += u32::from(failure == Failure::Outage);
                    send_all(&mut pool);
                }
            },
            EventKind::Response(r) => panic!("a dead bookie answered {r:?}"),
        }
    }
    (failures, outages)
}

/// A bookie that accepts, says nothing, and hangs up `after` each connection began; its address
/// and the task to abort.
async fn hanging_up_bookie(after: Duration) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                drop(socket);
            });
        }
    });
    (address, task)
}

/// Waits of 0, 50, 100, 200, then 250 ms: seven or eight failures in 1.5 s, where a retry
/// without a wait fails thousands of times and a constant wait of 500 ms three or four times.
const EXPECTED_FAILURES: std::ops::RangeInclusive<u32> = 5..=12;

#[tokio::test]
async fn an_unregistered_bookie_is_asked_again_with_backoff() {
    let (failures, outages) = retry_for(BTreeMap::new(), 3, 1, Duration::from_millis(1500)).await;
    assert!(EXPECTED_FAILURES.contains(&failures), "{failures} failures");
    assert_eq!(outages, 1, "one outage, however many retries");
}

#[tokio::test]
async fn a_bookie_that_hangs_up_is_dialed_again_with_backoff() {
    let (address, hang_up) = hanging_up_bookie(Duration::ZERO).await;
    let addresses = BTreeMap::from([(3, address)]);
    let (failures, outages) = retry_for(addresses, 3, 1, Duration::from_millis(1500)).await;
    hang_up.abort();
    assert!(EXPECTED_FAILURES.contains(&failures), "{failures} failures");
    assert_eq!(outages, 1);
}

/// Eight requests in flight to an unregistered bookie, all sent again on each failure: one
/// failure a connection, not one a request (which multiplied eightfold each round).
#[tokio::test]
async fn many_requests_to_an_unregistered_bookie_fail_once_a_connection() {
    let (failures, _) = retry_for(BTreeMap::new(), 3, 8, Duration::from_millis(1500)).await;
    assert!(EXPECTED_FAILURES.contains(&failures), "{failures} failures");
}

/// A connection the driver gave up on (a timeout) while it was dialing fails later: that report
/// is stale, and the failure of the connection that replaced it begins the outage.
#[tokio::test]
async fn a_failure_of_a_connection_given_up_on_is_stale() {
    // Each connection fails in its hello.
    let (address, bookie) = hanging_up_bookie(Duration::from_millis(200)).await;
    let (mut pool, mut events) = BookiePool::new(BTreeMap::from([(3, address)]));
    pool.send(3, read_lac(1));
    tokio::time::sleep(Duration::from_millis(50)).await;
    pool.disconnect(3);
    pool.send(3, read_lac(1));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("both connections fail")
            .unwrap();
        assert!(matches!(event.kind, EventKind::Failed(_)));
        seen.push((
            event.connection,
            pool.connection_failed(3, event.connection),
        ));
    }
    bookie.abort();
    assert_eq!(seen, [(0, Failure::Stale), (1, Failure::Outage)]);
}
