//! DIFFs older than the payloads a leader keeps in memory are read from its log
//! (`Action::ReadLog`), checked against its history, and a read that fails or does not match
//! becomes a SNAP.

mod common;

use common::Net;
use zab::{ServerId, Zxid, MAX_LOG_READS_IN_FLIGHT};

/// Three servers keeping two payloads each, ten transactions committed, then one follower
/// back with an empty disk, its log reads held: the held reads and the follower's index.
fn behind_by_ten() -> (Net, usize, usize, ServerId) {
    let mut net = Net::with_tail(3, 2);
    net.start();
    net.settle(20);
    let l = net.leader();
    let f = (0..3).find(|&i| i != l).expect("a follower");
    for i in 0..10 {
        net.propose(&format!("txn {i}"));
        net.settle(1);
    }
    net.held_reads = Some(Vec::new());
    let id = net.restart_empty(f);
    net.settle(3);
    (net, l, f, id)
}

fn take_reads(net: &mut Net) -> Vec<(usize, ServerId, Zxid, Zxid)> {
    std::mem::take(net.held_reads.as_mut().expect("reads held"))
}

/// The follower has every transaction the leader has, payloads included, and delivers what
/// comes next.
fn assert_in_sync(net: &mut Net, l: usize, f: usize) {
    net.settle(10);
    assert_eq!(
        net.logs[f], net.logs[l],
        "the follower logged the leader's history"
    );
    assert_eq!(net.delivered[f], net.delivered[l]);
    let next = net.propose("next");
    net.settle(5);
    assert_eq!(net.delivered[f].last(), Some(&next));
}

#[test]
fn a_diff_older_than_the_held_payloads_is_read_from_the_log() {
    let (mut net, l, f, id) = behind_by_ten();
    let reads = take_reads(&mut net);
    let (_, for_server, after, up_to) = reads[0];
    assert_eq!((for_server, after), (id, Zxid::ZERO));
    assert_eq!(net.logs[l].len(), 10);
    assert_eq!(
        up_to, net.logs[l][7].zxid,
        "the two newest payloads are in memory"
    );
    let read = net.read_log(l, after, up_to);
    net.answer_read(l, id, after, up_to, Ok(read));
    net.held_reads = None;
    assert_in_sync(&mut net, l, f);
    let stats = net.peers[l].stats();
    assert_eq!((stats.log_reads_refused, stats.sync_snap), (0, 0));
    assert!(stats.log_reads >= 1);
}

#[test]
fn a_failed_or_short_read_becomes_a_snap() {
    for short in [false, true] {
        let (mut net, l, f, id) = behind_by_ten();
        let (_, _, after, up_to) = take_reads(&mut net)[0];
        let answer = if short {
            let mut read = net.read_log(l, after, up_to);
            read.pop();
            Ok(read)
        } else {
            Err("disk on fire".to_string())
        };
        net.answer_read(l, id, after, up_to, answer);
        let stats = net.peers[l].stats();
        assert_eq!((stats.log_reads_refused, stats.sync_snap), (1, 1));
        net.held_reads = None;
        net.settle(10);
        assert_eq!(net.peers[f].delivered_zxid(), net.peers[l].delivered_zxid());
        let next = net.propose("next");
        net.settle(5);
        assert_eq!(net.delivered[f].last(), Some(&next), "short: {short}");
    }
}

#[test]
fn an_answer_to_a_read_not_asked_is_ignored() {
    let (mut net, l, f, id) = behind_by_ten();
    let (_, _, after, up_to) = take_reads(&mut net)[0];
    let queued = net.queue.len();
    let wrong = net.logs[l][3].zxid;
    let read = net.read_log(l, after, wrong);
    net.answer_read(l, id, after, wrong, Ok(read));
    net.answer_read(l, ServerId(99), after, up_to, Err("who?".into()));
    assert_eq!(net.peers[l].stats().log_reads_refused, 0);
    assert_eq!(net.queue.len(), queued, "nothing sent");
    assert!(net.held_reads.as_ref().unwrap().is_empty(), "nothing read");
    let read = net.read_log(l, after, up_to);
    net.answer_read(l, id, after, up_to, Ok(read));
    net.held_reads = None;
    assert_in_sync(&mut net, l, f);
}

#[test]
fn payloads_made_during_a_read_stay_in_memory_until_it_is_answered() {
    let (mut net, l, f, id) = behind_by_ten();
    let (_, _, after, up_to) = take_reads(&mut net)[0];
    // Five more commits while the log is read: beyond the two payloads kept, but held for
    // the read's DIFF to go on from memory.
    for i in 0..5 {
        net.propose(&format!("more {i}"));
        net.settle(1);
    }
    let read = net.read_log(l, after, up_to);
    net.answer_read(l, id, after, up_to, Ok(read));
    assert!(take_reads(&mut net).is_empty(), "one read did it");
    net.held_reads = None;
    assert_in_sync(&mut net, l, f);
    let stats = net.peers[l].stats();
    assert_eq!(
        (stats.log_reads, stats.log_reads_refused, stats.sync_snap),
        (1, 0, 0)
    );
    // Answered, the leader keeps two payloads again: a follower back now reads up to the
    // third newest transaction.
    net.held_reads = Some(Vec::new());
    let id = net.restart_empty(f);
    net.settle(3);
    let (_, for_server, _, up_to) = take_reads(&mut net)[0];
    let log = &net.logs[l];
    assert_eq!((for_server, up_to), (id, log[log.len() - 3].zxid));
}

#[test]
fn reads_in_flight_are_bounded_and_a_sync_beyond_the_bound_gets_a_snap() {
    let (mut net, l, f, _) = behind_by_ten();
    // The follower rejoins while its reads are under way: each join asks for one more.
    for _ in 1..MAX_LOG_READS_IN_FLIGHT {
        net.restart_empty(f);
        net.settle(3);
    }
    let reads = take_reads(&mut net);
    assert_eq!(reads.len(), MAX_LOG_READS_IN_FLIGHT, "{reads:?}");
    let id = net.restart_empty(f);
    net.settle(3);
    assert!(take_reads(&mut net).is_empty(), "no read beyond the bound");
    let stats = net.peers[l].stats();
    assert_eq!((stats.log_reads_refused, stats.sync_snap), (1, 1));
    // The old reads' answers come back and change nothing; reads are asked for again.
    for (_, _, after, up_to) in reads {
        let read = net.read_log(l, after, up_to);
        net.answer_read(l, id, after, up_to, Ok(read));
    }
    net.held_reads = None;
    net.settle(10);
    assert_eq!(net.peers[f].delivered_zxid(), net.peers[l].delivered_zxid());
    assert_eq!(net.peers[l].stats().sync_snap, 1);
    net.restart_empty(f);
    net.settle(10);
    assert_eq!(
        net.peers[l].stats().log_reads,
        MAX_LOG_READS_IN_FLIGHT as u64 + 1
    );
}
