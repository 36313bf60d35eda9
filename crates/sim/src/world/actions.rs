//! Carrying out a peer's actions, as the driver contract in `zab::io` demands: in order, with
//! persistence done before the next action and appends made durable later by an fsync.

use zab::{Action, Input, Txn};

use super::{Event, World};
use crate::app::App;
use crate::checker::Violation;
use crate::options::{
    CRASH_MID_EPOCH_WRITE, CRASH_MID_INSTALL, FAILED_LOG_READ, SLOW_LOG_READ, SLOW_LOG_READ_TICKS,
    UNITS_PER_TICK,
};
use crate::rules;
use crate::trace::{Interrupted, Persisted, TraceEvent};

impl World {
    /// Carries out a peer's actions, in order, as the driver contract demands.
    pub(super) fn apply(&mut self, i: usize, mut out: Vec<Action>) -> Result<(), Violation> {
        let mut established = None;
        let mut snapshot_requests = Vec::new();
        let id = self.nodes[i].id;
        let mut crashed = false;
        for action in out.drain(..) {
            match action {
                Action::Send { to, message } => self.send(i, to.0 as usize - 1, message)?,
                Action::PersistAcceptedEpoch { epoch, leader } => {
                    let what = Persisted::AcceptedEpoch { epoch, leader };
                    self.trace(TraceEvent::Persist { server: id, what });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_persist_accepted(rules::Server { id, disk, app }, epoch)?;
                    if self.crash_mid_epoch_write(i, what) {
                        crashed = true;
                        break;
                    }
                    let disk = &mut self.nodes[i].disk;
                    disk.accepted_epoch = epoch;
                    disk.accepted_leader = leader;
                    self.rules.on_accepted_written(id, epoch, leader);
                }
                Action::PersistCurrentEpoch(epoch) => {
                    let what = Persisted::CurrentEpoch(epoch);
                    self.trace(TraceEvent::Persist { server: id, what });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    let server = rules::Server { id, disk, app };
                    self.rules.on_accept(server, "records currentEpoch")?;
                    self.rules.on_persist_current(server, epoch)?;
                    if self.crash_mid_epoch_write(i, what) {
                        crashed = true;
                        break;
                    }
                    self.nodes[i].disk.current_epoch = epoch;
                    self.rules.on_current_written(id, epoch);
                }
                Action::Append(txns) => {
                    self.trace(TraceEvent::Append {
                        server: id,
                        txns: &txns,
                    });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_accept(rules::Server { id, disk, app }, "appends")?;
                    let node = &mut self.nodes[i];
                    let peer = node.peer.as_ref().expect("up");
                    if peer.is_leading() {
                        for txn in &txns {
                            if txn.zxid.epoch == peer.accepted_epoch() {
                                self.checker.on_broadcast(id, txn)?;
                            }
                        }
                    }
                    let node = &mut self.nodes[i];
                    node.disk.append(&txns);
                    if !node.fsync_pending {
                        node.fsync_pending = true;
                        let incarnation = node.incarnation;
                        let delay = self.rng.between(1, self.opts.fsync_max);
                        self.schedule(delay, Event::Fsync(i, incarnation));
                    }
                }
                Action::Truncate(zxid) => {
                    let what = Persisted::Truncate(zxid);
                    self.trace(TraceEvent::Persist { server: id, what });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_accept(rules::Server { id, disk, app }, "truncates")?;
                    self.nodes[i].disk.truncate(zxid);
                }
                Action::InstallSnapshot(snapshot) => {
                    let app = App::restore(&snapshot).expect("snapshot from a simulated leader");
                    self.trace(TraceEvent::Snapshot {
                        server: id,
                        why: "install",
                        zxid: app.zxid,
                        count: app.count,
                        digest: app.hash,
                    });
                    let (disk, held) = (&self.nodes[i].disk, &self.nodes[i].app);
                    let server = rules::Server {
                        id,
                        disk,
                        app: held,
                    };
                    self.rules.on_accept(server, "installs a snapshot")?;
                    if self.faults_on
                        && self.opts.crash_mid_install
                        && self.rng.chance(CRASH_MID_INSTALL)
                    {
                        let written = self.rng.chance(0.5);
                        self.nodes[i].disk.interrupt_install(snapshot, written);
                        let faults = &mut self.report.faults;
                        *if written {
                            &mut faults.install_log_not_reset
                        } else {
                            &mut faults.install_half_written
                        } += 1;
                        let during = Interrupted::Install {
                            zxid: app.zxid,
                            count: app.count,
                            written,
                        };
                        self.crash_mid_write(i, during);
                        crashed = true;
                        break;
                    }
                    self.nodes[i].disk.install_snapshot(snapshot);
                    self.nodes[i].app = app;
                    self.checker.on_state(id, &app, "installed")?;
                }
                Action::Deliver(txn) => self.deliver(i, &txn)?,
                Action::TakeSnapshot { for_server } => snapshot_requests.push(for_server),
                Action::ReadLog {
                    for_server,
                    after,
                    up_to,
                } => {
                    // Off the event loop, as the server's storage reads: answered later, while
                    // the leader goes on; now and then slowly, or with an error.
                    let incarnation = self.nodes[i].incarnation;
                    let faults = self.opts.log_read_faults;
                    let delay = if faults && self.rng.chance(SLOW_LOG_READ) {
                        self.rng.between(0, SLOW_LOG_READ_TICKS * UNITS_PER_TICK)
                    } else {
                        self.rng.between(0, self.opts.fsync_max)
                    };
                    let fails = faults && self.rng.chance(FAILED_LOG_READ);
                    let event = Event::LogRead {
                        server: i,
                        incarnation,
                        for_server,
                        after,
                        up_to,
                        fails,
                    };
                    self.schedule(delay, event);
                }
                Action::PhaseChanged { phase, epoch } => {
                    self.trace(TraceEvent::Phase {
                        server: id,
                        phase: phase.name(),
                        epoch: epoch.0,
                    });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_phase(rules::Server { id, disk, app }, phase, epoch)?;
                }
                Action::LeadershipConfirmed { round } => {
                    self.trace(TraceEvent::Confirmed { server: id, round });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_confirmed(rules::Server { id, disk, app }, round)?;
                    let asked: Vec<(u64, u64, zab::Epoch)> = self
                        .confirmations
                        .iter()
                        .filter(|((node, r), _)| *node == i && *r <= round)
                        .map(|((_, r), (at, epoch))| (*r, *at, *epoch))
                        .collect();
                    for (r, at, epoch) in asked {
                        self.confirmations.remove(&(i, r));
                        self.checker.on_leadership_confirmed(id, epoch, at)?;
                    }
                }
                Action::MembershipChanged(membership) => {
                    self.report.reconfigs_activated += 1;
                    let disk = &mut self.nodes[i].disk;
                    disk.activated = disk.activated.max(membership.version);
                    self.trace(TraceEvent::Fault {
                        kind: "configuration",
                        detail: format!(
                            "s{} activates voters {:?} observers {:?} of version {}",
                            id.0, membership.voters, membership.observers, membership.version
                        ),
                    });
                }
                Action::Established { epoch, initial } => {
                    self.trace(TraceEvent::Established {
                        server: id,
                        epoch,
                        initial,
                    });
                    let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
                    self.rules
                        .on_established(rules::Server { id, disk, app }, epoch, initial)?;
                    let now = self.now;
                    self.checker.on_established(id, epoch, now)?;
                    established = Some(epoch);
                }
            }
        }
        self.scratch = out;
        if crashed {
            return Ok(());
        }
        if let Some(epoch) = established {
            let app = self.nodes[i].app;
            self.checker.after_established(id, epoch, &app)?;
        }
        for for_server in snapshot_requests {
            let snapshot = self.nodes[i].app.snapshot();
            self.step(
                i,
                Input::SnapshotTaken {
                    for_server,
                    snapshot,
                },
            )?;
        }
        Ok(())
    }

    /// With [`crate::Options::crash_mid_epoch_write`], the epoch write `what` of server `i`
    /// may be interrupted by a crash: the file then holds the old value or the new one, never
    /// a mix (it is replaced by a rename). True if the server crashed.
    fn crash_mid_epoch_write(&mut self, i: usize, what: Persisted) -> bool {
        if !(self.faults_on
            && self.opts.crash_mid_epoch_write
            && self.rng.chance(CRASH_MID_EPOCH_WRITE))
        {
            return false;
        }
        let kept_new = self.rng.chance(0.5);
        let disk = &mut self.nodes[i].disk;
        match (what, kept_new) {
            (Persisted::AcceptedEpoch { epoch, leader }, true) => {
                disk.accepted_epoch = epoch;
                disk.accepted_leader = leader;
            }
            (Persisted::CurrentEpoch(epoch), true) => disk.current_epoch = epoch,
            _ => {}
        }
        let faults = &mut self.report.faults;
        *if kept_new {
            &mut faults.epoch_write_new_kept
        } else {
            &mut faults.epoch_write_old_kept
        } += 1;
        self.crash_mid_write(i, Interrupted::Epoch { what, kept_new });
        true
    }

    /// Server `i` crashes in the middle of a write (`during`), and restarts later.
    fn crash_mid_write(&mut self, i: usize, during: Interrupted) {
        self.crash(i, Some(during));
        let delay = self.rng.between(UNITS_PER_TICK, 40 * UNITS_PER_TICK);
        self.schedule(delay, Event::Restart(i));
    }

    pub(super) fn deliver(&mut self, i: usize, txn: &Txn) -> Result<(), Violation> {
        let id = self.nodes[i].id;
        let before = self.nodes[i].app;
        self.nodes[i].app.apply(txn);
        let digest = self.nodes[i].app.hash;
        self.trace(TraceEvent::Deliver {
            server: id,
            zxid: txn.zxid,
            digest,
        });
        self.check_configuration_known(txn)?;
        let (disk, app) = (&self.nodes[i].disk, &self.nodes[i].app);
        let server = rules::Server { id, disk, app };
        self.rules.on_accept(server, "delivers")?;
        self.rules.on_deliver(server, txn.zxid)?;
        self.checker.on_deliver(id, &before, txn)?;
        if let Some((probe, _)) = &self.probe {
            if *probe == txn.data {
                self.probe_seen[i] = true;
                if self.probe_seen.iter().all(|&seen| seen) {
                    self.live = true;
                }
            }
        }
        Ok(())
    }

    /// Every committed configuration is known to a quorum of its own voters: when a server
    /// delivers the transaction carrying one, a quorum of the new voters' disks durably hold
    /// it (in their synced log, or under a snapshot at or past it). Judged from the disks
    /// alone, so it holds the commit rule to account whatever the leader believed.
    fn check_configuration_known(&self, txn: &Txn) -> Result<(), Violation> {
        let Some(next) = crate::reconfig::decode(&txn.data) else {
            return Ok(());
        };
        let holds = |disk: &crate::disk::Disk| {
            disk.snapshot.as_ref().is_some_and(|s| s.zxid >= txn.zxid)
                || disk.synced.iter().any(|t| t.zxid == txn.zxid)
        };
        let knowing: Vec<_> = self
            .nodes
            .iter()
            .filter(|n| next.is_voter(n.id) && holds(&n.disk))
            .map(|n| n.id)
            .collect();
        if knowing.len() >= next.quorum_size() {
            return Ok(());
        }
        Err(Violation {
            invariant: "configuration known",
            detail: format!(
                "the configuration of {} (voters {:?}) was delivered while only {:?} of its \
                 voters durably held it",
                txn.zxid, next.voters, knowing
            ),
        })
    }

    pub(super) fn maybe_compact(&mut self, i: usize) -> Result<(), Violation> {
        if !self.opts.compaction || !self.rng.chance(0.02) {
            return Ok(());
        }
        let node = &mut self.nodes[i];
        let app = node.app;
        node.disk.compact(&app);
        let id = node.id;
        self.trace(TraceEvent::Snapshot {
            server: id,
            why: "compact",
            zxid: app.zxid,
            count: app.count,
            digest: app.hash,
        });
        self.step(i, Input::Compact(app.zxid))
    }
}
