//! Which bookies hold which entry, and how many answers make a quorum.
//!
//! Entry `e` is written to the Qw bookies at ensemble positions `e mod E, e+1 mod E, …`, so an
//! ensemble of E bookies has E distinct write quorums and spreads the load over all of them.

use crate::ids::EntryId;

/// Ensemble positions of the write quorum of `entry`, in order.
pub fn write_set(entry: EntryId, ensemble_size: usize, write_quorum: usize) -> Vec<usize> {
    assert!(
        ensemble_size >= write_quorum && write_quorum >= 1,
        "E >= Qw >= 1"
    );
    let start = (entry % ensemble_size as u64) as usize;
    (0..write_quorum)
        .map(|i| (start + i) % ensemble_size)
        .collect()
}

/// Whether the ensemble position `position` is in the write quorum of `entry`.
pub fn in_write_set(
    entry: EntryId,
    position: usize,
    ensemble_size: usize,
    write_quorum: usize,
) -> bool {
    write_set(entry, ensemble_size, write_quorum).contains(&position)
}

/// How many bookies of *every* write quorum must be fenced before no write quorum can still
/// gather Qa acknowledgements from unfenced bookies: (Qw − Qa) + 1.
pub fn fence_quorum(write_quorum: usize, ack_quorum: usize) -> usize {
    write_quorum - ack_quorum + 1
}

/// Whether the fenced positions `fenced` (a set over 0..E) cover every write quorum with at
/// least `fence_quorum(Qw, Qa)` bookies: only then can no ordinary add still be acknowledged.
pub fn fencing_complete(fenced: &[bool], write_quorum: usize, ack_quorum: usize) -> bool {
    let e = fenced.len();
    let need = fence_quorum(write_quorum, ack_quorum);
    (0..e as u64).all(|start| {
        write_set(start, e, write_quorum)
            .into_iter()
            .filter(|&p| fenced[p])
            .count()
            >= need
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_sets_wrap_around_the_ensemble() {
        assert_eq!(write_set(0, 3, 2), vec![0, 1]);
        assert_eq!(write_set(2, 3, 2), vec![2, 0]);
        assert_eq!(write_set(4, 5, 3), vec![4, 0, 1]);
    }

    #[test]
    fn fencing_must_reach_every_write_quorum() {
        // E=3, Qw=2, Qa=2: one fenced bookie per write quorum; {0,1},{1,2},{2,0}.
        assert!(!fencing_complete(&[true, false, false], 2, 2));
        assert!(fencing_complete(&[true, true, false], 2, 2));
        // E=3, Qw=3, Qa=2: two per write quorum.
        assert!(!fencing_complete(&[true, false, false], 3, 2));
        assert!(fencing_complete(&[true, false, true], 3, 2));
    }
}
