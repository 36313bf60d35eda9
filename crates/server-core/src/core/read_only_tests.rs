//! Read-only mode through the core's entry points: a member of a three-server ensemble whose
//! peers are silent turns read-only after the grace, serves read-only clients (pipelined, as
//! real clients send), refuses the rest, and leaves the mode when a peer comes back and a
//! leader is elected (two cores wired to each other by hand).

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use proto::{
    Acl, ConnectRequest, ConnectResponse, CreateRequest, Decode, GetDataRequest, ReplyHeader,
    Request, RequestPacket,
};
use zab::{Epoch, ServerId, Snapshot, Txn, Zxid};

use super::Core;
use crate::clients::{ClientEffect, ClientEvent, ConnId};
use crate::clock::Now;
use crate::config::{Config, Member};
use crate::replica::{FrozenSnapshot, Recovered, Replica, ReplicaOptions, Storage, StorageEvent};
use crate::session::{password, SessionIds};
use crate::state::ServerState;

/// A disk that keeps nothing and reports every append durable when asked.
#[derive(Default)]
struct MemoryDisk {
    appended: Option<Zxid>,
}

impl Storage for MemoryDisk {
    fn store_accepted_epoch(&mut self, _: Epoch, _: ServerId) -> Result<(), storage::StorageError> {
        Ok(())
    }
    fn store_current_epoch(&mut self, _: Epoch) -> Result<(), storage::StorageError> {
        Ok(())
    }
    fn append(&mut self, txns: Vec<Txn>) {
        if let Some(last) = txns.last() {
            self.appended = Some(last.zxid);
        }
    }
    fn truncate(&mut self, _: Zxid) -> Result<(), storage::StorageError> {
        Ok(())
    }
    fn install_snapshot(&mut self, _: &Snapshot) -> Result<(), storage::StorageError> {
        Ok(())
    }
    fn save_snapshot(&mut self, _: FrozenSnapshot) {}
    fn serialize_for_peer(&mut self, _: ServerId, _: FrozenSnapshot) {
        unreachable!("these servers sync by DIFF: they start with the same history")
    }
    fn read_for_peer(&mut self, _: ServerId, _: Zxid, _: Zxid) {
        unreachable!("these servers sync from memory: their histories are short")
    }
    fn purge_through(&mut self, _: Zxid) {}
}

const TICK_MS: u64 = 200;

fn member(id: u64) -> Member {
    Member {
        id,
        host: "127.0.0.1".into(),
        peer_port: 1,
        election_port: 2,
        observer: false,
    }
}

/// Server `id` of a three-server ensemble with read-only mode enabled, holding `/a`.
fn server(id: u64) -> Core<MemoryDisk> {
    let mut config = Config::standalone("/nonexistent".into(), 0);
    config.members = (1..=3).map(member).collect();
    config.my_id = id;
    config.read_only_enabled = true;
    config.local_sessions_enabled = true;
    config.four_letter_words = vec!["*".into()];
    config.tick_time = std::time::Duration::from_millis(TICK_MS);
    let mut zab = zab::Config::new(ServerId(id), (1..=3).map(ServerId).collect());
    zab.init_limit = 10;
    zab.sync_limit = 5;
    let options = ReplicaOptions {
        activated: zab::Zxid::ZERO,
        zab,
        snap_count: 1_000_000,
        snap_retain: 3,
        log_options: storage::LogOptions::default(),
        nonce: id,
    };
    let recovered = Recovered {
        epochs: Default::default(),
        snapshot: None,
        log: Vec::new(),
    };
    let mut state = ServerState::new(config.limits.clone(), SessionIds::new(id, 1_000));
    add_node(&mut state, "/a", b"x");
    let replica = Replica::start(
        options,
        recovered,
        state,
        MemoryDisk::default(),
        Default::default(),
    )
    .expect("a replica");
    Core::new(config, replica).expect("a core")
}

/// Puts a node in the tree as applied transactions would (the state "last applied"): a
/// session is opened first, as prep wants one.
fn add_node(state: &mut ServerState, path: &str, data: &[u8]) {
    let session = 0x0300_0000_0000_0001;
    let opened = zab::Zxid::new(0, 1);
    let txn = tree::prep::prep_create_session(&mut state.outstanding, session, 10_000, opened);
    apply(state, opened, session, txn);
    let zxid = zab::Zxid::new(0, 2);
    let request = Request::Create(CreateRequest {
        data: Some(Bytes::copy_from_slice(data)),
        ..create(path)
    });
    let ctx = tree::prep::PrepCtx {
        zxid,
        session_id: session,
        auth: &[],
        extended_types: false,
        skip_acl: false,
        local_session: false,
    };
    let txn = tree::prep::prep(&state.tree, &mut state.outstanding, &request, &ctx).expect("prep");
    apply(state, zxid, session, txn);
    state.outstanding.clear();
}

fn apply(state: &mut ServerState, zxid: Zxid, session_id: i64, txn: tree::Txn) {
    let header = tree::TxnHeader {
        zxid,
        time_ms: 0,
        session_id,
        cxid: 0,
    };
    state.tree.apply(&tree::TxnRecord::new(header, txn));
}

fn create(path: &str) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    }
}

/// One server driven by hand, with what each connection was sent.
struct Driver {
    core: Core<MemoryDisk>,
    now: Now,
    sent: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeMap<ConnId, bool>,
}

impl Driver {
    fn new(id: u64) -> Driver {
        Driver {
            core: server(id),
            now: Now {
                mono_us: 1_000_000,
                wall_ms: 1_700_000_000_000,
            },
            sent: BTreeMap::new(),
            closed: BTreeMap::new(),
        }
    }

    fn collect(&mut self) {
        let mut effects = Vec::new();
        self.core.drain_effects(&mut effects);
        for effect in effects {
            match effect {
                ClientEffect::Send { conn, frame } => {
                    self.sent.entry(conn).or_default().extend_from_slice(&frame)
                }
                ClientEffect::Close { conn, flush } => {
                    self.closed.insert(conn, flush);
                }
                ClientEffect::Grant { .. } => {}
            }
        }
    }

    fn tick(&mut self) {
        self.now.mono_us += TICK_MS * 1000;
        self.core.tick(self.now).expect("tick");
        self.core.expire(self.now).expect("expire");
        self.collect();
    }

    fn client(&mut self, event: ClientEvent) {
        self.core.client(event, self.now).expect("client event");
        self.collect();
    }

    /// Opens connection `conn` and sends its ConnectRequest.
    fn connect(&mut self, conn: ConnId, session: i64, can_be_read_only: bool) {
        let remote = format!("10.0.0.{conn}:4000").parse().expect("an address");
        self.client(ClientEvent::Accepted { conn, remote });
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 10_000,
            session_id: session,
            passwd: Bytes::copy_from_slice(&password(session)),
            read_only: can_be_read_only,
        };
        self.client(ClientEvent::Connect { conn, request });
    }

    fn send(&mut self, conn: ConnId, xid: i32, request: Request) {
        let packet = RequestPacket::new(xid, request);
        self.client(ClientEvent::Request {
            conn,
            packet,
            bytes: 64,
        });
    }

    /// The ConnectResponse and the replies (header, body) a connection was sent.
    fn received(&self, conn: ConnId) -> (Option<ConnectResponse>, Vec<(ReplyHeader, Bytes)>) {
        let mut bytes = Bytes::from(self.sent.get(&conn).cloned().unwrap_or_default());
        let mut frames = Vec::new();
        while bytes.remaining() >= 4 {
            let len = bytes.get_u32() as usize;
            frames.push(bytes.split_to(len));
        }
        let mut frames = frames.into_iter();
        let connect = frames
            .next()
            .map(|mut f| ConnectResponse::decode(&mut f).expect("a ConnectResponse"));
        let replies = frames
            .map(|mut f| (ReplyHeader::decode(&mut f).expect("a header"), f))
            .collect();
        (connect, replies)
    }

    /// Ticks until the server is read-only (the grace is 2 s of looking).
    fn until_read_only(&mut self) {
        for _ in 0..(3000 / TICK_MS) {
            self.tick();
        }
        assert!(self.core.read_only(), "read-only after the grace");
    }
}

fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

#[test]
fn clients_are_refused_until_the_grace_has_passed() {
    let mut s = Driver::new(1);
    s.tick();
    assert!(!s.core.read_only());
    s.connect(1, 0, true);
    assert_eq!(s.received(1).0, None);
    assert!(s.closed.contains_key(&1), "no leader, not yet read-only");
    assert_eq!(s.core.four_letter_word("isro", s.now), "null");
}

#[test]
fn a_read_only_server_serves_read_only_clients_and_refuses_others() {
    let mut s = Driver::new(1);
    s.until_read_only();
    s.connect(1, 0, false);
    assert!(
        s.closed.contains_key(&1),
        "a client that wants to write is refused"
    );
    assert_eq!(s.received(1).0, None);
    s.connect(2, 0, true);
    let (connect, _) = s.received(2);
    let connect = connect.expect("a ConnectResponse");
    assert!(connect.read_only, "the response says read-only");
    assert_ne!(connect.session_id, 0);
    assert_eq!(connect.timeout, 10_000);
    assert!(!s.closed.contains_key(&2));
    assert_eq!(s.core.four_letter_word("isro", s.now), "ro");
    let srvr = s.core.four_letter_word("srvr", s.now);
    assert!(srvr.contains("\nMode: read-only\n"), "{srvr}");
}

/// Many requests in flight on one session, reads and writes mixed: every one is answered, in
/// order, reads from the tree, everything that would change it (or sync) NOT_READONLY.
#[test]
fn pipelined_requests_are_answered_in_order_and_writes_refused() {
    use proto::*;
    let mut s = Driver::new(1);
    s.until_read_only();
    s.connect(7, 0, true);
    let applied = s.core.view(super::Detail::Counters).zxid.as_i64();
    let refused = ErrorCode::NotReadOnly as i32;
    let path = || "/a".to_string();
    let requests: Vec<(Request, i32)> = vec![
        (get_data("/a", true), 0),
        (Request::Create(create("/b")), refused),
        (
            Request::Exists(ExistsRequest {
                path: "/b".into(),
                watch: true,
            }),
            ErrorCode::NoNode as i32,
        ),
        (
            Request::SetData(SetDataRequest {
                path: path(),
                data: None,
                version: -1,
            }),
            refused,
        ),
        (Request::Sync(SyncRequest { path: path() }), refused),
        (
            Request::GetChildren2(GetChildrenRequest {
                path: "/".into(),
                watch: false,
            }),
            0,
        ),
        (
            Request::Delete(DeleteRequest {
                path: path(),
                version: -1,
            }),
            refused,
        ),
        (Request::Multi(Vec::new()), refused),
        (Request::GetAcl(GetAclRequest { path: path() }), 0),
        (
            Request::SetAcl(SetAclRequest {
                path: path(),
                acl: Acl::open_unsafe(),
                version: -1,
            }),
            refused,
        ),
        (get_data("/a", false), 0),
    ];
    let rounds = 5;
    let mut expected = Vec::new();
    for round in 0..rounds {
        for (i, (request, err)) in requests.iter().enumerate() {
            let xid = (round * 100 + i + 1) as i32;
            s.send(7, xid, request.clone());
            expected.push((xid, *err));
        }
    }
    s.send(7, 9999, Request::Ping);
    let (_, replies) = s.received(7);
    let got: Vec<(i32, i32)> = replies.iter().map(|(h, _)| (h.xid, h.err)).collect();
    expected.push((proto::xid::PING, 0));
    assert_eq!(got, expected);
    assert!(replies.iter().all(|(h, _)| h.zxid == applied));
    let (_, body) = &replies[0];
    let data = GetDataResponse::decode(&mut body.clone()).expect("getData's answer");
    assert_eq!(data.data.as_deref(), Some(&b"x"[..]));
    assert!(
        !s.closed.contains_key(&7),
        "refusals do not close the connection"
    );
}

#[test]
fn without_local_sessions_no_session_is_opened_read_only() {
    let mut s = Driver::new(1);
    s.core.config.local_sessions_enabled = false;
    s.until_read_only();
    s.connect(1, 0, true);
    assert_eq!(s.received(1).0, None);
    assert!(
        s.closed.contains_key(&1),
        "ZooKeeper 3.8 opens only local sessions read-only"
    );
}

#[test]
fn close_session_ends_the_read_only_session_and_it_cannot_be_resumed() {
    let mut s = Driver::new(1);
    s.until_read_only();
    s.connect(1, 0, true);
    let session = s.received(1).0.expect("connected").session_id;
    s.send(1, 1, get_data("/a", false));
    s.send(1, 2, Request::CloseSession);
    s.send(1, 3, get_data("/a", false));
    let (_, replies) = s.received(1);
    let got: Vec<(i32, i32)> = replies.iter().map(|(h, _)| (h.xid, h.err)).collect();
    assert_eq!(got, vec![(1, 0), (2, 0)], "nothing after the closeSession");
    assert!(s.closed.contains_key(&1));
    // Closed: gone, as any closed session (the answer still says read-only).
    s.connect(2, session, true);
    let expired = s.received(2).0.expect("an answer");
    assert_eq!((expired.session_id, expired.timeout), (0, 0));
    assert!(expired.read_only);
}

/// A read-only session outlives its connection until its timeout, on this server only; the
/// ensemble's sessions are not resumed read-only (ZooKeeper closes the connection).
#[test]
fn a_read_only_session_is_resumed_here_until_it_expires() {
    let mut s = Driver::new(1);
    s.until_read_only();
    s.connect(1, 0, true);
    let session = s.received(1).0.expect("connected").session_id;
    s.client(ClientEvent::Closed { conn: 1 });
    s.connect(2, session, true);
    let resumed = s.received(2).0.expect("resumed");
    assert_eq!((resumed.session_id, resumed.read_only), (session, true));
    s.send(2, 1, get_data("/a", false));
    assert_eq!(s.received(2).1.len(), 1);
    s.client(ClientEvent::Closed { conn: 2 });
    for _ in 0..(10_000 / TICK_MS) {
        s.tick();
    }
    s.connect(3, session, true);
    let expired = s.received(3).0.expect("an answer");
    assert_eq!(expired.session_id, 0, "expired after its 10 s timeout");
    // The session the tree holds (opened before the quorum was lost, no ephemeral made): with
    // local sessions it would have been local to its server, so it is expired here.
    s.connect(4, 0x0300_0000_0000_0001, true);
    let expired = s.received(4).0.expect("an answer");
    assert_eq!((expired.session_id, expired.read_only), (0, true));
    // Without local sessions it is global: not resumed here, the connection is closed.
    s.core.config.local_sessions_enabled = false;
    s.connect(5, 0x0300_0000_0000_0001, true);
    assert_eq!(s.received(5).0, None);
    assert!(s.closed.contains_key(&5));
}

/// Server 1 is read-only with a client; server 2 comes back, they elect a leader, server 1
/// leaves read-only mode and closes the read-only connection; a client that wants to write is
/// then served.
#[test]
fn the_mode_ends_when_a_quorum_returns() {
    let mut one = Driver::new(1);
    one.until_read_only();
    one.connect(1, 0, true);
    one.send(1, 1, get_data("/a", true));
    assert!(one.received(1).0.expect("connected").read_only);
    let mut two = Driver::new(2);
    two.now = one.now;
    let mut rounds = 0;
    while !(serving(&one.core) && serving(&two.core)) {
        rounds += 1;
        assert!(rounds < 500, "no leader elected");
        exchange(&mut one, &mut two);
        exchange(&mut two, &mut one);
        one.tick();
        two.now = one.now;
        two.tick();
    }
    assert!(!one.core.read_only());
    assert!(one.closed.contains_key(&1), "read-only connections close");
    assert_eq!(one.core.four_letter_word("isro", one.now), "rw");
    one.connect(2, 0, false);
    for _ in 0..20 {
        exchange(&mut one, &mut two);
        exchange(&mut two, &mut one);
    }
    let connect = one.received(2).0.expect("a read-write session");
    assert!(!connect.read_only);
    assert_ne!(connect.session_id, 0);
}

fn serving(core: &Core<MemoryDisk>) -> bool {
    matches!(
        core.replica.phase(),
        zab::Phase::LeadingBroadcast | zab::Phase::FollowingBroadcast
    )
}

/// Delivers `from`'s frames for `to`, and reports `from`'s appends durable.
fn exchange(from: &mut Driver, to: &mut Driver) {
    let from_id = from.core.config.my_id;
    let to_id = to.core.config.my_id;
    if let Some(z) = from.core.replica.storage_mut().appended.take() {
        from.core
            .storage_event(StorageEvent::Durable(z), from.now)
            .expect("durable");
        from.collect();
    }
    let mut frames = Vec::new();
    from.core.drain_peer_frames(&mut frames);
    for (dest, frame) in frames {
        if dest == to_id {
            to.core.peer(from_id, frame, to.now).expect("a frame");
            to.collect();
        }
    }
}
