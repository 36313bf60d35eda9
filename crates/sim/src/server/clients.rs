//! The world's clients: what they do and when (bursts of pipelined requests, pings, moving
//! their session to another server and leaving a zombie behind, closing it, going silent until
//! it expires, not reading), and how their bytes travel to and from the servers.

use bytes::Bytes;
use proto::{ConnectRequest, Request, SetWatches2};
use server_core::clients::{ClientEvent, ConnId};

use super::client::{ClientConn, Heard, Which};
use super::options::MS;
use super::watches::NOT_YET;
use super::workload::{self, Planned, Purpose, WatchSpec};
use super::world::{violation, Event, Step, World};

impl World {
    pub(super) fn on_burst(&mut self, c: usize) -> Step {
        let interval = self.opts.client_interval;
        let next = self.rng.between(interval / 2, interval * 3 / 2);
        if self.healed_at.is_none() {
            self.schedule(next, Event::Burst(c));
        }
        if self.now < self.clients[c].silent_until {
            return Ok(());
        }
        if self.clients[c].main.is_none() {
            return self.connect(c, None);
        }
        if !self.clients[c].main.as_ref().is_some_and(|m| m.open) {
            return Ok(());
        }
        if self.healed_at.is_none() && self.rng.chance(0.04) {
            return self.misbehave(c);
        }
        let planned = self.plan(c);
        self.send(c, Which::Main, planned);
        self.zombie_writes(c);
        Ok(())
    }

    /// One burst: setup now and then, at most one register operation, and up to
    /// `pipeline_max` other requests, back to back.
    fn plan(&mut self, c: usize) -> Vec<Planned> {
        let mut planned = Vec::new();
        if self.rng.chance(0.05) || self.report.requests < 20 {
            planned.extend(workload::setup());
        }
        let size = self.rng.between(1, self.opts.pipeline_max as u64) as usize;
        let register_at = self.rng.below(size as u64) as usize;
        for k in 0..size {
            if k == register_at && !self.clients[c].register_busy {
                let tag = self.clients[c].next_value();
                planned.extend(workload::register(&mut self.rng, &tag));
            } else {
                planned.push(workload::other(&mut self.rng, c));
            }
        }
        planned
    }

    /// Something a careless or unlucky client does.
    fn misbehave(&mut self, c: usize) -> Step {
        let timeout = self.clients[c].session.map_or(2_000, |s| s.timeout_ms) as u64 * MS;
        match self.rng.below(5) {
            0 => self.move_session(c),
            1 => {
                self.report.sessions_closed += 1;
                let close = Planned {
                    request: Request::CloseSession,
                    purpose: Purpose::Plain,
                };
                self.send(c, Which::Main, vec![close]);
                Ok(())
            }
            2 => {
                // Silent for longer than the session lasts: it expires.
                self.clients[c].silent_until = self.now + timeout * self.rng.between(1, 3);
                Ok(())
            }
            3 => {
                // Stops reading; a later ping round may make it read again.
                self.clients[c].reading = false;
                self.report.stopped_reading += 1;
                Ok(())
            }
            _ => {
                // Drops its connection and comes back (to any server) with its session.
                self.drop_main(c);
                self.connect(c, None)
            }
        }
    }

    /// Resumes the session on another server, sometimes leaving the old connection open as a
    /// zombie whose writes must then fail (SESSIONMOVED).
    fn move_session(&mut self, c: usize) -> Step {
        let Some(from) = self.clients[c].main.as_ref().map(|m| m.server) else {
            return Ok(());
        };
        let servers = self.nodes.len();
        if servers < 2 {
            return Ok(());
        }
        self.report.moves += 1;
        let to = (from + 1 + self.rng.below(servers as u64 - 1) as usize) % servers;
        self.note("move", || format!("c{c} from s{} to s{}", from + 1, to + 1));
        if self.clients[c].zombie.is_none() && self.rng.chance(0.5) {
            let mut old = self.clients[c].main.take().expect("checked");
            old.session = self.clients[c].session.map(|s| s.id);
            if let Some(owner) = self.owners.get_mut(&(old.server, old.id)) {
                owner.1 = Which::Zombie;
            }
            self.clients[c].zombie = Some(old);
            self.clients[c].carried.clear();
        } else {
            self.drop_main(c);
        }
        self.connect(c, Some(to))
    }

    /// A zombie keeps writing for a while after its session moved.
    fn zombie_writes(&mut self, c: usize) {
        let Some(zombie) = self.clients[c].zombie.as_ref() else {
            return;
        };
        if !zombie.moved {
            return;
        }
        if self.rng.chance(0.3) {
            self.close_zombie(c);
            return;
        }
        let write = Planned {
            request: Request::SetData(proto::SetDataRequest {
                path: "/n/a".into(),
                data: Some(Bytes::from_static(b"zombie")),
                version: -1,
            }),
            purpose: Purpose::Plain,
        };
        self.send(c, Which::Zombie, vec![write]);
    }

    fn close_zombie(&mut self, c: usize) {
        if let Some(zombie) = self.clients[c].zombie.as_ref() {
            let (server, conn) = (zombie.server, zombie.id);
            self.client_closes(c, Which::Zombie, server, conn);
        }
    }

    /// The client closes its main connection (its session lives on).
    fn drop_main(&mut self, c: usize) {
        if let Some(main) = self.clients[c].main.as_ref() {
            let (server, conn) = (main.server, main.id);
            self.client_closes(c, Which::Main, server, conn);
        }
    }

    fn client_closes(&mut self, c: usize, which: Which, server: usize, conn: ConnId) {
        self.owners.remove(&(server, conn));
        let incarnation = self.nodes[server].incarnation;
        let delay = self.rng.between(50, self.opts.delay_max);
        self.schedule(
            delay,
            Event::ToServer {
                node: server,
                incarnation,
                event: ClientEvent::Closed { conn },
            },
        );
        let (now, history) = (self.now, &mut self.history);
        self.clients[c].on_closed(which, now, history);
    }

    /// Opens a connection (to `to`, or a server at random) with the client's session, if any.
    pub(super) fn connect(&mut self, c: usize, to: Option<usize>) -> Step {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].core.is_some())
            .collect();
        if up.is_empty() {
            return Ok(());
        }
        let server = to
            .filter(|s| up.contains(s))
            .unwrap_or_else(|| up[self.rng.below(up.len() as u64) as usize]);
        let conn = self.nodes[server].next_conn();
        self.owners.insert((server, conn), (c, Which::Main));
        self.note("connect", || format!("c{c} s{}/{conn}", server + 1));
        let client = &mut self.clients[c];
        client.main = Some(ClientConn::new(server, conn, &self.limits));
        let session = client.session.map_or(0, |s| s.id);
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: client.last_zxid_seen,
            timeout: 400 + (c as i32 % 4) * 400,
            session_id: session,
            passwd: Bytes::copy_from_slice(&server_core::session::password(session)),
            // Odd clients accept a read-only server when the run has read-only mode.
            read_only: self.opts.read_only && c % 2 == 1,
        };
        let remote = format!("10.0.{}.{}:4000", c / 200, c % 200 + 1)
            .parse()
            .expect("an address");
        self.send_to_server(c, Which::Main, ClientEvent::Accepted { conn, remote });
        self.send_to_server(c, Which::Main, ClientEvent::Connect { conn, request });
        Ok(())
    }

    /// Bytes of a client's connection reach its server, in order.
    fn send_to_server(&mut self, c: usize, which: Which, event: ClientEvent) {
        let delay = self.rng.between(50, self.opts.delay_max);
        let now = self.now;
        let Some(conn) = self.clients[c].conn_mut(which) else {
            return;
        };
        let at = (now + delay).max(conn.arrival_us);
        conn.arrival_us = at;
        let node = conn.server;
        let incarnation = self.nodes[node].incarnation;
        self.schedule_at(
            at,
            Event::ToServer {
                node,
                incarnation,
                event,
            },
        );
    }

    /// Queues requests on a connection and sends what its credit allows.
    pub(super) fn send(&mut self, c: usize, which: Which, planned: Vec<Planned>) {
        let (now, history) = (self.now, &mut self.history);
        let packets = self.clients[c].enqueue(which, planned, now, history);
        self.transmit(c, which, packets);
    }

    /// Sends what the connection's credit allows of what waits.
    pub(super) fn send_held(&mut self, c: usize, which: Which) {
        let packets = self.clients[c].release(which);
        self.transmit(c, which, packets);
    }

    fn transmit(&mut self, c: usize, which: Which, packets: Vec<(proto::RequestPacket, u32)>) {
        let Some(conn) = self.clients[c].conn_mut(which).map(|c| c.id) else {
            return;
        };
        for (packet, bytes) in packets {
            self.report.requests += 1;
            let server = self.clients[c].conn_mut(which).map_or(0, |k| k.server);
            self.note("request", || {
                format!(
                    "c{c} {which:?} s{}/{conn} xid {} {:?}",
                    server + 1,
                    packet.header.xid,
                    packet.request.opcode()
                )
            });
            self.send_to_server(
                c,
                which,
                ClientEvent::Request {
                    conn,
                    packet,
                    bytes,
                },
            );
        }
    }

    pub(super) fn on_ping(&mut self, c: usize) -> Step {
        let timeout = self.clients[c].session.map_or(1_000, |s| s.timeout_ms) as u64 * MS;
        self.schedule((timeout / 3).max(50 * MS), Event::Ping(c));
        if self.now < self.clients[c].silent_until {
            return Ok(());
        }
        if !self.clients[c].reading && self.rng.chance(0.5) {
            self.resume_reading(c);
        }
        if self.clients[c].main.as_ref().is_some_and(|m| m.open) {
            let ping = Planned {
                request: Request::Ping,
                purpose: Purpose::Plain,
            };
            self.send(c, Which::Main, vec![ping]);
        }
        Ok(())
    }

    /// A client that stopped reading reads again: what waited is written and delivered.
    pub(super) fn resume_reading(&mut self, c: usize) {
        self.clients[c].reading = true;
        for which in [Which::Main, Which::Zombie] {
            let Some(conn) = self.clients[c].conn_mut(which) else {
                continue;
            };
            let (server, id) = (conn.server, conn.id);
            let frames: Vec<Bytes> = conn.unread.drain(..).collect();
            if self.owners.get(&(server, id)) != Some(&(c, which)) {
                continue;
            }
            for frame in frames {
                self.deliver_to_client(server, c, which, id, frame);
            }
        }
    }

    /// Which of client `c`'s connections is (`server`, `conn`) now (a main connection may
    /// have become a zombie while frames for it were on their way).
    fn which_conn(&mut self, c: usize, server: usize, conn: ConnId) -> Option<Which> {
        [Which::Main, Which::Zombie].into_iter().find(|&which| {
            self.clients[c]
                .conn_mut(which)
                .is_some_and(|k| (k.server, k.id) == (server, conn))
        })
    }

    pub(super) fn on_to_client(
        &mut self,
        c: usize,
        _sent_to: Which,
        (server, conn): (usize, ConnId),
        frame: Bytes,
    ) -> Step {
        let Some(which) = self.which_conn(c, server, conn) else {
            return Ok(());
        };
        if self.trace.on() {
            let head: Vec<String> = frame
                .get(4..20)
                .map(|b| b.chunks(4).map(|w| format!("{w:02x?}")).collect())
                .unwrap_or_default();
            self.note("frame", || {
                format!("c{c} {which:?} s{}/{conn} {}", server + 1, head.join(" "))
            });
        }
        let (now, history, changes) = (self.now, &mut self.history, &self.changes);
        let heard = self.clients[c].on_frame(which, frame, now, changes, history);
        let heard = heard.map_err(|e| {
            let server_view = self.describe_conn(server, conn);
            violation(
                "client",
                format!(
                    "client {c} ({which:?}, s{}/{conn}): {e} [server: {server_view}]",
                    server + 1
                ),
            )
        })?;
        match heard {
            Heard::Connected => {
                if self.clients[c].conn_mut(which).is_some_and(|k| k.read_only) {
                    self.report.read_only_sessions += 1;
                }
                self.connected(c, which)
            }
            Heard::Expired => {
                self.report.sessions_expired += 1;
                self.clients[c].forget_session();
                Ok(())
            }
            Heard::Reply | Heard::Notification => Ok(()),
        }
    }

    /// The session is (re)established on `which`: watches carried over are set again, a
    /// zombie left behind starts counting as moved, and what waited is sent.
    fn connected(&mut self, c: usize, which: Which) -> Step {
        if which == Which::Main {
            let session = self.clients[c].session.map(|s| s.id);
            if let Some(zombie) = self.clients[c].zombie.as_mut() {
                // Its session moved only if the new connection resumed that same session (not
                // a new one after it expired).
                zombie.moved |= zombie.session.is_some() && zombie.session == session;
            }
            let carried = std::mem::take(&mut self.clients[c].carried);
            if !carried.is_empty() {
                self.set_watches_again(c, carried);
            }
        }
        self.send_held(c, which);
        Ok(())
    }

    /// setWatches on the new connection: one-shot data and child watches are due from the
    /// last zxid the client saw (the server fires what changed since); exist and persistent
    /// watches from the setWatches reply on (ZooKeeper re-adds them without looking back).
    fn set_watches_again(&mut self, c: usize, carried: Vec<(WatchSpec, i64)>) {
        let relative = self.clients[c].last_zxid_seen;
        let mut request = SetWatches2 {
            relative_zxid: relative,
            data_watches: vec![],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec![],
            persistent_recursive_watches: vec![],
        };
        let Some(main) = self.clients[c].main.as_mut() else {
            return;
        };
        for (watch, _) in carried {
            let since = match &watch {
                WatchSpec::Data(p) => {
                    request.data_watches.push(p.clone());
                    relative
                }
                WatchSpec::Child(p) => {
                    request.child_watches.push(p.clone());
                    relative
                }
                WatchSpec::Exist(p) => {
                    request.exist_watches.push(p.clone());
                    NOT_YET
                }
                WatchSpec::Persistent(p) => {
                    request.persistent_watches.push(p.clone());
                    NOT_YET
                }
                WatchSpec::Recursive(p) => {
                    request.persistent_recursive_watches.push(p.clone());
                    NOT_YET
                }
            };
            main.watches.add_pending(watch, since);
        }
        let planned = Planned {
            request: Request::SetWatches2(request),
            purpose: Purpose::SetWatches,
        };
        self.send(c, Which::Main, vec![planned]);
    }

    pub(super) fn on_closed(
        &mut self,
        c: usize,
        _sent_to: Which,
        (server, conn): (usize, ConnId),
    ) -> Step {
        let Some(which) = self.which_conn(c, server, conn) else {
            return Ok(());
        };
        self.report.connections_closed += 1;
        self.note("closed", || {
            format!("c{c} {which:?} s{}/{conn}", server + 1)
        });
        let (now, history) = (self.now, &mut self.history);
        self.clients[c].on_closed(which, now, history);
        if which == Which::Main {
            // Come back, to any server, with the session (it may have expired meanwhile).
            let delay = self.rng.between(10 * MS, 300 * MS);
            self.schedule(delay, Event::Reconnect(c));
        }
        Ok(())
    }

    /// What server `server` holds for connection `conn` (for violation reports).
    fn describe_conn(&self, server: usize, conn: ConnId) -> String {
        let Some(core) = self.nodes[server].core.as_ref() else {
            return "down".into();
        };
        let Some(k) = core.replica.app.clients.get(conn) else {
            return "no such connection".into();
        };
        let items: Vec<String> = k
            .queue
            .iter()
            .take(12)
            .map(|item| format!("{item:?}").chars().take(60).collect())
            .collect();
        format!(
            "stage {:?}, computed {}, {} queued: {}",
            k.stage,
            k.computed,
            k.queue.len(),
            items.join(" | ")
        )
    }

    pub(super) fn on_reconnect(&mut self, c: usize) -> Step {
        if self.clients[c].main.is_some() || self.now < self.clients[c].silent_until {
            return Ok(());
        }
        self.connect(c, None)
    }
}
