//! Unit tests of the controller's decisions.

use std::collections::BTreeMap;

use crate::bug::Injected;
use crate::controller::{
    Controller, ControllerAction, ControllerConfig, ControllerInput, WriteResult,
};
use crate::ids::TopicPartition;
use crate::state::{IsrRequest, Member, PartitionState};

fn tp() -> TopicPartition {
    TopicPartition::new("t", 0)
}

fn controller(unclean: bool) -> Controller {
    Controller::new(ControllerConfig {
        controller_epoch: 4,
        unclean_election: unclean,
        injected: Injected::NONE,
    })
}

fn live(brokers: &[(u32, u64)]) -> ControllerInput {
    ControllerInput::Brokers(brokers.iter().copied().collect::<BTreeMap<_, _>>())
}

fn partition(state: PartitionState, version: u64) -> ControllerInput {
    ControllerInput::Partition {
        tp: tp(),
        replicas: vec![1, 2, 3],
        state,
        version,
    }
}

fn written(actions: &[ControllerAction]) -> Option<PartitionState> {
    actions.iter().find_map(|a| match a {
        ControllerAction::Write { state, .. } => Some(state.clone()),
        _ => None,
    })
}

#[test]
fn a_new_partition_gets_its_first_live_replica_as_leader() {
    let mut c = controller(false);
    c.step(live(&[(2, 20), (3, 30)]));
    let actions = c.step(partition(PartitionState::initial(&[1, 2, 3]), 0));
    let state = written(&actions).expect("an election");
    assert_eq!(state.leader, Some(2));
    assert_eq!(state.leader_epoch, 1);
    assert_eq!(state.controller_epoch, 4);
    assert_eq!(
        state.isr,
        vec![
            Member {
                broker: 2,
                epoch: 20
            },
            Member {
                broker: 3,
                epoch: 30
            }
        ]
    );
}

#[test]
fn a_lost_leader_is_replaced_from_the_isr_and_a_restart_counts_as_a_loss() {
    let mut c = controller(false);
    c.step(live(&[(1, 10), (2, 20), (3, 30)]));
    let state = PartitionState {
        leader: Some(1),
        leader_epoch: 3,
        isr: vec![
            Member {
                broker: 1,
                epoch: 10,
            },
            Member {
                broker: 3,
                epoch: 30,
            },
        ],
        controller_epoch: 4,
    };
    assert!(written(&c.step(partition(state, 7))).is_none());
    // Broker 1 restarted: its new registration has another epoch.
    let actions = c.step(live(&[(1, 11), (2, 20), (3, 30)]));
    let next = written(&actions).expect("a re-election");
    assert_eq!(next.leader, Some(3));
    assert_eq!(next.leader_epoch, 4);
    assert_eq!(
        next.isr,
        vec![Member {
            broker: 3,
            epoch: 30
        }]
    );
    // Fenced: another controller took over.
    let actions = c.step(ControllerInput::Written {
        tp: tp(),
        result: WriteResult::Fenced,
    });
    assert_eq!(actions, vec![ControllerAction::Resign]);
    assert!(c.step(live(&[])).is_empty());
}

#[test]
fn no_live_isr_member_means_offline_unless_unclean_is_allowed() {
    let state = PartitionState {
        leader: Some(1),
        leader_epoch: 3,
        isr: vec![Member {
            broker: 1,
            epoch: 10,
        }],
        controller_epoch: 4,
    };
    let mut clean = controller(false);
    clean.step(live(&[(2, 20)]));
    let next = written(&clean.step(partition(state.clone(), 7))).unwrap();
    assert_eq!((next.leader, next.leader_epoch), (None, 4));
    assert_eq!(
        next.isr, state.isr,
        "the last member stays, to be elected when back"
    );
    let mut unclean = controller(true);
    unclean.step(live(&[(2, 20)]));
    let actions = unclean.step(partition(state, 7));
    assert!(actions.contains(&ControllerAction::UncleanElection {
        tp: tp(),
        leader: 2
    }));
    assert_eq!(written(&actions).unwrap().leader, Some(2));
}

#[test]
fn isr_requests_from_a_deposed_leader_are_refused() {
    let mut c = controller(false);
    c.step(live(&[(1, 10), (2, 20)]));
    let state = PartitionState {
        leader: Some(2),
        leader_epoch: 5,
        isr: vec![
            Member {
                broker: 2,
                epoch: 20,
            },
            Member {
                broker: 1,
                epoch: 10,
            },
        ],
        controller_epoch: 4,
    };
    c.step(partition(state, 9));
    let stale = IsrRequest {
        leader: 1,
        leader_epoch: 4,
        state_version: 8,
        isr: vec![Member {
            broker: 1,
            epoch: 10,
        }],
    };
    let actions = c.step(ControllerInput::IsrRequest {
        tp: tp(),
        request: stale,
    });
    assert_eq!(
        actions,
        vec![ControllerAction::IsrRefused {
            tp: tp(),
            leader: 1,
            leader_epoch: 4,
            deposed: true,
            state_version: 9,
        }]
    );
    let shrink = IsrRequest {
        leader: 2,
        leader_epoch: 5,
        state_version: 9,
        isr: vec![Member {
            broker: 2,
            epoch: 20,
        }],
    };
    let actions = c.step(ControllerInput::IsrRequest {
        tp: tp(),
        request: shrink,
    });
    assert_eq!(written(&actions).unwrap().isr.len(), 1);
}
