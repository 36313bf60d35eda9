use super::*;

fn writer(max_pending: usize) -> Writer {
    let metadata = LedgerMetadata::new(vec![1, 2, 3], 2, 2).unwrap();
    let config = WriterConfig {
        ledger: 7,
        max_pending_entries: max_pending,
        injected: Injected::NONE,
    };
    Writer::new(config, metadata, 0)
}

fn sends(actions: &[WriterAction]) -> Vec<(BookieId, EntryId, Option<EntryId>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            WriterAction::Send {
                to,
                request: Request::Add { entry, lac, .. },
            } => Some((*to, *entry, *lac)),
            _ => None,
        })
        .collect()
}

fn added(w: &mut Writer, from: BookieId, entry: EntryId) -> Vec<WriterAction> {
    w.step(WriterInput::Response {
        from,
        response: Response::Added {
            tag: 0,
            ledger: 7,
            entry,
        },
    })
}

#[test]
fn entries_go_to_their_write_set_and_are_acknowledged_in_order() {
    let mut w = writer(10);
    let a0 = w.step(WriterInput::Append(b"a".to_vec()));
    assert_eq!(sends(&a0), vec![(1, 0, None), (2, 0, None)]);
    let a1 = w.step(WriterInput::Append(b"b".to_vec()));
    assert_eq!(sends(&a1), vec![(2, 1, None), (3, 1, None)]);
    // Entry 1 has its ack quorum first: nothing is acknowledged before entry 0.
    assert!(added(&mut w, 2, 1).is_empty());
    assert!(added(&mut w, 3, 1).is_empty());
    assert!(added(&mut w, 1, 0).is_empty());
    let acks = added(&mut w, 2, 0);
    assert_eq!(
        acks,
        vec![
            WriterAction::Acknowledged { entry: 0 },
            WriterAction::Acknowledged { entry: 1 }
        ]
    );
    // The LAC rides on the next add.
    let a2 = w.step(WriterInput::Append(b"c".to_vec()));
    assert_eq!(sends(&a2), vec![(3, 2, Some(1)), (1, 2, Some(1))]);
}

#[test]
fn appends_beyond_the_pending_limit_are_refused() {
    let mut w = writer(1);
    w.step(WriterInput::Append(b"a".to_vec()));
    assert_eq!(
        w.step(WriterInput::Append(b"b".to_vec())),
        vec![WriterAction::AppendRefused {
            why: AppendRefusal::TooManyPending
        }]
    );
}

#[test]
fn a_failed_bookie_is_replaced_by_cas_and_unacknowledged_entries_resent() {
    let mut w = writer(10);
    w.step(WriterInput::Append(b"a".to_vec()));
    added(&mut w, 1, 0);
    added(&mut w, 2, 0);
    w.step(WriterInput::Append(b"b".to_vec())); // entry 1 to bookies 2, 3
    added(&mut w, 3, 1);
    let change = w.step(WriterInput::BookieFailed {
        bookie: 3,
        candidates: vec![1, 2, 3, 4, 5],
    });
    let [WriterAction::Cas { expected, metadata }] = change.as_slice() else {
        panic!("expected one CAS, got {change:?}");
    };
    assert_eq!(*expected, 0);
    assert_eq!(metadata.fragments.len(), 2);
    assert_eq!(metadata.fragments[1].first_entry, 1);
    assert_eq!(metadata.fragments[1].bookies, vec![1, 2, 4]);
    // The replaced bookie's ack no longer counts.
    assert!(added(&mut w, 2, 1).is_empty());
    let done = w.step(WriterInput::Cas(CasResult::Done { version: 1 }));
    assert_eq!(sends(&done), vec![(4, 1, Some(0))]);
    assert_eq!(
        added(&mut w, 4, 1),
        vec![WriterAction::Acknowledged { entry: 1 }]
    );
}

#[test]
fn a_conflict_with_a_recovery_fails_pending_entries_and_a_fence_stops_the_writer() {
    let mut w = writer(10);
    w.step(WriterInput::Append(b"a".to_vec()));
    w.step(WriterInput::BookieFailed {
        bookie: 1,
        candidates: vec![4],
    });
    let mut metadata = w.metadata().clone();
    metadata.state = LedgerState::InRecovery;
    let out = w.step(WriterInput::Cas(CasResult::Conflict {
        metadata,
        version: 1,
    }));
    assert_eq!(
        out,
        vec![WriterAction::Failed {
            entries: vec![0],
            why: WriterError::NotOpen
        }]
    );
    let mut w = writer(10);
    w.step(WriterInput::Append(b"a".to_vec()));
    let out = w.step(WriterInput::Response {
        from: 1,
        response: Response::Refused {
            tag: 1,
            ledger: 7,
            why: Refusal::Fenced,
        },
    });
    assert_eq!(
        out,
        vec![WriterAction::Failed {
            entries: vec![0],
            why: WriterError::Fenced
        }]
    );
    assert!(w.stopped());
}

#[test]
fn close_waits_for_pending_entries_and_a_lost_reply_is_recognised() {
    let mut w = writer(10);
    w.step(WriterInput::Append(b"a".to_vec()));
    assert!(w.step(WriterInput::Close).is_empty());
    added(&mut w, 1, 0);
    let out = added(&mut w, 2, 0);
    let Some(WriterAction::Cas { metadata, .. }) = out.last() else {
        panic!("no close CAS: {out:?}");
    };
    assert_eq!(metadata.state, LedgerState::Closed);
    assert_eq!(metadata.last_entry, Some(0));
    // The CAS was applied but its reply lost: the re-read shows what the writer wrote.
    let out = w.step(WriterInput::Cas(CasResult::Conflict {
        metadata: metadata.clone(),
        version: 1,
    }));
    assert_eq!(
        out,
        vec![WriterAction::Closed {
            last_entry: Some(0)
        }]
    );
}
