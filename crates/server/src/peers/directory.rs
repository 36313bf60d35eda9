//! Who this server talks to: the peer address of every server of the configuration in force
//! (and, on a leader, of one it proposed). The ensemble's membership changes with
//! reconfigurations, so the directory does too: a server that joins is dialled by the members
//! with larger ids once they know its address (its own dials reach those with smaller ids), and
//! a server that leaves is no longer redialled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

/// The shared table, and where servers to dial are announced (the network's dialler task).
#[derive(Clone, Default)]
pub(super) struct Directory {
    my_id: u64,
    addresses: Arc<Mutex<HashMap<u64, String>>>,
    /// `None` in a network that dials nobody (a standalone server's).
    dials: Option<mpsc::UnboundedSender<(u64, String)>>,
}

impl Directory {
    pub(super) fn new(my_id: u64, dials: mpsc::UnboundedSender<(u64, String)>) -> Directory {
        Directory {
            my_id,
            addresses: Arc::default(),
            dials: Some(dials),
        }
    }

    /// A poisoned lock is used as it is: every change is one insert or remove.
    fn table(&self) -> MutexGuard<'_, HashMap<u64, String>> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Exactly these servers from now on (a configuration was activated).
    pub(super) fn replace(&self, members: Vec<(u64, String)>) {
        let keep: Vec<u64> = members.iter().map(|(id, _)| *id).collect();
        self.table().retain(|id, _| keep.contains(id));
        self.add(members);
    }

    /// These servers too; a new one, or a known one at a new address, is dialled if this
    /// server is the one that dials it (the larger id dials).
    pub(super) fn add(&self, members: Vec<(u64, String)>) {
        let mut table = self.table();
        for (id, address) in members {
            if id == self.my_id || table.get(&id) == Some(&address) {
                continue;
            }
            table.insert(id, address.clone());
            if id < self.my_id {
                if let Some(dials) = &self.dials {
                    let _ = dials.send((id, address));
                }
            }
        }
    }

    pub(super) fn knows(&self, id: u64) -> bool {
        self.table().contains_key(&id)
    }

    /// The peer address of `id`, while it is in the directory.
    pub(super) fn address(&self, id: u64) -> Option<String> {
        self.table().get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaller_ids_are_dialled_once_per_address_and_leavers_are_forgotten() {
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
        assert_eq!(dialled, [(1, "a:1".into()), (2, "b:1".into())]);
        assert!(d.knows(4) && !d.knows(3));
        d.add(vec![(1, "a:1".into()), (2, "b:2".into())]);
        assert_eq!(rx.try_recv().unwrap(), (2, "b:2".into()));
        assert!(
            rx.try_recv().is_err(),
            "a known address is not dialled again"
        );
        d.replace(vec![(2, "b:2".into())]);
        assert!(!d.knows(1) && !d.knows(4));
        assert_eq!(d.address(2).as_deref(), Some("b:2"));
    }
}
