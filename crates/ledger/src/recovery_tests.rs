use super::*;

fn open() -> LedgerMetadata {
    LedgerMetadata::new(vec![1, 2, 3], 3, 2).unwrap()
}

fn sent(actions: &[RecoveryAction]) -> Vec<(BookieId, Request)> {
    actions
        .iter()
        .filter_map(|a| match a {
            RecoveryAction::Send { to, request } => Some((*to, request.clone())),
            _ => None,
        })
        .collect()
}

fn answer(
    r: &mut Recovery,
    to: BookieId,
    request: &Request,
    response: Response,
) -> Vec<RecoveryAction> {
    assert_eq!(request.tag(), response.tag());
    r.step(RecoveryInput::Response { from: to, response })
}

/// Starts a recovery of `open()` and takes it through the CAS to IN_RECOVERY.
fn marked() -> (Recovery, Vec<RecoveryAction>) {
    let (mut r, out) = Recovery::start(7, open(), 0, Injected::NONE);
    let [RecoveryAction::Cas {
        expected: 0,
        metadata,
    }] = out.as_slice()
    else {
        panic!("{out:?}");
    };
    assert_eq!(metadata.state, LedgerState::InRecovery);
    let out = r.step(RecoveryInput::Cas(CasResult::Done { version: 1 }));
    (r, out)
}

#[test]
fn recovery_fences_every_write_quorum_then_reads_forward_writes_back_and_closes() {
    let (mut r, out) = marked();
    let fences = sent(&out);
    assert_eq!(fences.len(), 3);
    assert!(fences
        .iter()
        .all(|(_, q)| matches!(q, Request::ReadLac { fence: true, .. })));
    // Qw=3, Qa=2: two fenced bookies per write quorum; one answer is not enough.
    let lac = |tag| Response::Lac {
        tag,
        ledger: 7,
        lac: Some(4),
        last_entry: Some(6),
    };
    assert!(answer(&mut r, 1, &fences[0].1, lac(fences[0].1.tag())).is_empty());
    let out = answer(&mut r, 2, &fences[1].1, lac(fences[1].1.tag()));
    assert_eq!(out[0], RecoveryAction::FencingComplete);
    // Fencing reads from the entry after the largest LAC, a window of them at once.
    let reads = sent(&out);
    assert_eq!(reads.len() as u64, 3 * READ_WINDOW);
    assert!(reads.iter().all(|(_, q)| matches!(
        q,
        Request::Read { entry, fence: true, .. } if (5..5 + READ_WINDOW).contains(entry)
    )));
    // Entry 5 is found on one bookie: written back to the whole write set, and the window
    // slides on by one entry.
    let (to, q) = &reads[0];
    let out = answer(
        &mut r,
        *to,
        q,
        Response::Entry {
            tag: q.tag(),
            ledger: 7,
            entry: 5,
            lac: Some(4),
            payload: b"five".to_vec(),
        },
    );
    let requests = sent(&out);
    let backs: Vec<_> = requests
        .iter()
        .filter(|(_, q)| matches!(q, Request::Add { recovery: true, .. }))
        .collect();
    assert_eq!(backs.len(), 3);
    let slid = requests
        .iter()
        .filter(|(_, q)| matches!(q, Request::Read { entry, .. } if *entry == 5 + READ_WINDOW))
        .count();
    assert_eq!(slid, 3);
    let reads6: Vec<_> = reads
        .iter()
        .filter(|(_, q)| matches!(q, Request::Read { entry: 6, .. }))
        .collect();
    assert_eq!(reads6.len(), 3);
    // Entry 6: two of three say NO_ENTRY (more than Qw - Qa = 1): absent. But entry 5 has not
    // reached Qa bookies yet, so no close.
    for &(to, q) in &reads6[..2] {
        let out = answer(
            &mut r,
            *to,
            q,
            Response::Refused {
                tag: q.tag(),
                ledger: 7,
                why: Refusal::NoEntry,
            },
        );
        assert!(out.iter().all(|a| !matches!(a, RecoveryAction::Cas { .. })));
    }
    answer(
        &mut r,
        backs[0].0,
        &backs[0].1,
        Response::Added {
            tag: backs[0].1.tag(),
            ledger: 7,
            entry: 5,
        },
    );
    let out = answer(
        &mut r,
        backs[1].0,
        &backs[1].1,
        Response::Added {
            tag: backs[1].1.tag(),
            ledger: 7,
            entry: 5,
        },
    );
    let [RecoveryAction::Cas {
        expected: 1,
        metadata,
    }] = out.as_slice()
    else {
        panic!("{out:?}");
    };
    assert_eq!(
        (metadata.state, metadata.last_entry),
        (LedgerState::Closed, Some(5))
    );
    let out = r.step(RecoveryInput::Cas(CasResult::Done { version: 2 }));
    assert_eq!(
        out,
        vec![RecoveryAction::Closed {
            last_entry: Some(5)
        }]
    );
}

#[test]
fn a_recovery_that_loses_the_race_to_close_adopts_the_other_close() {
    let (_, out) = Recovery::start(7, open(), 0, Injected::NONE);
    assert!(matches!(out[0], RecoveryAction::Cas { .. }));
    let mut closed = open();
    closed.state = LedgerState::Closed;
    closed.last_entry = Some(3);
    let (mut r, _) = Recovery::start(7, open(), 0, Injected::NONE);
    let out = r.step(RecoveryInput::Cas(CasResult::Conflict {
        metadata: closed.clone(),
        version: 2,
    }));
    assert_eq!(
        out,
        vec![RecoveryAction::Closed {
            last_entry: Some(3)
        }]
    );
    let (r, out) = Recovery::start(7, closed, 2, Injected::NONE);
    assert!(r.done());
    assert_eq!(
        out,
        vec![RecoveryAction::Closed {
            last_entry: Some(3)
        }]
    );
}

#[test]
fn an_unanswered_bookie_is_asked_again_and_recovery_waits() {
    let (mut r, out) = marked();
    let fences = sent(&out);
    let again = r.step(RecoveryInput::BookieFailed {
        bookie: fences[0].0,
    });
    let resent = sent(&again);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].0, fences[0].0);
    // The old request's answer no longer counts; the new one does.
    let lac = |tag| Response::Lac {
        tag,
        ledger: 7,
        lac: None,
        last_entry: None,
    };
    assert!(answer(&mut r, fences[0].0, &fences[0].1, lac(fences[0].1.tag())).is_empty());
    answer(&mut r, resent[0].0, &resent[0].1, lac(resent[0].1.tag()));
    let out = answer(&mut r, fences[1].0, &fences[1].1, lac(fences[1].1.tag()));
    assert_eq!(out[0], RecoveryAction::FencingComplete);
    // An empty ledger: reading starts at entry 0.
    let reads = sent(&out);
    assert!(reads
        .iter()
        .all(|(_, q)| matches!(q, Request::Read { entry, .. } if *entry < READ_WINDOW)));
    assert!(matches!(reads[0].1, Request::Read { entry: 0, .. }));
}
