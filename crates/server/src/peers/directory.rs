//! Who this server talks to: the peer address of every server of the configuration in force
//! (and, on a leader, of one it proposed). The ensemble's membership changes with
//! reconfigurations, so the directory does too: a server that joins is dialled by the members
//! with larger ids once they know its address (its own dials reach those with smaller ids), and
//! a server that leaves is no longer redialled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

/// Who to dial: a server, its address, and the entry's generation.
pub(super) type Dial = (u64, String, u64);

/// The table: each server's address and the generation of its entry (a server removed and
/// added back gets a new one, so the dialler of the old entry knows to stop).
#[derive(Default)]
struct Table {
    entries: HashMap<u64, (String, u64)>,
    generation: u64,
}

/// The shared table, and where servers to dial are announced (the network's dialler task).
#[derive(Clone, Default)]
pub(super) struct Directory {
    my_id: u64,
    table: Arc<Mutex<Table>>,
    /// `None` in a network that dials nobody (a standalone server's).
    dials: Option<mpsc::UnboundedSender<Dial>>,
}

impl Directory {
    pub(super) fn new(my_id: u64, dials: mpsc::UnboundedSender<Dial>) -> Directory {
        Directory {
            my_id,
            table: Arc::default(),
            dials: Some(dials),
        }
    }

    /// A poisoned lock is used as it is: every change is one insert or remove.
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Exactly these servers from now on (a configuration was activated).
    pub(super) fn replace(&self, members: Vec<(u64, String)>) {
        let keep: Vec<u64> = members.iter().map(|(id, _)| *id).collect();
        self.table().entries.retain(|id, _| keep.contains(id));
        self.add(members);
    }

    /// These servers too; a new one, or a known one at a new address, is dialled if this
    /// server is the one that dials it (the larger id dials).
    pub(super) fn add(&self, members: Vec<(u64, String)>) {
        let mut table = self.table();
        for (id, address) in members {
            let known = table.entries.get(&id).map(|(a, _)| a);
            if id == self.my_id || known == Some(&address) {
                continue;
            }
            table.generation += 1;
            let generation = table.generation;
            table.entries.insert(id, (address.clone(), generation));
            if id < self.my_id {
                if let Some(dials) = &self.dials {
                    let _ = dials.send((id, address, generation));
                }
            }
        }
    }

    pub(super) fn knows(&self, id: u64) -> bool {
        self.table().entries.contains_key(&id)
    }

    /// The peer address of `id`, while it is in the directory.
    pub(super) fn address(&self, id: u64) -> Option<String> {
        self.table().entries.get(&id).map(|(a, _)| a.clone())
    }

    /// Whether the dialler of `id`'s entry of `generation` should go on: the entry is still
    /// there and not replaced (a new address, or removed and added back).
    pub(super) fn is_current(&self, id: u64, generation: u64) -> bool {
        self.table()
            .entries
            .get(&id)
            .is_some_and(|(_, g)| *g == generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_ids_are_dialled_once_per_entry_and_leavers_are_forgotten() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let d = Directory::new(3, tx);
        d.replace(vec![
            (1, "a:1".into()),
            (2, "b:1".into()),
            (3, "me:1".into()),
            (4, "c:1".into()),
        ]);
        let mut dialled = Vec::new();
        while let Ok(d) = rx.try_recv() {
            dialled.push(d);
        }
        assert_eq!(dialled, [(1, "a:1".into(), 1), (2, "b:1".into(), 2)]);
        assert!(d.knows(4) && !d.knows(3));
        d.add(vec![(1, "a:1".into()), (2, "b:2".into())]);
        assert_eq!(rx.try_recv().unwrap(), (2, "b:2".into(), 4));
        assert!(
            rx.try_recv().is_err(),
            "a known address is not dialled again"
        );
        assert!(
            !d.is_current(2, 2) && d.is_current(2, 4),
            "the old dialler stops"
        );
        d.replace(vec![(2, "b:2".into())]);
        assert!(!d.knows(1) && !d.knows(4));
        assert_eq!(d.address(2).as_deref(), Some("b:2"));
        // Removed and added back at the same address: a new dialler, and the old one stops
        // (two diallers for one peer replaced each other's links forever).
        d.replace(vec![(1, "a:1".into()), (2, "b:2".into())]);
        assert_eq!(rx.try_recv().unwrap(), (1, "a:1".into(), 5));
        assert!(!d.is_current(1, 1) && d.is_current(1, 5));
    }
}
