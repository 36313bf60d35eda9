//! The checker on small hand-made histories: clean ones pass, each kind of fault is caught.

use super::super::history::{History, Outcome, Read, Sent};
use super::*;

fn sent(partition: u32, record: &str, outcome: Outcome) -> Sent {
    Sent {
        partition,
        record: record.into(),
        outcome,
    }
}

fn log(records: &[&str]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// Partition 0 with `records` on leader 1 and ISR members 1, 2, 3 alike.
fn healthy(records: &[&str]) -> BTreeMap<u32, FinalPartition> {
    let replicas = (1..=3).map(|b| (b, Ok(log(records)))).collect();
    let p = FinalPartition {
        isr: vec![1, 2, 3],
        leader_log: Ok(log(records)),
        replicas,
    };
    BTreeMap::from([(0, p)])
}

fn history(sent: Vec<Sent>, reads: Vec<Read>) -> History {
    History { sent, reads }
}

fn read(records: &[(u64, &str)]) -> Read {
    Read {
        partition: 0,
        records: records.iter().map(|&(o, r)| (o, r.to_string())).collect(),
        error: None,
    }
}

fn kinds(found: &[Violation]) -> Vec<&'static str> {
    found.iter().map(|v| v.kind).collect()
}

#[test]
fn a_clean_run_passes() {
    let h = history(
        vec![
            sent(0, "p0-0", Outcome::Acked(0)),
            sent(0, "p0-1", Outcome::Failed("timeout".into())),
            sent(0, "p1-0", Outcome::Acked(2)),
            sent(0, "p1-1", Outcome::Unknown),
        ],
        vec![read(&[(0, "p0-0"), (1, "p0-1")]), read(&[])],
    );
    let fin = healthy(&["p0-0", "p0-1", "p1-0"]);
    assert_eq!(check(&h, &fin), vec![]);
}

#[test]
fn a_lost_acknowledged_record_is_caught() {
    let h = history(vec![sent(0, "p0-0", Outcome::Acked(0))], vec![]);
    let fin = healthy(&[]);
    assert_eq!(
        kinds(&check(&h, &fin)),
        [
            "lost",
            "missing-on-replica",
            "missing-on-replica",
            "missing-on-replica"
        ]
    );
}

#[test]
fn an_acknowledged_record_at_another_offset_is_caught() {
    let h = history(
        vec![
            sent(0, "p0-0", Outcome::Unknown),
            sent(0, "p0-1", Outcome::Acked(0)),
        ],
        vec![],
    );
    let fin = healthy(&["p0-0", "p0-1"]);
    assert!(kinds(&check(&h, &fin)).contains(&"lost"));
}

#[test]
fn a_record_written_twice_is_caught_acknowledged_or_not() {
    let h = history(
        vec![
            sent(0, "p0-0", Outcome::Acked(0)),
            sent(0, "p0-1", Outcome::Failed("timeout".into())),
        ],
        vec![],
    );
    let fin = healthy(&["p0-0", "p0-1", "p0-0", "p0-1"]);
    assert_eq!(kinds(&check(&h, &fin)), ["duplicate", "duplicate"]);
}

#[test]
fn a_record_nobody_sent_is_caught() {
    let h = history(vec![], vec![]);
    assert_eq!(kinds(&check(&h, &healthy(&["x"]))), ["phantom"]);
}

#[test]
fn an_isr_member_missing_a_record_is_caught() {
    let h = history(vec![sent(0, "p0-0", Outcome::Acked(0))], vec![]);
    let mut fin = healthy(&["p0-0"]);
    fin.get_mut(&0).unwrap().replicas.insert(3, Ok(log(&[])));
    assert_eq!(
        kinds(&check(&h, &fin)),
        ["missing-on-replica", "replica-diverges"]
    );
}

#[test]
fn an_isr_member_not_read_is_caught() {
    let h = history(vec![], vec![]);
    let mut fin = healthy(&[]);
    fin.get_mut(&0).unwrap().replicas.remove(&2);
    fin.get_mut(&0)
        .unwrap()
        .replicas
        .insert(3, Err("corrupt".into()));
    assert_eq!(
        kinds(&check(&h, &fin)),
        ["replica-diverges", "replica-diverges"]
    );
}

#[test]
fn a_consumer_that_read_another_log_is_caught() {
    let h = history(
        vec![
            sent(0, "a", Outcome::Unknown),
            sent(0, "b", Outcome::Unknown),
        ],
        vec![read(&[(0, "b")])],
    );
    assert_eq!(kinds(&check(&h, &healthy(&["a"]))), ["consumer-diverges"]);
}

#[test]
fn a_consumer_that_read_past_the_final_log_is_caught() {
    let h = history(
        vec![
            sent(0, "a", Outcome::Unknown),
            sent(0, "b", Outcome::Unknown),
        ],
        vec![read(&[(0, "a"), (1, "b")])],
    );
    assert_eq!(kinds(&check(&h, &healthy(&["a"]))), ["consumer-diverges"]);
}

#[test]
fn a_consumer_that_skipped_an_offset_is_caught() {
    let h = history(
        vec![
            sent(0, "a", Outcome::Unknown),
            sent(0, "b", Outcome::Unknown),
        ],
        vec![read(&[(0, "a"), (2, "b")])],
    );
    assert_eq!(kinds(&check(&h, &healthy(&["a", "b"]))), ["consumer-gap"]);
}

#[test]
fn an_unreadable_leader_is_a_violation() {
    let h = history(vec![], vec![]);
    let mut fin = healthy(&[]);
    fin.get_mut(&0).unwrap().leader_log = Err("no leader".into());
    assert_eq!(kinds(&check(&h, &fin)), ["final-read"]);
}
