//! Unit tests of one replica's decisions; the simulator (`sim::log`) tests them together.

use crate::batch::{Batch, BatchHeader, Producer};
use crate::bug::Injected;
use crate::epochs::EpochCache;
use crate::ids::TopicPartition;
use crate::message::{Acks, ErrorCode, ReplicaFetch, Request, Response};
use crate::replica::{Action, Input, Recovered, Replica, ReplicaConfig};
use crate::state::{Member, PartitionState};

fn config(me: u32) -> ReplicaConfig {
    ReplicaConfig {
        tp: TopicPartition::new("t", 0),
        me,
        broker_epoch: 100 + u64::from(me),
        replicas: vec![1, 2, 3],
        min_insync: 2,
        lag_max_ms: 1000,
        fetch_max_wait_ms: 500,
        request_timeout_ms: 1000,
        retry_backoff_ms: 50,
        fetch_max_bytes: 1 << 20,
        max_pending_produces: 10,
        max_parked_fetches: 10,
        max_producers: 10,
        request_id_base: 0,
        injected: Injected::NONE,
    }
}

fn member(broker: u32) -> Member {
    Member {
        broker,
        epoch: 100 + u64::from(broker),
    }
}

fn state(leader: u32, epoch: u32, isr: &[u32]) -> PartitionState {
    PartitionState {
        leader: Some(leader),
        leader_epoch: epoch,
        isr: isr.iter().map(|&b| member(b)).collect(),
        controller_epoch: 1,
    }
}

fn produce(acks: Acks, producer: Option<Producer>) -> Input {
    Input::Request {
        token: 7,
        request: Request::Produce {
            acks,
            producer,
            records: vec![b"a".to_vec(), b"b".to_vec()],
        },
    }
}

fn fetch_from(broker: u32, offset: u64, epoch: u32) -> Input {
    Input::Request {
        token: 9,
        request: Request::Fetch {
            offset,
            max_bytes: 1000,
            replica: Some(ReplicaFetch {
                broker,
                broker_epoch: 100 + u64::from(broker),
                leader_epoch: epoch,
            }),
        },
    }
}

fn replies(actions: &[Action]) -> Vec<Response> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Reply { token: 7, response } => Some(response.clone()),
            _ => None,
        })
        .collect()
}

fn leader_of(isr: &[u32]) -> Replica {
    let mut leader = Replica::new(config(1), Recovered::default(), 0);
    leader.step(Input::State {
        state: state(1, 1, isr),
        version: 1,
    });
    leader
}

#[test]
fn acks_all_waits_for_the_isr_and_acks_one_for_the_disk() {
    let mut leader = leader_of(&[1, 2]);
    let actions = leader.step(produce(Acks::All, None));
    assert!(matches!(actions[0], Action::Append { .. }));
    assert!(replies(&actions).is_empty());
    assert!(replies(&leader.step(Input::Appended { end: 2 })).is_empty());
    assert_eq!(leader.high_watermark(), 0);
    let actions = leader.step(fetch_from(2, 2, 1));
    assert_eq!(
        replies(&actions),
        vec![Response::Produced { base_offset: 0 }]
    );
    assert_eq!(leader.high_watermark(), 2);
    let actions = leader.step(produce(Acks::Leader, None));
    assert!(replies(&actions).is_empty());
    let actions = leader.step(Input::Appended { end: 4 });
    assert_eq!(
        replies(&actions),
        vec![Response::Produced { base_offset: 2 }]
    );
}

#[test]
fn a_small_isr_refuses_acks_all() {
    let mut leader = leader_of(&[1]);
    let actions = leader.step(produce(Acks::All, None));
    assert_eq!(
        replies(&actions),
        vec![Response::Error(ErrorCode::NotEnoughReplicas)]
    );
    assert_eq!(leader.step(produce(Acks::None, None)).len(), 1);
}

#[test]
fn a_retried_batch_is_not_written_twice() {
    let mut leader = leader_of(&[1, 2]);
    let producer = Some(Producer {
        id: 5,
        first_seq: 0,
    });
    leader.step(produce(Acks::Leader, producer));
    leader.step(Input::Appended { end: 2 });
    let actions = leader.step(produce(Acks::Leader, producer));
    assert!(!actions.iter().any(|a| matches!(a, Action::Append { .. })));
    assert_eq!(
        replies(&actions),
        vec![Response::Produced { base_offset: 0 }]
    );
    let gap = Some(Producer {
        id: 5,
        first_seq: 9,
    });
    let actions = leader.step(produce(Acks::Leader, gap));
    assert_eq!(
        replies(&actions),
        vec![Response::Error(ErrorCode::OutOfOrderSequence)]
    );
}

#[test]
fn a_follower_of_another_epoch_is_fenced() {
    let mut leader = leader_of(&[1, 2]);
    let actions = leader.step(fetch_from(2, 0, 0));
    assert!(actions.contains(&Action::Reply {
        token: 9,
        response: Response::Error(ErrorCode::FencedLeaderEpoch)
    }));
}

fn batch(base: u64, count: u32, epoch: u32) -> Batch {
    Batch {
        header: BatchHeader {
            base_offset: base,
            count,
            epoch,
            producer: None,
        },
        records: vec![b"x".to_vec(); count as usize],
    }
}

#[test]
fn a_follower_truncates_to_where_its_epoch_ends_on_the_leader() {
    // (KIP-279: when the leader names an epoch the follower lacks, it asks again; see
    // `a_follower_lacking_the_leaders_epoch_asks_again`.)
    // The follower has offsets 0..6: 0..4 in epoch 1, 4..6 in epoch 2 (written by a leader of
    // epoch 2 that was deposed before they were committed).
    let epochs = EpochCache::from_entries(vec![(1, 0), (2, 4)]).unwrap();
    let recovered = Recovered {
        log_end: 6,
        epochs,
        tail: Vec::new(),
    };
    let mut follower = Replica::new(config(2), recovered, 0);
    let actions = follower.step(Input::State {
        state: state(1, 3, &[1, 2]),
        version: 5,
    });
    let Some(Action::Send { to: 1, id, request }) = actions.first().cloned() else {
        panic!("expected an epoch query, got {actions:?}");
    };
    assert_eq!(
        request,
        Request::OffsetForEpoch {
            epoch: 2,
            leader_epoch: 3
        }
    );
    // The leader never had epoch 2: its epoch 1 ends at 5, ours at 4.
    let response = Response::EpochEnd { end: Some((1, 5)) };
    let actions = follower.step(Input::Answer { id, response });
    assert_eq!(actions[0], Action::Truncate { to: 4 });
    assert!(matches!(
        actions[1],
        Action::Send {
            request: Request::Fetch { offset: 4, .. },
            ..
        }
    ));
    let Action::Send { id, .. } = actions[1].clone() else {
        unreachable!()
    };
    let response = Response::Fetched {
        high_watermark: 5,
        log_end: 5,
        batches: vec![batch(4, 1, 1)],
    };
    let actions = follower.step(Input::Answer { id, response });
    assert!(matches!(actions[0], Action::Append { .. }));
    follower.step(Input::Appended { end: 5 });
    assert_eq!(follower.high_watermark(), 5);
}

#[test]
fn a_deposed_leader_stops_when_its_isr_request_is_refused() {
    let mut leader = leader_of(&[1, 2, 3]);
    leader.step(produce(Acks::All, None));
    leader.step(Input::Appended { end: 2 });
    let actions = leader.step(Input::Tick { now_ms: 5000 });
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::RequestIsr { request } if request.isr == vec![member(1)])));
    let actions = leader.step(Input::IsrRefused {
        leader_epoch: 1,
        deposed: true,
        state_version: 2,
    });
    assert_eq!(
        replies(&actions),
        vec![Response::Error(ErrorCode::NotLeader)]
    );
    assert_eq!(leader.leading(), None);
    let actions = leader.step(produce(Acks::Leader, None));
    assert_eq!(
        replies(&actions),
        vec![Response::Error(ErrorCode::NotLeader)]
    );
}

#[test]
fn a_follower_lacking_the_leaders_epoch_asks_again() {
    let epochs = EpochCache::from_entries(vec![(1, 0), (3, 4)]).unwrap();
    let recovered = Recovered {
        log_end: 6,
        epochs,
        tail: Vec::new(),
    };
    let mut follower = Replica::new(config(2), recovered, 0);
    let actions = follower.step(Input::State {
        state: state(1, 4, &[1, 2]),
        version: 5,
    });
    let Some(Action::Send { id, .. }) = actions.first().cloned() else {
        panic!("expected an epoch query");
    };
    let response = Response::EpochEnd { end: Some((2, 7)) };
    let actions = follower.step(Input::Answer { id, response });
    let Some(Action::Send { id, request, .. }) = actions.first().cloned() else {
        panic!("expected a second query, got {actions:?}");
    };
    assert!(matches!(request, Request::OffsetForEpoch { epoch: 1, .. }));
    let response = Response::EpochEnd { end: Some((1, 3)) };
    let actions = follower.step(Input::Answer { id, response });
    assert_eq!(actions[0], Action::Truncate { to: 3 });
}

#[test]
fn a_follower_that_stopped_fetching_is_not_proposed_for_the_isr() {
    let mut leader = leader_of(&[1]);
    // Broker 2 fetches once and is proposed; the controller refuses (it is not live), and the
    // state is unchanged.
    let actions = leader.step(fetch_from(2, 0, 1));
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::RequestIsr { .. })));
    leader.step(Input::IsrRefused {
        leader_epoch: 1,
        deposed: false,
        state_version: 1,
    });
    // Long after, broker 2 has not fetched again and is not proposed again; broker 3, fetching
    // now, is.
    let actions = leader.step(Input::Tick { now_ms: 5_000 });
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::RequestIsr { .. })));
    let actions = leader.step(fetch_from(3, 0, 1));
    let proposed: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RequestIsr { request } => Some(request.isr.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(proposed, vec![vec![member(1), member(3)]]);
}
