//! The consumer: skipping inside the first batch, stopping at the high watermark, following.

use partition::{Batch, BatchHeader, ErrorCode, Request, Response, TopicPartition};

use super::fake::{cluster, FakeBroker, Incoming};
use crate::consumer::{Consumer, ConsumerConfig, StartAt};

/// A batch of `count` records "r<offset>" from `base`.
fn batch(base: u64, count: u32) -> Batch {
    Batch {
        header: BatchHeader {
            base_offset: base,
            count,
            epoch: 1,
            producer: None,
        },
        records: (base..base + u64::from(count))
            .map(|o| format!("r{o}").into_bytes())
            .collect(),
    }
}

/// A log of batches [0,5) [5,10) [10,15) with the given high watermark; a fetch gets the
/// batches that end after its offset.
fn serve_log(incoming: &Incoming, high_watermark: u64) -> Option<Response> {
    let broker::wire::BrokerRequest::Partition {
        request: Request::Fetch { offset, .. },
        ..
    } = &incoming.request
    else {
        return None;
    };
    let batches = [batch(0, 5), batch(5, 5), batch(10, 5)]
        .into_iter()
        .filter(|b| b.end_offset() > *offset && b.header.base_offset < high_watermark)
        .collect();
    Some(Response::Fetched {
        high_watermark,
        log_end: 15,
        batches,
    })
}

async fn read_all(consumer: &mut Consumer<super::fake::FakeMeta>) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while let Some((offset, record)) = consumer.next().await.unwrap() {
        got.push((offset, String::from_utf8(record).unwrap()));
    }
    got
}

fn expected(range: std::ops::Range<u64>) -> Vec<(u64, String)> {
    range.map(|o| (o, format!("r{o}"))).collect()
}

#[tokio::test]
async fn skips_inside_the_first_batch_and_stops_at_the_high_watermark() {
    let broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    broker.auto(|incoming| serve_log(incoming, 8));
    let tp = TopicPartition::new("t", 0);
    let mut consumer = Consumer::new(cluster, tp, StartAt::Offset(3), ConsumerConfig::default());
    assert_eq!(read_all(&mut consumer).await, expected(3..8));
}

#[tokio::test]
async fn count_stops_early_and_latest_starts_at_the_high_watermark() {
    let broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    broker.auto(|incoming| serve_log(incoming, 12));
    let tp = TopicPartition::new("t", 0);
    let config = ConsumerConfig {
        count: Some(6),
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(cluster.clone(), tp.clone(), StartAt::Earliest, config);
    assert_eq!(read_all(&mut consumer).await, expected(0..6));
    let mut latest = Consumer::new(cluster, tp, StartAt::Latest, ConsumerConfig::default());
    assert_eq!(read_all(&mut latest).await, Vec::new());
}

#[tokio::test]
async fn follows_a_leader_change_and_new_commits() {
    let mut old = FakeBroker::start().await;
    let new = FakeBroker::start().await;
    let cluster = cluster(1, &old.addr);
    let tp = TopicPartition::new("t", 0);
    let config = ConsumerConfig {
        follow: true,
        count: Some(12),
        poll_interval: std::time::Duration::from_millis(10),
        ..ConsumerConfig::default()
    };
    let mut consumer = Consumer::new(cluster.clone(), tp.clone(), StartAt::Offset(2), config);
    let reader = tokio::spawn(async move { read_all(&mut consumer).await });
    // The old leader serves up to 6, then is deposed.
    let first = old.next().await;
    first.respond(serve_log(&first, 6).unwrap());
    cluster.meta().set_leader(&tp, 2, 2, &new.addr);
    let second = old.next().await;
    second.respond(Response::Error(ErrorCode::NotLeader));
    // The new leader's high watermark grows from 10 to 15.
    let mut polls = 0;
    new.auto(move |incoming| {
        polls += 1;
        serve_log(incoming, if polls < 3 { 10 } else { 15 })
    });
    assert_eq!(reader.await.unwrap(), expected(2..14));
}

#[tokio::test]
async fn an_offset_past_the_log_end_fails_a_bounded_read_at_once() {
    let broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    broker.auto(|_| Some(Response::Error(ErrorCode::OffsetOutOfRange)));
    let tp = TopicPartition::new("t", 0);
    let mut consumer = Consumer::new(cluster, tp, StartAt::Offset(99), ConsumerConfig::default());
    let started = std::time::Instant::now();
    assert_eq!(
        consumer.next().await,
        Err(crate::LogError::Broker(ErrorCode::OffsetOutOfRange))
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
