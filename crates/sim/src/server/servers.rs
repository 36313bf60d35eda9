//! The world's servers: booting and crashing them, handing them events with their own clock,
//! carrying out what their cores decide, and the checks after every step of a server.

use bytes::Bytes;
use server_core::clients::{ClientEffect, ClientEvent, ConnId};
use server_core::peers::codec::PeerFrame;

use super::client::Which;
use super::world::{violation, Event, Step, World};

impl World {
    pub(super) fn boot(&mut self, i: usize) -> Step {
        let nonce = self.rng.next_u64();
        let (opts, limits, now) = (self.opts.clone(), self.limits.clone(), self.now);
        self.nodes[i]
            .boot(&opts, &limits, nonce, now)
            .map_err(|e| violation("restart", format!("server {} cannot start: {e}", i + 1)))?;
        self.trace.note(self.now, "boot", &format!("s{}", i + 1));
        self.after(i)
    }

    /// Power loss on server `i`: its clients' connections and its links break.
    pub(super) fn crash(&mut self, i: usize) {
        if self.nodes[i].core.is_none() {
            return;
        }
        let torn = self.opts.torn_writes;
        let rng = &mut self.rng;
        self.nodes[i].crash(&mut || rng.next_u64(), torn);
        self.report.crashes += 1;
        self.trace.note(self.now, "crash", &format!("s{}", i + 1));
        let owned: Vec<((usize, ConnId), (usize, Which))> = self
            .owners
            .iter()
            .filter(|((node, _), _)| *node == i)
            .map(|(k, v)| (*k, *v))
            .collect();
        for ((server, conn), (client, which)) in owned {
            self.owners.remove(&(server, conn));
            let delay = self.rng.between(1, 2_000);
            let closed = Event::Closed {
                client,
                which,
                server,
                conn,
            };
            self.schedule(delay, closed);
        }
        for other in 0..self.nodes.len() {
            if other != i {
                self.links.break_link(i, other);
                let delay = self.rng.between(100, 5_000);
                self.schedule(delay, Event::PeerGone { at: other, peer: i });
            }
        }
    }

    /// Runs `f` on server `i`'s core (if it is up) with its clock, then carries out what it
    /// decided and checks it.
    pub(super) fn with_core(
        &mut self,
        i: usize,
        f: impl FnOnce(
            &mut server_core::core::Core<super::storage::SimStorage>,
            server_core::clock::Now,
        ) -> Result<(), server_core::replica::ReplicaError>,
    ) -> Step {
        let now = self.nodes[i].now(self.now);
        let Some(core) = self.nodes[i].core.as_mut() else {
            return Ok(());
        };
        if let Err(e) = f(core, now) {
            // A storage error stops a real server; here it only happens if the simulated disk
            // was told to fail, which this world does not do.
            return Err(violation("storage", format!("server {}: {e}", i + 1)));
        }
        self.after(i)
    }

    pub(super) fn on_tick(&mut self, i: usize) -> Step {
        let tick = self.opts.tick;
        self.schedule(tick, Event::Tick(i));
        if i == 0 && self.trace.on() {
            let roles = self.roles();
            self.note("roles", || roles);
        }
        self.with_core(i, |core, now| core.tick(now))
    }

    pub(super) fn on_expiry(&mut self, i: usize) -> Step {
        self.schedule(100 * super::options::MS, Event::Expiry(i));
        self.with_core(i, |core, now| core.expire(now))
    }

    pub(super) fn on_fsync(&mut self, i: usize, incarnation: u32) -> Step {
        let node = &mut self.nodes[i];
        if node.incarnation != incarnation {
            return Ok(());
        }
        node.fsync_scheduled = false;
        let Some(core) = node.core.as_mut() else {
            return Ok(());
        };
        let event = core.replica.storage_mut().fsync();
        self.with_core(i, |core, now| core.storage_event(event, now))
    }

    pub(super) fn on_snapshot_write(&mut self, i: usize, incarnation: u32) -> Step {
        let node = &mut self.nodes[i];
        if node.incarnation != incarnation {
            return Ok(());
        }
        node.snapshot_scheduled = false;
        let Some(core) = node.core.as_mut() else {
            return Ok(());
        };
        let storage = core.replica.storage_mut();
        let mut events = storage.serialize_for_peers();
        self.report.peer_snapshots += events.len() as u64;
        events.extend(storage.read_for_peers());
        events.extend(storage.write_snapshot());
        for event in events {
            self.with_core(i, |core, now| core.storage_event(event, now))?;
        }
        Ok(())
    }

    pub(super) fn on_restart(&mut self, i: usize) -> Step {
        if self.nodes[i].core.is_some() {
            return Ok(());
        }
        self.boot(i)
    }

    pub(super) fn on_peer_gone(&mut self, at: usize, peer: usize) -> Step {
        let id = self.nodes[peer].id;
        self.with_core(at, |core, now| core.peer_disconnected(id, now))
    }

    pub(super) fn on_frame(
        &mut self,
        from: usize,
        to: usize,
        generation: u64,
        frame: PeerFrame,
    ) -> Step {
        if self.links.generation(from, to) != generation {
            self.report.peer_frames_lost += 1;
            return Ok(());
        }
        if self.links.blocked(from, to) {
            self.links.stall(from, to, generation, frame);
            return Ok(());
        }
        let from_id = self.nodes[from].id;
        self.with_core(to, |core, now| core.peer(from_id, frame, now))
    }

    pub(super) fn on_to_server(&mut self, i: usize, incarnation: u32, event: ClientEvent) -> Step {
        if self.nodes[i].incarnation != incarnation {
            return Ok(());
        }
        self.with_core(i, |core, now| core.client(event, now))
    }

    pub(super) fn on_written(
        &mut self,
        i: usize,
        incarnation: u32,
        conn: ConnId,
        bytes: u64,
    ) -> Step {
        if self.nodes[i].incarnation != incarnation {
            return Ok(());
        }
        let event = ClientEvent::Written { conn, bytes };
        self.with_core(i, |core, now| core.client(event, now))
    }

    /// After every event on server `i`: send what it sent, schedule its disk's work, record
    /// its changes, and check it.
    pub(super) fn after(&mut self, i: usize) -> Step {
        let Some(core) = self.nodes[i].core.as_mut() else {
            return Ok(());
        };
        core.drain_peer_frames(&mut self.frames);
        core.drain_effects(&mut self.effects);
        let changes = core.replica.app.take_changes();
        self.changes.record(changes);
        let storage = core.replica.storage_mut();
        let (fsync, snapshot) = (storage.wants_fsync(), storage.wants_snapshot_write());
        self.schedule_disk(i, fsync, snapshot);
        for (to, frame) in std::mem::take(&mut self.frames) {
            self.send_frame(i, to as usize - 1, frame);
        }
        for effect in std::mem::take(&mut self.effects) {
            self.carry_out(i, effect);
        }
        self.check_server(i)
    }

    fn schedule_disk(&mut self, i: usize, fsync: bool, snapshot: bool) {
        let incarnation = self.nodes[i].incarnation;
        if fsync && !self.nodes[i].fsync_scheduled {
            self.nodes[i].fsync_scheduled = true;
            let delay = self.rng.between(100, self.opts.fsync_max);
            self.schedule(delay, Event::Fsync(i, incarnation));
        }
        if snapshot && !self.nodes[i].snapshot_scheduled {
            self.nodes[i].snapshot_scheduled = true;
            let delay = self.rng.between(1_000, 50_000);
            self.schedule(delay, Event::SnapshotWrite(i, incarnation));
        }
    }

    /// A frame from server `from` to server `to`: in order on its link, and for Zab's
    /// messages perhaps lost, duplicated or reordered.
    fn send_frame(&mut self, from: usize, to: usize, frame: PeerFrame) {
        self.report.peer_frames += 1;
        let zab = matches!(frame, PeerFrame::Zab(_));
        if self.faults_on && zab && self.rng.chance(self.opts.zab_drop_rate) {
            self.report.peer_frames_lost += 1;
            return;
        }
        let copies = if self.faults_on && zab && self.rng.chance(self.opts.zab_duplicate_rate) {
            2
        } else {
            1
        };
        let overtake = self.faults_on && zab && self.opts.zab_reorder;
        let generation = self.links.generation(from, to);
        for _ in 0..copies {
            let delay = self.rng.between(50, self.opts.delay_max);
            let at = self.links.arrival(from, to, self.now, delay, overtake);
            let event = Event::Frame {
                from,
                to,
                generation,
                frame: frame.clone(),
            };
            self.schedule_at(at, event);
        }
    }

    /// What a server's core decided for one of its client connections.
    fn carry_out(&mut self, i: usize, effect: ClientEffect) {
        match effect {
            ClientEffect::Send { conn, frame } => self.server_sends(i, conn, frame),
            ClientEffect::Grant { conn, credit } => {
                if let Some(&(client, which)) = self.owners.get(&(i, conn)) {
                    if let Some(c) = self.clients[client].conn_mut(which) {
                        c.credit.add(credit);
                    }
                    self.send_held(client, which);
                }
            }
            ClientEffect::Close { conn, .. } => {
                if let Some((client, which)) = self.owners.remove(&(i, conn)) {
                    let delay = self.rng.between(100, self.opts.delay_max);
                    let at = self.client_arrival(client, which, delay);
                    let closed = Event::Closed {
                        client,
                        which,
                        server: i,
                        conn,
                    };
                    self.schedule_at(at, closed);
                }
            }
        }
    }

    /// Bytes for a client: written and delivered if it reads, left unread if it does not.
    fn server_sends(&mut self, i: usize, conn: ConnId, frame: Bytes) {
        let Some(&(client, which)) = self.owners.get(&(i, conn)) else {
            return;
        };
        self.report.client_frames += 1;
        let reading = self.clients[client].reading;
        let Some(c) = self.clients[client].conn_mut(which) else {
            return;
        };
        if !reading || !c.unread.is_empty() {
            c.unread.push_back(frame);
            return;
        }
        self.deliver_to_client(i, client, which, conn, frame);
    }

    /// The writer writes `frame` (the core hears so) and the client gets it a little later.
    pub(super) fn deliver_to_client(
        &mut self,
        i: usize,
        client: usize,
        which: Which,
        conn: ConnId,
        frame: Bytes,
    ) {
        let incarnation = self.nodes[i].incarnation;
        let bytes = frame.len() as u64;
        let written = self.rng.between(10, 500);
        self.schedule(
            written,
            Event::Written {
                node: i,
                incarnation,
                conn,
                bytes,
            },
        );
        let delay = self.rng.between(50, self.opts.delay_max);
        let at = self.client_arrival(client, which, delay);
        self.schedule_at(
            at,
            Event::ToClient {
                client,
                which,
                server: i,
                conn,
                frame,
            },
        );
    }

    /// Frames to a client arrive in order: when the next one may arrive.
    fn client_arrival(&mut self, client: usize, which: Which, delay: u64) -> u64 {
        let now = self.now;
        match self.clients[client].conn_mut(which) {
            Some(c) => {
                let at = (now + delay).max(c.to_client_us);
                c.to_client_us = at;
                at
            }
            None => now + delay,
        }
    }

    /// The checks of one server after a step: the core counts as durable only what a crash
    /// would keep, equal digests at equal zxids, every client bound kept, no ephemeral
    /// outliving its session.
    fn check_server(&mut self, i: usize) -> Step {
        let Some(core) = self.nodes[i].core.as_ref() else {
            return Ok(());
        };
        let (counted, on_disk) = (
            core.replica.peer().durable_zxid(),
            core.replica.storage().durable_end(),
        );
        if counted > on_disk {
            return Err(violation(
                "durable",
                format!(
                    "server {} counts its history durable to {counted}, its disk holds it to {on_disk}",
                    i + 1
                ),
            ));
        }
        let state = &core.replica.app;
        let (zxid, digest) = (state.tree.last_zxid(), state.tree.digest());
        let expected = *self.digests.entry(zxid).or_insert(digest);
        if expected != digest {
            return Err(violation(
                "digests",
                format!(
                    "server {} has digest {digest:016x} at zxid {zxid:#x}, another had {expected:016x}",
                    i + 1
                ),
            ));
        }
        super::checks::bounds(state, &self.limits)
            .map_err(|e| violation("bounds", format!("server {}: {e}", i + 1)))?;
        super::checks::ephemerals(state)
            .map_err(|e| violation("ephemerals", format!("server {}: {e}", i + 1)))
    }

    pub(super) fn on_silence(&mut self, a: usize, b: usize, partition: u64) -> Step {
        if partition != self.links.partition_generation {
            return Ok(());
        }
        if !(self.links.blocked(a, b) || self.links.blocked(b, a)) {
            return Ok(());
        }
        self.links.break_link(a, b);
        let (ia, ib) = (self.nodes[a].id, self.nodes[b].id);
        self.with_core(a, |core, now| core.peer_disconnected(ib, now))?;
        self.with_core(b, |core, now| core.peer_disconnected(ia, now))
    }

    /// The leader's view, for traces and liveness reports.
    pub(super) fn roles(&self) -> String {
        self.nodes
            .iter()
            .map(|n| match &n.core {
                None => format!("s{}:down", n.id),
                Some(core) => format!(
                    "s{}:{}(e{}/{})@{:#x}",
                    n.id,
                    core.replica.phase().name(),
                    core.replica.peer().current_epoch().0,
                    core.replica.peer().accepted_epoch().0,
                    core.replica.app.tree.last_zxid()
                ),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether server `i` serves clients (an established leader or a follower in broadcast).
    pub(super) fn serving(&self, i: usize) -> bool {
        self.nodes[i].core.as_ref().is_some_and(|c| {
            matches!(
                c.replica.phase(),
                zab::Phase::LeadingBroadcast | zab::Phase::FollowingBroadcast
            )
        })
    }
}
