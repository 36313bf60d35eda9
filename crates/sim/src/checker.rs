//! The invariants of Zab (DSN 2011), checked after every step of a run.
//!
//! The checker keeps the *canonical* delivered sequence: position i holds the i-th transaction
//! any server delivered. Every server's deliveries must match it position by position. From
//! that follow, in the paper's terms:
//! - agreement and total order: delivered sequences are prefixes of one another;
//! - integrity: a delivered transaction was broadcast by the primary of its epoch;
//! - local and global primary order: zxids increase along the canonical sequence;
//! - primary integrity: a primary establishes only after delivering everything of earlier
//!   epochs delivered by anyone before, and nothing of an earlier epoch is delivered after it
//!   was established;
//! - and ours: at most one leader is established per epoch; a committed transaction is never
//!   lost (a new primary holds it) or changed (positions never change).

use std::collections::HashMap;

use zab::{Epoch, ServerId, Txn, Zxid};

use crate::app::App;

/// A broken invariant, with what is needed to understand it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

#[derive(Default)]
pub struct Checker {
    /// zxid and payload hash of each canonical position.
    canonical: Vec<(Zxid, u64)>,
    /// `prefix_hash[i]` is the application hash after the first i transactions.
    prefix_hash: Vec<u64>,
    /// What each primary broadcast: zxid → payload hash.
    broadcast: HashMap<Zxid, u64>,
    /// The leader established in each epoch, and when.
    established: HashMap<Epoch, ServerId>,
    established_at: Vec<(Epoch, u64)>,
    /// The highest epoch whose leader finished delivering its initial history.
    highest_established: Epoch,
    pub deliveries: u64,
}

pub(crate) fn payload_hash(txn: &Txn) -> u64 {
    crate::rng::mix(0, &txn.data)
}

impl Checker {
    pub fn new() -> Checker {
        Checker {
            prefix_hash: vec![0],
            ..Default::default()
        }
    }

    /// The delivered sequence: (zxid, payload hash) of each position.
    pub fn canonical(&self) -> &[(Zxid, u64)] {
        &self.canonical
    }

    pub fn canonical_len(&self) -> u64 {
        self.canonical.len() as u64
    }

    /// A primary appended a transaction of its own epoch.
    pub fn on_broadcast(&mut self, leader: ServerId, txn: &Txn) -> Result<(), Violation> {
        let hash = payload_hash(txn);
        match self.established.get(&txn.zxid.epoch) {
            Some(&l) if l == leader => {}
            other => {
                return Err(Violation {
                    invariant: "integrity",
                    detail: format!(
                        "{leader} broadcast {} but the leader of {} is {other:?}",
                        txn.zxid, txn.zxid.epoch
                    ),
                })
            }
        }
        if let Some(previous) = self.broadcast.insert(txn.zxid, hash) {
            if previous != hash {
                return Err(Violation {
                    invariant: "integrity",
                    detail: format!("{} was broadcast twice with different payloads", txn.zxid),
                });
            }
        }
        Ok(())
    }

    /// `server`, whose application is `app` before this step, delivers `txn`.
    pub fn on_deliver(&mut self, server: ServerId, app: &App, txn: &Txn) -> Result<(), Violation> {
        self.deliveries += 1;
        let position = app.count as usize;
        let hash = payload_hash(txn);
        if position < self.canonical.len() {
            let (zxid, expected) = self.canonical[position];
            if (zxid, expected) != (txn.zxid, hash) {
                return Err(Violation {
                    invariant: "agreement/total order",
                    detail: format!(
                        "{server} delivered {} at position {position}, where {zxid} was delivered",
                        txn.zxid
                    ),
                });
            }
            return Ok(());
        }
        assert_eq!(
            position,
            self.canonical.len(),
            "{server} skipped a position"
        );
        if self.broadcast.get(&txn.zxid) != Some(&hash) {
            return Err(Violation {
                invariant: "integrity",
                detail: format!("{server} delivered {} which no primary broadcast", txn.zxid),
            });
        }
        if let Some(&(last, _)) = self.canonical.last() {
            if txn.zxid <= last {
                return Err(Violation {
                    invariant: "primary order",
                    detail: format!("{server} delivered {} after {last}", txn.zxid),
                });
            }
        }
        if txn.zxid.epoch < self.highest_established {
            return Err(Violation {
                invariant: "primary integrity",
                detail: format!(
                    "{server} delivered {} after the primary of {} was established without it",
                    txn.zxid, self.highest_established
                ),
            });
        }
        self.canonical.push((txn.zxid, hash));
        let next = App::next_hash(self.prefix_hash[position], txn);
        self.prefix_hash.push(next);
        Ok(())
    }

    /// A leader was established for `epoch` at time `now`.
    pub fn on_established(
        &mut self,
        leader: ServerId,
        epoch: Epoch,
        now: u64,
    ) -> Result<(), Violation> {
        self.established_at.push((epoch, now));
        if let Some(&other) = self.established.get(&epoch) {
            if other != leader {
                return Err(Violation {
                    invariant: "one leader per epoch",
                    detail: format!("{leader} and {other} were both established in {epoch}"),
                });
            }
        }
        self.established.insert(epoch, leader);
        Ok(())
    }

    /// The leader of `epoch` confirmed with a quorum that it still leads, for a confirmation
    /// asked at `asked_at`: no later epoch may have been established before that moment, or a
    /// deposed leader would answer a sync (ZOOKEEPER-1675).
    pub fn on_leadership_confirmed(
        &self,
        leader: ServerId,
        epoch: Epoch,
        asked_at: u64,
    ) -> Result<(), Violation> {
        match self.established_at.iter().find(|(e, at)| *e > epoch && *at < asked_at) {
            Some((later, at)) => Err(Violation {
                invariant: "linearizable sync",
                detail: format!(
                    "{leader} confirmed leadership of {epoch} asked at t={asked_at}, but {later} was established at t={at}"
                ),
            }),
            None => Ok(()),
        }
    }

    /// After its initial history was delivered: the new primary must hold everything of
    /// earlier epochs that anyone delivered (committed transactions are never lost). Only of
    /// earlier epochs, as in the paper's primary integrity: a leader whose quorum of ACK-LDs
    /// completes late (one of them from a follower that has since joined a later epoch, still
    /// within initLimit) is established after that later epoch delivered. It lacks those
    /// deliveries and can add nothing (the later epoch's quorum refuses its proposals), and it
    /// steps down within syncLimit. Seen in `quorum sim --servers 5 --seed 4105` once looking
    /// servers answered worse votes of their round.
    pub fn after_established(
        &mut self,
        leader: ServerId,
        epoch: Epoch,
        app: &App,
    ) -> Result<(), Violation> {
        // Up to and including its own epoch, of which nothing may be delivered before it is
        // established (one leader per epoch): a re-establishment that lost some is caught.
        let earlier = self.canonical.partition_point(|(z, _)| z.epoch <= epoch);
        if (app.count as usize) < earlier {
            return Err(Violation {
                invariant: "committed never lost",
                detail: format!(
                    "{leader} established {epoch} with {} transactions, but {earlier} of earlier epochs were delivered",
                    app.count,
                ),
            });
        }
        self.highest_established = self.highest_established.max(epoch);
        Ok(())
    }

    /// A server's application was replaced by a snapshot (SNAP or restart).
    pub fn on_state(&mut self, server: ServerId, app: &App, why: &str) -> Result<(), Violation> {
        let count = app.count as usize;
        if count > self.canonical.len() || self.prefix_hash[count] != app.hash {
            return Err(Violation {
                invariant: "agreement/total order",
                detail: format!(
                    "{server} {why} a state of {count} transactions that matches no delivered prefix"
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn txn(epoch: u32, counter: u32) -> Txn {
        Txn {
            zxid: Zxid::new(epoch, counter),
            data: Bytes::from(format!("{epoch}-{counter}")),
        }
    }

    /// A checker in which server 1 led epochs 1 and 2 and delivered (1,1), (1,2), (2,1).
    fn delivered_through_epoch_2() -> (Checker, App) {
        let mut checker = Checker::new();
        let mut app = App::default();
        for epoch in [1, 2] {
            checker
                .on_established(ServerId(1), Epoch(epoch), 0)
                .unwrap();
            let counters: &[u32] = if epoch == 1 { &[1, 2] } else { &[1] };
            for &counter in counters {
                let t = txn(epoch, counter);
                checker.on_broadcast(ServerId(1), &t).unwrap();
                checker.on_deliver(ServerId(1), &app, &t).unwrap();
                app.apply(&t);
            }
        }
        (checker, app)
    }

    #[test]
    fn a_primary_missing_a_delivery_of_an_earlier_epoch_is_a_violation() {
        let (mut checker, _) = delivered_through_epoch_2();
        let mut behind = App::default();
        behind.apply(&txn(1, 1));
        let v = checker
            .after_established(ServerId(2), Epoch(3), &behind)
            .unwrap_err();
        assert_eq!(v.invariant, "committed never lost");
    }

    /// A leader of epoch 2 established late, after epoch 3 delivered, holds everything of
    /// epoch 1 but not epoch 3's deliveries: that is no loss (primary integrity speaks of
    /// earlier epochs only).
    #[test]
    fn a_late_primary_need_not_hold_deliveries_of_later_epochs() {
        let mut checker = Checker::new();
        let mut app = App::default();
        checker.on_established(ServerId(1), Epoch(1), 0).unwrap();
        for counter in [1, 2] {
            let t = txn(1, counter);
            checker.on_broadcast(ServerId(1), &t).unwrap();
            checker.on_deliver(ServerId(1), &app, &t).unwrap();
            app.apply(&t);
        }
        let late = app;
        checker.on_established(ServerId(3), Epoch(3), 1).unwrap();
        let t = txn(3, 1);
        checker.on_broadcast(ServerId(3), &t).unwrap();
        checker.on_deliver(ServerId(3), &app, &t).unwrap();
        checker.on_established(ServerId(2), Epoch(2), 2).unwrap();
        checker
            .after_established(ServerId(2), Epoch(2), &late)
            .unwrap();
        let (mut full, _) = delivered_through_epoch_2();
        let mut all_of_epoch_1 = App::default();
        all_of_epoch_1.apply(&txn(1, 1));
        all_of_epoch_1.apply(&txn(1, 2));
        assert!(full
            .after_established(ServerId(2), Epoch(3), &all_of_epoch_1)
            .is_err());
    }
}
