//! Planning a topic's assignment over the live brokers.

use crate::admin::plan;
use crate::LogError;

#[test]
fn replicas_go_round_robin_over_the_live_brokers() {
    let assignment = plan(&[1, 2, 5], 4, 2, Some(2)).unwrap();
    assert_eq!(
        assignment.replicas,
        vec![vec![1, 2], vec![2, 5], vec![5, 1], vec![1, 2]]
    );
    assert_eq!(assignment.min_insync, Some(2));
}

#[test]
fn too_few_live_brokers_or_a_bad_min_insync_is_refused() {
    assert!(matches!(
        plan(&[1, 2], 1, 3, None),
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        plan(&[1, 2, 3], 1, 3, Some(4)),
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        plan(&[1, 2, 3], 1, 3, Some(0)),
        Err(LogError::Invalid(_))
    ));
    assert!(matches!(
        plan(&[1, 2, 3], 0, 3, None),
        Err(LogError::Invalid(_))
    ));
}
