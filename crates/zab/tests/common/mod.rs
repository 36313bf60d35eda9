//! A tiny synchronous network of real peers for the scenario tests.
#![allow(dead_code)]

use bytes::Bytes;
use zab::{Action, Boot, Config, Input, Membership, Message, Peer, ServerId, Snapshot, Txn, Zxid};

pub fn peer(id: u64, n: u64) -> Peer {
    let members = (1..=n).map(ServerId).collect();
    Peer::new(
        Config::new(ServerId(id), members),
        Boot {
            nonce: id * 1000,
            ..Boot::default()
        },
    )
}

/// A tiny synchronous network: delivers every message at once, makes every append durable
/// immediately unless `hold_fsync` is set for that server.
pub struct Net {
    pub peers: Vec<Peer>,
    pub hold_fsync: Vec<bool>,
    pub delivered: Vec<Vec<Zxid>>,
    pub queue: std::collections::VecDeque<(ServerId, ServerId, Message)>,
    pub appended: Vec<Option<Zxid>>,
    /// When set, `TakeSnapshot` is recorded here (server index, for whom) instead of answered
    /// at once, as a driver that serializes off its event loop answers later.
    pub held_snapshots: Option<Vec<(usize, ServerId)>>,
    /// Each server's log: what it appended, less what it truncated or reset.
    pub logs: Vec<Vec<Txn>>,
    /// When set, `ReadLog` is recorded here (server index, for whom, after, up to) instead of
    /// answered at once from `logs`.
    pub held_reads: Option<Vec<(usize, ServerId, Zxid, Zxid)>>,
    /// Payloads each server keeps in memory ([`Config::history_tail_txns`]), restarts included.
    pub tail_txns: usize,
    /// Restarts by [`Net::restart_empty`] so far: each start of a server has its own nonce.
    pub restarts: u64,
}

impl Net {
    pub fn new(n: u64) -> Net {
        Net::with_observers(n, 0)
    }

    /// `voters` voting servers (ids 1..) and `observers` more after them.
    pub fn with_observers(voters: u64, observers: u64) -> Net {
        Net::with_spares(voters, observers, 0)
    }

    /// As [`Net::with_observers`], plus `spares` servers outside the configuration, each
    /// started with it plus itself as an observer (how a server joins before the
    /// reconfiguration that adds it); every server reads [`reconfig`] payloads.
    pub fn with_spares(voters: u64, observers: u64, spares: u64) -> Net {
        let members = voters + observers;
        let n = members + spares;
        let peers: Vec<Peer> = (1..=n)
            .map(|i| {
                let mut cfg = Config::new(ServerId(i), (1..=voters).map(ServerId).collect());
                cfg.observers = (voters + 1..=members).map(ServerId).collect();
                if i > members {
                    cfg.observers.push(ServerId(i));
                }
                cfg.decoder = decode_reconfig;
                let boot = Boot {
                    nonce: i * 1000,
                    ..Boot::default()
                };
                Peer::new(cfg, boot)
            })
            .collect();
        let n = n as usize;
        Net {
            peers,
            hold_fsync: vec![false; n],
            delivered: vec![Vec::new(); n],
            queue: Default::default(),
            appended: vec![None; n],
            held_snapshots: None,
            logs: vec![Vec::new(); n],
            held_reads: None,
            tail_txns: Config::new(ServerId(1), Vec::new()).history_tail_txns,
            restarts: 0,
        }
    }

    /// `n` voters that keep only `tail_txns` payloads in memory: older DIFFs read the log.
    pub fn with_tail(n: u64, tail_txns: usize) -> Net {
        let mut net = Net::new(n);
        for (i, p) in net.peers.iter_mut().enumerate() {
            let mut cfg = p.config().clone();
            cfg.history_tail_txns = tail_txns;
            *p = Peer::new(
                cfg,
                Boot {
                    nonce: (i as u64 + 1) * 1000,
                    ..Boot::default()
                },
            );
        }
        net.tail_txns = tail_txns;
        net
    }

    pub fn absorb(&mut self, i: usize, out: Vec<Action>) {
        let from = self.peers[i].id();
        for action in out {
            match action {
                Action::Send { to, message } => self.queue.push_back((from, to, message)),
                Action::Deliver(txn) => self.delivered[i].push(txn.zxid),
                Action::Append(txns) => {
                    self.appended[i] = txns.last().map(|t| t.zxid);
                    self.logs[i].extend(txns);
                }
                Action::Truncate(zxid) => self.logs[i].retain(|t| t.zxid <= zxid),
                Action::InstallSnapshot(_) => self.logs[i].clear(),
                Action::ReadLog {
                    for_server,
                    after,
                    up_to,
                } if self.held_reads.is_some() => {
                    let held = self.held_reads.as_mut().expect("checked");
                    held.push((i, for_server, after, up_to));
                }
                Action::ReadLog {
                    for_server,
                    after,
                    up_to,
                } => {
                    let read = self.read_log(i, after, up_to);
                    self.answer_read(i, for_server, after, up_to, Ok(read));
                }
                Action::TakeSnapshot { for_server } if self.held_snapshots.is_some() => {
                    let held = self.held_snapshots.as_mut().expect("checked");
                    held.push((i, for_server));
                }
                Action::TakeSnapshot { for_server } => {
                    let zxid = self.peers[i].delivered_zxid();
                    self.answer_snapshot(i, for_server, zxid);
                }
                _ => {}
            }
        }
    }

    pub fn start(&mut self) {
        for i in 0..self.peers.len() {
            let mut out = Vec::new();
            self.peers[i].start(&mut out);
            self.absorb(i, out);
        }
    }

    /// Delivers messages, fsyncs and ticks until nothing moves.
    pub fn settle(&mut self, ticks: usize) {
        for _ in 0..ticks {
            for _ in 0..10_000 {
                let mut moved = false;
                while let Some((from, to, message)) = self.queue.pop_front() {
                    moved = true;
                    let i = to.0 as usize - 1;
                    let mut out = Vec::new();
                    self.peers[i].step(Input::Message { from, message }, &mut out);
                    self.absorb(i, out);
                }
                for i in 0..self.peers.len() {
                    if !self.hold_fsync[i] {
                        if let Some(z) = self.appended[i].take() {
                            moved = true;
                            let mut out = Vec::new();
                            self.peers[i].step(Input::LogDurable(z), &mut out);
                            self.absorb(i, out);
                        }
                    }
                }
                if !moved {
                    break;
                }
            }
            for i in 0..self.peers.len() {
                let mut out = Vec::new();
                self.peers[i].step(Input::Tick, &mut out);
                self.absorb(i, out);
            }
        }
    }

    /// Answers a `TakeSnapshot` of server `i` with a snapshot at `zxid`.
    pub fn answer_snapshot(&mut self, i: usize, for_server: ServerId, zxid: Zxid) {
        let snapshot = Snapshot {
            zxid,
            data: Bytes::new(),
        };
        let mut out = Vec::new();
        self.peers[i].step(
            Input::SnapshotTaken {
                for_server,
                snapshot,
            },
            &mut out,
        );
        self.absorb(i, out);
    }

    /// The records of server `i`'s log with `after < zxid <= up_to`.
    pub fn read_log(&self, i: usize, after: Zxid, up_to: Zxid) -> Vec<Txn> {
        let log = &self.logs[i];
        log.iter()
            .filter(|t| after < t.zxid && t.zxid <= up_to)
            .cloned()
            .collect()
    }

    /// Answers a `ReadLog` of server `i`.
    pub fn answer_read(
        &mut self,
        i: usize,
        for_server: ServerId,
        after: Zxid,
        up_to: Zxid,
        txns: Result<Vec<Txn>, String>,
    ) {
        let mut out = Vec::new();
        let input = Input::LogRead {
            for_server,
            after,
            up_to,
            txns,
        };
        self.peers[i].step(input, &mut out);
        self.absorb(i, out);
    }

    /// Feeds `Input::Compact(zxid)` to server `i`.
    pub fn compact(&mut self, i: usize, zxid: Zxid) {
        let mut out = Vec::new();
        self.peers[i].step(Input::Compact(zxid), &mut out);
        self.absorb(i, out);
    }

    /// Server `i` loses its disk and starts again empty. Returns its id.
    pub fn restart_empty(&mut self, i: usize) -> ServerId {
        let id = self.peers[i].id();
        let mut cfg = self.peers[i].config().clone();
        cfg.history_tail_txns = self.tail_txns;
        self.peers[i] = Peer::new(
            cfg,
            Boot {
                nonce: id.0 * 1000 + 100 * self.restarts,
                ..Boot::default()
            },
        );
        self.restarts += 1;
        self.delivered[i].clear();
        self.logs[i].clear();
        self.appended[i] = None;
        let mut out = Vec::new();
        self.peers[i].start(&mut out);
        self.absorb(i, out);
        id
    }

    /// A started 3-server net with a leader, and the index of the leader and of a follower.
    pub fn three_settled() -> (Net, usize, usize) {
        let mut net = Net::new(3);
        net.start();
        net.settle(20);
        let l = net.leader();
        let f = (0..3).find(|&i| i != l).expect("a follower");
        (net, l, f)
    }

    pub fn leader(&self) -> usize {
        self.peers
            .iter()
            .position(|p| p.is_leading())
            .expect("a leader")
    }

    pub fn propose(&mut self, data: &str) -> Zxid {
        let i = self.leader();
        let mut out = Vec::new();
        let zxid = self.peers[i]
            .propose(Bytes::from(data.to_string()), &mut out)
            .unwrap();
        self.absorb(i, out);
        zxid
    }

    /// Proposes a reconfiguration on the leader.
    pub fn reconfig(
        &mut self,
        voters: &[u64],
        observers: &[u64],
    ) -> Result<Zxid, zab::ReconfigRefused> {
        let i = self.leader();
        let mut out = Vec::new();
        let result = self.peers[i].propose_reconfig(reconfig(voters, observers), &mut out);
        self.absorb(i, out);
        result
    }
}

/// The payload of a test reconfiguration: `R` then voters, `|`, observers (ids, comma
/// separated).
pub fn reconfig(voters: &[u64], observers: &[u64]) -> Bytes {
    let list = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    Bytes::from(format!("R{}|{}", list(voters), list(observers)))
}

pub fn decode_reconfig(data: &[u8]) -> Option<Membership> {
    let text = std::str::from_utf8(data.strip_prefix(b"R")?).ok()?;
    let (voters, observers) = text.split_once('|')?;
    let ids = |s: &str| -> Vec<ServerId> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .filter_map(|x| x.parse().ok().map(ServerId))
            .collect()
    };
    Some(Membership::new(ids(voters), ids(observers)))
}
