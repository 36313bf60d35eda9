//! The producer: idempotent retries, leader changes, fatal errors, batching, acks=0.

use std::sync::atomic::Ordering;
use std::time::Duration;

use partition::{Acks, ErrorCode, Response, TopicPartition};

use super::fake::{cluster, FakeBroker};
use crate::producer::{Producer, ProducerConfig};
use crate::LogError;

fn config(acks: Acks) -> ProducerConfig {
    ProducerConfig {
        acks,
        delivery_timeout: Duration::from_secs(10),
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..ProducerConfig::default()
    }
}

#[tokio::test]
async fn a_retried_batch_keeps_its_producer_id_and_sequence() {
    let mut broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    let producer = Producer::new(cluster, "t", config(Acks::All))
        .await
        .unwrap();
    let delivery = producer.send(Some(0), b"a".to_vec()).await.unwrap();
    // First attempt: never answered (times out). Second: written but not committed. Third: ok.
    let first = broker.next().await;
    let second = broker.next().await;
    second.respond(Response::Error(ErrorCode::NotEnoughReplicasAfterAppend));
    let third = broker.next().await;
    third.respond(Response::Produced { base_offset: 7 });
    assert_eq!(delivery.wait().await, Ok(Some(7)));
    let tag = first.produce().0.expect("acks=all is idempotent");
    assert_eq!(tag.first_seq, 0);
    assert_eq!(second.produce().0, Some(tag));
    assert_eq!(third.produce().0, Some(tag));
    // The next batch continues the sequence under the same id.
    let delivery = producer.send(Some(0), b"b".to_vec()).await.unwrap();
    let next = broker.next().await;
    let next_tag = next.produce().0.unwrap();
    assert_eq!((next_tag.id, next_tag.first_seq), (tag.id, 1));
    next.respond(Response::Produced { base_offset: 8 });
    assert_eq!(delivery.wait().await, Ok(Some(8)));
    producer.close().await;
}

#[tokio::test]
async fn not_leader_makes_the_producer_look_the_leader_up_again() {
    let mut old = FakeBroker::start().await;
    let mut new = FakeBroker::start().await;
    let cluster = cluster(1, &old.addr);
    let producer = Producer::new(cluster.clone(), "t", config(Acks::Leader))
        .await
        .unwrap();
    let delivery = producer.send(None, b"x".to_vec()).await.unwrap();
    let refused = old.next().await;
    let lookups_before = cluster.meta().lookups.load(Ordering::SeqCst);
    // The leadership moved before the old leader answers.
    cluster
        .meta()
        .set_leader(&TopicPartition::new("t", 0), 2, 2, &new.addr);
    refused.respond(Response::Error(ErrorCode::NotLeader));
    let retried = new.next().await;
    assert_eq!(retried.produce().0, refused.produce().0);
    retried.respond(Response::Produced { base_offset: 0 });
    assert_eq!(delivery.wait().await, Ok(Some(0)));
    assert!(cluster.meta().lookups.load(Ordering::SeqCst) > lookups_before);
    producer.close().await;
}

#[tokio::test]
async fn out_of_order_sequence_fails_the_batch_and_the_next_starts_afresh() {
    let mut broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    let producer = Producer::new(cluster, "t", config(Acks::All))
        .await
        .unwrap();
    let delivery = producer.send(Some(0), b"a".to_vec()).await.unwrap();
    let refused = broker.next().await;
    refused.respond(Response::Error(ErrorCode::OutOfOrderSequence));
    assert_eq!(
        delivery.wait().await,
        Err(LogError::Broker(ErrorCode::OutOfOrderSequence))
    );
    let delivery = producer.send(Some(0), b"b".to_vec()).await.unwrap();
    let next = broker.next().await;
    let (old, new) = (refused.produce().0.unwrap(), next.produce().0.unwrap());
    assert_ne!(old.id, new.id, "a failed sequence is not reused");
    assert_eq!(new.first_seq, 0);
    next.respond(Response::Produced { base_offset: 0 });
    assert_eq!(delivery.wait().await, Ok(Some(0)));
    producer.close().await;
}

#[tokio::test]
async fn records_that_arrive_during_a_batch_make_up_the_next_one() {
    let mut broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    let producer = Producer::new(cluster, "t", config(Acks::All))
        .await
        .unwrap();
    let mut deliveries = vec![producer.send(Some(0), b"0".to_vec()).await.unwrap()];
    let first = broker.next().await;
    for i in 1..6 {
        deliveries.push(producer.send(Some(0), vec![b'0' + i]).await.unwrap());
    }
    // One batch in flight per partition: nothing more is sent until the first is answered.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(broker.requests.try_recv().is_err());
    first.respond(Response::Produced { base_offset: 10 });
    let second = broker.next().await;
    let (tag, count) = second.produce();
    assert_eq!((tag.unwrap().first_seq, count), (1, 5));
    second.respond(Response::Produced { base_offset: 11 });
    for (i, delivery) in deliveries.into_iter().enumerate() {
        assert_eq!(delivery.wait().await, Ok(Some(10 + i as u64)));
    }
    producer.close().await;
}

#[tokio::test]
async fn acks_zero_sends_without_a_producer_id_and_expects_no_answer() {
    let mut broker = FakeBroker::start().await;
    let cluster = cluster(2, &broker.addr);
    let producer = Producer::new(cluster, "t", config(Acks::None))
        .await
        .unwrap();
    let a = producer.send(None, b"a".to_vec()).await.unwrap();
    let b = producer.send(None, b"b".to_vec()).await.unwrap();
    assert_eq!(a.wait().await, Ok(None));
    assert_eq!(b.wait().await, Ok(None));
    let mut partitions = Vec::new();
    for _ in 0..2 {
        let incoming = broker.next().await;
        assert_eq!(incoming.produce(), (None, 1));
        if let broker::wire::BrokerRequest::Partition { tp, .. } = &incoming.request {
            partitions.push(tp.partition);
        }
    }
    partitions.sort();
    assert_eq!(partitions, vec![0, 1], "round-robin over the partitions");
    producer.close().await;
}

#[tokio::test]
async fn a_batch_is_given_up_after_the_delivery_timeout() {
    let broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    broker.auto(|_| Some(Response::Error(ErrorCode::NotEnoughReplicas)));
    let config = ProducerConfig {
        delivery_timeout: Duration::from_millis(300),
        ..config(Acks::All)
    };
    let producer = Producer::new(cluster, "t", config).await.unwrap();
    let delivery = producer.send(Some(0), b"a".to_vec()).await.unwrap();
    assert_eq!(
        delivery.wait().await,
        Err(LogError::Broker(ErrorCode::NotEnoughReplicas))
    );
    assert!(producer.send(Some(5), b"a".to_vec()).await.is_err());
    producer.close().await;
}

#[tokio::test]
async fn a_full_queue_makes_send_wait() {
    let mut broker = FakeBroker::start().await;
    let cluster = cluster(1, &broker.addr);
    let config = ProducerConfig {
        max_queued_records: 2,
        ..config(Acks::All)
    };
    let producer = std::sync::Arc::new(Producer::new(cluster, "t", config).await.unwrap());
    let first = producer.send(Some(0), b"0".to_vec()).await.unwrap();
    let in_flight = broker.next().await;
    // The queue takes two more while the first batch waits; the third send must wait.
    let mut queued = Vec::new();
    for i in 1..3 {
        queued.push(producer.send(Some(0), vec![b'0' + i]).await.unwrap());
    }
    let blocked = {
        let producer = producer.clone();
        tokio::spawn(async move { producer.send(Some(0), b"3".to_vec()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!blocked.is_finished(), "send did not wait for room");
    in_flight.respond(Response::Produced { base_offset: 0 });
    assert_eq!(first.wait().await, Ok(Some(0)));
    let last = blocked.await.unwrap().unwrap();
    broker.auto(|incoming| {
        let (tag, _) = incoming.produce();
        Some(Response::Produced {
            base_offset: tag.unwrap().first_seq,
        })
    });
    for (i, delivery) in queued.into_iter().enumerate() {
        assert_eq!(delivery.wait().await, Ok(Some(1 + i as u64)));
    }
    assert_eq!(last.wait().await, Ok(Some(3)));
}
