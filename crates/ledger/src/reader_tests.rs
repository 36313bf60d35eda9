use super::*;

fn reads(actions: &[ReaderAction]) -> Vec<(BookieId, Request)> {
    actions
        .iter()
        .filter_map(|a| match a {
            ReaderAction::Send { to, request } => Some((*to, request.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reader_of_an_open_ledger_stops_at_the_lac() {
    let metadata = LedgerMetadata::new(vec![1, 2, 3], 2, 2).unwrap();
    let (mut r, out) = Reader::start(7, metadata, 0, 100);
    let lacs = reads(&out);
    assert_eq!(lacs.len(), 3);
    assert!(lacs
        .iter()
        .all(|(_, q)| matches!(q, Request::ReadLac { fence: false, .. })));
    let out = r.step(ReaderInput::Response {
        from: 1,
        response: Response::Lac {
            tag: lacs[0].1.tag(),
            ledger: 7,
            lac: Some(0),
            last_entry: Some(1),
        },
    });
    let [(1, ref q)] = reads(&out)[..] else {
        panic!("{out:?}")
    };
    assert!(matches!(
        q,
        Request::Read {
            entry: 0,
            fence: false,
            ..
        }
    ));
    // Bookie 1 says no: the next bookie of the write set is tried.
    let out = r.step(ReaderInput::Response {
        from: 1,
        response: Response::Refused {
            tag: q.tag(),
            ledger: 7,
            why: Refusal::NoEntry,
        },
    });
    let [(2, ref q)] = reads(&out)[..] else {
        panic!("{out:?}")
    };
    // Bookie 2's LAC is older; bookie 3 does not answer.
    r.step(ReaderInput::Response {
        from: 2,
        response: Response::Lac {
            tag: lacs[1].1.tag(),
            ledger: 7,
            lac: None,
            last_entry: Some(1),
        },
    });
    r.step(ReaderInput::BookieFailed { bookie: 3 });
    let out = r.step(ReaderInput::Response {
        from: 2,
        response: Response::Entry {
            tag: q.tag(),
            ledger: 7,
            entry: 0,
            lac: None,
            payload: b"a".to_vec(),
        },
    });
    // Entry 1 is beyond the LAC: not read.
    assert_eq!(
        out,
        vec![
            ReaderAction::Entry {
                entry: 0,
                payload: b"a".to_vec()
            },
            ReaderAction::Done { last: Some(0) }
        ]
    );
}

#[test]
fn a_reader_of_a_closed_ledger_reads_to_the_last_entry_and_reports_a_missing_one() {
    let mut metadata = LedgerMetadata::new(vec![1, 2, 3], 2, 2).unwrap();
    metadata.state = LedgerState::Closed;
    metadata.last_entry = Some(0);
    let (mut r, out) = Reader::start(7, metadata.clone(), 0, 5);
    let [(1, ref q)] = reads(&out)[..] else {
        panic!("{out:?}")
    };
    let out = r.step(ReaderInput::Response {
        from: 1,
        response: Response::Refused {
            tag: q.tag(),
            ledger: 7,
            why: Refusal::NoEntry,
        },
    });
    let [(2, ref q)] = reads(&out)[..] else {
        panic!("{out:?}")
    };
    let out = r.step(ReaderInput::Response {
        from: 2,
        response: Response::Refused {
            tag: q.tag(),
            ledger: 7,
            why: Refusal::NoLedger,
        },
    });
    assert_eq!(out, vec![ReaderAction::ReadMetadata]);
    let out = r.step(ReaderInput::Metadata(metadata));
    assert_eq!(
        out,
        vec![
            ReaderAction::Missing { entry: 0 },
            ReaderAction::Done { last: None }
        ]
    );
}
