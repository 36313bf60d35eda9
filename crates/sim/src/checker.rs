//! The invariants of Zab (DSN 2011), checked after every step of a run.
//!
//! The checker keeps the *canonical* delivered sequence: position i holds the i-th transaction
//! any server delivered. Every server's deliveries must match it position by position. From
//! that follow, in the paper's terms:
//! - agreement and total order: delivered sequences are prefixes of one another;
//! - integrity: a delivered transaction was broadcast by the primary of its epoch;
//! - local and global primary order: zxids increase along the canonical sequence;
//! - primary integrity: a primary establishes only after delivering everything delivered by
//!   anyone before, and nothing of an earlier epoch is delivered after it was established;
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

    /// After its initial history was delivered: the new primary must hold everything anyone
    /// delivered (committed transactions are never lost).
    pub fn after_established(
        &mut self,
        leader: ServerId,
        epoch: Epoch,
        app: &App,
    ) -> Result<(), Violation> {
        if (app.count as usize) < self.canonical.len() {
            return Err(Violation {
                invariant: "committed never lost",
                detail: format!(
                    "{leader} established {epoch} with {} transactions, but {} were delivered",
                    app.count,
                    self.canonical.len()
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
