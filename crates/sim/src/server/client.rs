//! A simulated client: one ZooKeeper session at a time, on one connection (plus, now and then,
//! a "zombie": the connection its session left, still sending writes). It pipelines what the
//! workload plans, spends and earns credit as the real connection reader does, and checks every
//! frame it receives: replies in request order with zxids that never go back, notifications
//! that were asked for and arrive before any reply that covers their change.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use chaos::{Kind, OpKind};
use proto::{
    ConnectResponse, Decode, Encode, ErrorCode, OpCode, ReplyHeader, Request, RequestPacket,
    Response, WatcherEvent,
};
use server_core::clients::{ConnId, Credit};
use server_core::limits::Limits;

use super::history::History;
use super::watches::{ChangeLog, HeldWatches};
use super::workload::{Planned, Purpose, RegisterOp, WatchSpec};

/// Which of a client's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Main,
    /// The connection the session moved away from.
    Zombie,
}

/// A request sent and not answered.
#[derive(Debug)]
pub struct Pending {
    pub xid: i32,
    pub op: OpCode,
    pub purpose: Purpose,
    /// The history operation it completes.
    pub history: Option<u64>,
    /// A write sent on a zombie connection after its session moved: it must not succeed.
    pub after_move: bool,
}

/// One connection of a client.
#[derive(Debug)]
pub struct ClientConn {
    pub server: usize,
    pub id: ConnId,
    /// The ConnectResponse arrived.
    pub open: bool,
    pub pending: VecDeque<Pending>,
    /// What the reader may still take.
    pub credit: Credit,
    /// Planned requests waiting for credit, with their xids.
    pub held: VecDeque<(i32, Planned, Option<u64>)>,
    pub last_zxid: i64,
    pub watches: HeldWatches,
    /// Requests arrive at the server in order: the arrival time of the last one.
    pub arrival_us: u64,
    /// Frames the server sent that the client has not read (it stopped reading).
    pub unread: VecDeque<Bytes>,
    /// Frames arrive at the client in order: the arrival time of the last one.
    pub to_client_us: u64,
    /// A zombie: the session it holds (`session`) moved away.
    pub moved: bool,
    /// A zombie: its session.
    pub session: Option<i64>,
    /// The server said it is read-only (the ConnectResponse's flag).
    pub read_only: bool,
}

impl ClientConn {
    pub fn new(server: usize, id: ConnId, limits: &Limits) -> ClientConn {
        ClientConn {
            server,
            id,
            open: false,
            pending: VecDeque::new(),
            credit: Credit {
                requests: limits.max_requests_per_connection,
                bytes: limits.max_request_bytes_per_connection,
            },
            held: VecDeque::new(),
            last_zxid: 0,
            watches: HeldWatches::default(),
            arrival_us: 0,
            unread: VecDeque::new(),
            to_client_us: 0,
            moved: false,
            session: None,
            read_only: false,
        }
    }
}

/// The session a client holds.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    pub id: i64,
    pub timeout_ms: i32,
}

/// What a frame told the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// The session is established (or resumed) on the connection.
    Connected,
    /// The session is gone: the client starts a new one.
    Expired,
    Reply,
    Notification,
}

/// A simulated client.
#[derive(Debug)]
pub struct SimClient {
    pub index: usize,
    pub session: Option<Session>,
    pub main: Option<ClientConn>,
    pub zombie: Option<ClientConn>,
    /// The chaos history's session number: one per ZooKeeper session.
    pub history_session: u32,
    sessions_started: u32,
    pub next_xid: i32,
    /// The highest zxid any reply carried (sent as lastZxidSeen on reconnect).
    pub last_zxid_seen: i64,
    /// A register operation is in flight (one at a time keeps the history checkable).
    pub register_busy: bool,
    /// Whether the client reads what the server sends.
    pub reading: bool,
    /// Sends nothing, pings included, until then (the session may expire).
    pub silent_until: u64,
    /// Watches to set again on the next connection (setWatches), with their points.
    pub carried: Vec<(WatchSpec, i64)>,
    values: u64,
}

impl SimClient {
    pub fn new(index: usize) -> SimClient {
        SimClient {
            index,
            session: None,
            main: None,
            zombie: None,
            history_session: 0,
            sessions_started: 0,
            next_xid: 1,
            last_zxid_seen: 0,
            register_busy: false,
            reading: true,
            silent_until: 0,
            carried: Vec::new(),
            values: 0,
        }
    }

    pub fn conn_mut(&mut self, which: Which) -> Option<&mut ClientConn> {
        match which {
            Which::Main => self.main.as_mut(),
            Which::Zombie => self.zombie.as_mut(),
        }
    }

    /// A fresh value to write.
    pub fn next_value(&mut self) -> String {
        self.values += 1;
        format!("c{}-{}", self.index, self.values)
    }

    /// Assigns xids to `planned`, records register invocations, and queues them on `which`.
    /// Returns the packets that may go now (credit allowing), with their frame sizes.
    pub fn enqueue(
        &mut self,
        which: Which,
        planned: Vec<Planned>,
        now_us: u64,
        history: &mut History,
    ) -> Vec<(RequestPacket, u32)> {
        let session = self.history_session;
        for plan in planned {
            let xid = match plan.request {
                Request::Ping => proto::xid::PING,
                Request::Auth(_) => proto::xid::AUTH,
                _ => {
                    self.next_xid += 1;
                    self.next_xid
                }
            };
            let op = match &plan.purpose {
                Purpose::Register { path, op } => {
                    self.register_busy = true;
                    Some(invoke(history, now_us, session, path, op))
                }
                _ => None,
            };
            if let Some(conn) = self.conn_mut(which) {
                conn.held.push_back((xid, plan, op));
            }
        }
        self.release(which)
    }

    /// Sends what credit allows of the held requests, in order.
    pub fn release(&mut self, which: Which) -> Vec<(RequestPacket, u32)> {
        let Some(conn) = self.conn_mut(which) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !conn.open {
            // Requests may follow the ConnectRequest before its answer (the server queues
            // them), but the first burst waits for it so that it knows its session.
            return out;
        }
        while let Some((xid, plan, _)) = conn.held.front() {
            let packet = RequestPacket::new(*xid, plan.request.clone());
            let bytes = frame_len(&packet);
            if conn.credit.requests < 1 || conn.credit.bytes < bytes {
                break;
            }
            conn.credit.sub(Credit::request(bytes));
            let (xid, plan, history) = conn.held.pop_front().expect("checked");
            conn.pending.push_back(Pending {
                xid,
                op: plan.request.opcode(),
                after_move: conn.moved && is_write(&plan.request),
                purpose: plan.purpose,
                history,
            });
            out.push((packet, bytes));
        }
        out
    }

    /// A frame from the server on `which`. Errs with what the server got wrong.
    pub fn on_frame(
        &mut self,
        which: Which,
        frame: Bytes,
        now_us: u64,
        changes: &ChangeLog,
        history: &mut History,
    ) -> Result<Heard, String> {
        let Some(conn) = self.conn_mut(which) else {
            return Ok(Heard::Reply);
        };
        let mut body = frame.slice(4..);
        if !conn.open {
            let response = ConnectResponse::decode(&mut body)
                .map_err(|e| format!("a ConnectResponse that does not decode: {e}"))?;
            if response.session_id == 0 || response.timeout <= 0 {
                return Ok(Heard::Expired);
            }
            conn.open = true;
            conn.read_only = response.read_only;
            self.on_connected(which, response);
            return Ok(Heard::Connected);
        }
        let header = ReplyHeader::decode(&mut body)
            .map_err(|e| format!("a reply header that does not decode: {e}"))?;
        if header.xid == proto::xid::NOTIFICATION {
            let event = WatcherEvent::decode(&mut body)
                .map_err(|e| format!("a notification that does not decode: {e}"))?;
            conn.watches
                .notified(event.event_type, &event.path, header.zxid)?;
            return Ok(Heard::Notification);
        }
        self.on_reply(which, header, body, now_us, changes, history)?;
        Ok(Heard::Reply)
    }

    fn on_connected(&mut self, which: Which, response: ConnectResponse) {
        if which == Which::Main {
            let resumed = self.session.is_some_and(|s| s.id == response.session_id);
            if !resumed {
                // One history session per ZooKeeper session, unique over the clients.
                self.sessions_started += 1;
                self.history_session = ((self.index as u32) << 16) | self.sessions_started;
                self.register_busy = false;
            }
            self.session = Some(Session {
                id: response.session_id,
                timeout_ms: response.timeout,
            });
        }
    }

    fn on_reply(
        &mut self,
        which: Which,
        header: ReplyHeader,
        body: Bytes,
        now_us: u64,
        changes: &ChangeLog,
        history: &mut History,
    ) -> Result<(), String> {
        let conn = self.conn_mut(which).expect("the frame came on it");
        let Some(front) = conn.pending.pop_front() else {
            return Err(format!("a reply to xid {} nobody waits for", header.xid));
        };
        if front.xid != header.xid {
            return Err(format!(
                "replies out of order: got xid {} while xid {} ({:?}) was first in line",
                header.xid, front.xid, front.op
            ));
        }
        if header.zxid < conn.last_zxid {
            return Err(format!(
                "a reply's zxid went back: {:#x} after {:#x}",
                header.zxid, conn.last_zxid
            ));
        }
        conn.last_zxid = header.zxid;
        if front.purpose == Purpose::SetWatches {
            // Refused (an expired session), it set nothing.
            conn.watches.settle(header.zxid, header.err == 0);
        }
        conn.watches.check_reply(header.zxid, changes)?;
        let read_only = conn.read_only;
        if read_only {
            check_read_only(front.op, &header)?;
        }
        if front.after_move && header.err == 0 {
            return Err(format!(
                "a write (xid {}) from a connection whose session had moved to another server succeeded",
                front.xid
            ));
        }
        if let Purpose::Watch { watch, always } = &front.purpose {
            if header.err == 0 || (*always && header.err == ErrorCode::NoNode.as_i32()) {
                let watch = match watch {
                    WatchSpec::Data(p) if header.err != 0 => WatchSpec::Exist(p.clone()),
                    other => other.clone(),
                };
                conn.watches.add(watch, header.zxid);
            }
        }
        self.last_zxid_seen = self.last_zxid_seen.max(header.zxid);
        if let (Purpose::Register { op, .. }, Some(id)) = (&front.purpose, front.history) {
            self.register_busy = false;
            if read_only {
                // Answered from a server cut off from the quorum: sequentially consistent at
                // best, never linearizable (a sync there is refused), so not a register op.
                history.complete(id, now_us, Kind::Fail, |e| {
                    e.error = Some("read-only".into())
                });
            } else {
                complete(history, id, now_us, op, front.op, &header, body);
            }
        }
        Ok(())
    }

    /// The connection closed: what it had in flight is indeterminate, its watches are kept
    /// to be set again on the next connection.
    pub fn on_closed(&mut self, which: Which, now_us: u64, history: &mut History) {
        let conn = match which {
            Which::Main => self.main.take(),
            Which::Zombie => self.zombie.take(),
        };
        let Some(mut conn) = conn else { return };
        for pending in conn.pending.drain(..) {
            if let Some(id) = pending.history {
                history.complete(id, now_us, Kind::Info, |e| {
                    e.error = Some("connection-loss".into())
                });
            }
        }
        for (_, _, id) in conn.held.drain(..) {
            if let Some(id) = id {
                history.complete(id, now_us, Kind::Info, |e| {
                    e.error = Some("connection-loss".into())
                });
            }
        }
        if which == Which::Main {
            self.register_busy = false;
            if conn.open {
                self.carried = conn.watches.take().into_iter().collect();
            }
        }
    }

    /// The session expired (or was closed): a new one starts with nothing carried.
    pub fn forget_session(&mut self) {
        self.session = None;
        self.carried.clear();
        self.register_busy = false;
    }

    /// Whether requests wait for credit on any connection.
    pub fn held(&self) -> bool {
        let held = |c: &Option<ClientConn>| c.as_ref().is_some_and(|c| !c.held.is_empty());
        held(&self.main) || held(&self.zombie)
    }

    /// Requests sent and not answered, on any connection.
    pub fn in_flight(&self) -> usize {
        let count = |c: &Option<ClientConn>| c.as_ref().map_or(0, |c| c.pending.len());
        count(&self.main) + count(&self.zombie)
    }
}

/// A request's frame length, prefix included (the credit it takes).
pub fn frame_len(packet: &RequestPacket) -> u32 {
    let mut buf = BytesMut::new();
    packet.encode(&mut buf);
    buf.len() as u32 + 4
}

/// What a read-only server may answer: never a write or a sync as done (ZooKeeper answers
/// them NOT_READONLY). That its reads come from committed transactions only is the replicas'
/// own invariant (a server applies only what a quorum committed), checked on every step.
fn check_read_only(op: OpCode, header: &ReplyHeader) -> Result<(), String> {
    use OpCode::*;
    let changes = matches!(
        op,
        Create
            | Create2
            | CreateContainer
            | CreateTtl
            | Delete
            | SetData
            | SetAcl
            | Check
            | Multi
            | Sync
            | Reconfig
    );
    if changes && header.err != ErrorCode::NotReadOnly.as_i32() {
        return Err(format!(
            "a read-only server answered {op:?} (xid {}) with {} instead of NOT_READONLY",
            header.xid, header.err
        ));
    }
    Ok(())
}

fn is_write(request: &Request) -> bool {
    tree::prep::is_write(request)
}

fn invoke(history: &mut History, now_us: u64, session: u32, path: &str, op: &RegisterOp) -> u64 {
    match op {
        RegisterOp::Read => history.invoke(now_us, session, OpKind::Read, path, |_| {}),
        RegisterOp::SyncRead => history.invoke(now_us, session, OpKind::SyncRead, path, |_| {}),
        RegisterOp::Write { value } => history.invoke(now_us, session, OpKind::Write, path, |e| {
            e.value = Some(value.clone())
        }),
        RegisterOp::Cas { value, version } => {
            history.invoke(now_us, session, OpKind::Cas, path, |e| {
                e.value = Some(value.clone());
                e.version = Some(*version);
            })
        }
    }
}

/// Completes a register operation from its reply.
fn complete(
    history: &mut History,
    id: u64,
    now_us: u64,
    op: &RegisterOp,
    opcode: OpCode,
    header: &ReplyHeader,
    mut body: Bytes,
) {
    if header.err != 0 {
        let error = match ErrorCode::try_from(header.err) {
            Ok(ErrorCode::BadVersion) => "bad-version".to_string(),
            Ok(code) => format!("{code:?}"),
            Err(_) => header.err.to_string(),
        };
        return history.complete(id, now_us, Kind::Fail, |e| e.error = Some(error));
    }
    let response = Response::decode_body(opcode, 0, &mut body);
    let (value, stat) = match (op, response) {
        (RegisterOp::Read | RegisterOp::SyncRead, Ok(Response::GetData(r))) => {
            let value = r
                .data
                .map(|d| String::from_utf8_lossy(d.chunk()).into_owned());
            (Some(value.unwrap_or_default()), r.stat)
        }
        (RegisterOp::Write { .. } | RegisterOp::Cas { .. }, Ok(Response::Stat(stat))) => {
            (None, stat)
        }
        _ => {
            return history.complete(id, now_us, Kind::Info, |e| {
                e.error = Some("undecodable reply".into())
            })
        }
    };
    history.complete(id, now_us, Kind::Ok, |e| {
        e.value = value;
        e.version = Some(stat.version);
        e.zxid = Some(stat.mzxid);
    });
}
