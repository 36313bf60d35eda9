//! The peer wire format: what servers of one ensemble send each other over their one TCP
//! connection per pair. Each frame is a 4-byte big-endian length, then a tag byte and the
//! fields in big-endian order. A connection opens with a three-frame handshake (`Hello` from
//! the dialler, `Challenge` from the acceptor, `Proof` from the dialler; see `auth.rs`), whose
//! first frame carries the protocol version, so that another format is refused cleanly.
//!
//! Decoding never panics: a bad frame is an error and the connection is dropped (the peer
//! reconnects; Zab's links make a lost message a rejoin, never a gap).

use bytes::{BufMut, Bytes, BytesMut};
use proto::Id;
use zab::{
    Epoch, Membership, Message, Notification, PeerState, ServerId, Snapshot, Txn, Vote, Zxid,
};

/// The version this build speaks. 2: the authenticated handshake and keepalives.
pub const PROTOCOL_VERSION: u8 = 3;

/// Bytes of a handshake nonce and of a handshake MAC (HMAC-SHA256).
pub const NONCE_BYTES: usize = 32;
/// Bytes of an HMAC-SHA256 tag.
pub const MAC_BYTES: usize = 32;

/// Largest frame accepted from a connection whose other end has not proven who it is: the
/// biggest handshake frame (`Challenge`, 74 bytes) with room to spare. Anything longer is
/// refused as soon as its length prefix is read, before a byte of it is buffered.
pub const MAX_HANDSHAKE_FRAME: usize = 128;

/// Largest peer frame accepted (a SNAP carries a whole snapshot).
pub const MAX_FRAME: usize = 1 << 30;

/// One frame between servers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerFrame {
    /// First frame on a connection, from the dialler: who is speaking, in which protocol
    /// version, and a fresh random nonce for the acceptor to bind its MAC to.
    Hello {
        version: u8,
        id: u64,
        nonce: [u8; NONCE_BYTES],
    },
    /// The acceptor's answer to `Hello`: its id, its own fresh nonce, and its MAC over both
    /// nonces and both ids, proving it knows the shared secret.
    Challenge {
        version: u8,
        id: u64,
        nonce: [u8; NONCE_BYTES],
        mac: [u8; MAC_BYTES],
    },
    /// The dialler's MAC over the same transcript (other direction label): the last frame of
    /// the handshake.
    Proof { mac: [u8; MAC_BYTES] },
    /// "Still here": sent when nothing else was sent for a while, so that a silent link is
    /// told from an idle one. Handled by the transport; the core never sees it.
    Keepalive,
    /// A Zab message.
    Zab(Message),
    /// A client write that a follower hands to the leader to prep and broadcast. `request`
    /// is the client's packet (header and body) as received.
    Forward {
        session: i64,
        cxid: i32,
        auth: Vec<Id>,
        request: Bytes,
    },
    /// A new session a follower's client asked for.
    CreateSession { session: i64, timeout_ms: i32 },
    /// Sessions with live connections at the sender (keeps them from expiring).
    Touch { sessions: Vec<i64> },
    /// A follower's client asked for sync.
    Sync { token: u64 },
    /// The leader's answer to `Sync`: everything up to `zxid` is committed and the leader
    /// confirmed with a quorum that it still leads.
    SyncDone { token: u64, zxid: Zxid },
    /// A client resumes `session` on the sender (ZooKeeper's REVALIDATE): the leader records
    /// that the sender now holds it, answers writes of the session still coming from any other
    /// server SESSIONMOVED, and answers with `Attached`. The client's handshake waits for it,
    /// so no write of the session from the server it left can overtake the move.
    Attach { session: i64 },
    /// The leader's answer to `Attach`: the session's timeout, or 0 when it is not open.
    Attached { session: i64, timeout_ms: i32 },
    /// The leader's first answer to `Sync`: everything proposed before it reached `zxid`. Sent
    /// at once, ahead of anything proposed later, so the reads behind the sync can be computed
    /// in their place; `SyncDone` follows once a quorum confirmed the leadership.
    SyncZxid { token: u64, zxid: Zxid },
}

/// A frame that did not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad peer frame: {0}")]
pub struct CodecError(pub String);

fn put_bytes(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_u32(bytes.len() as u32);
    buf.put_slice(bytes);
}

fn put_zxid(buf: &mut BytesMut, zxid: Zxid) {
    buf.put_u64(zxid.as_u64());
}

/// A configuration: its version, then the voters and the observers, each a count and ids.
fn put_membership(buf: &mut BytesMut, membership: &Membership) {
    put_zxid(buf, membership.version);
    for ids in [&membership.voters, &membership.observers] {
        buf.put_u32(ids.len() as u32);
        for id in ids {
            buf.put_u64(id.0);
        }
    }
}

fn put_txn(buf: &mut BytesMut, txn: &Txn) {
    put_zxid(buf, txn.zxid);
    put_bytes(buf, &txn.data);
}

/// Encodes a frame in pieces whose concatenation is [`encode`]'s bytes, sharing a SNAP's
/// snapshot instead of copying it: copying a 226 MiB snapshot into the frame held a leader's
/// event loop 300 ms. Other frames are one piece.
pub fn encode_parts(frame: &PeerFrame) -> Vec<Bytes> {
    let PeerFrame::Zab(Message::Snap {
        link,
        seq,
        epoch,
        snapshot,
        membership,
    }) = frame
    else {
        return vec![encode(frame)];
    };
    let mut tail = BytesMut::with_capacity(64);
    put_membership(&mut tail, membership);
    let mut head = BytesMut::with_capacity(64);
    head.put_u32(0);
    head.put_u8(2); // a Zab message
    head.put_u8(7);
    head.put_u64(*link);
    head.put_u64(*seq);
    head.put_u32(epoch.0);
    put_zxid(&mut head, snapshot.zxid);
    head.put_u32(snapshot.data.len() as u32);
    let len = head.len() - 4 + snapshot.data.len() + tail.len();
    head[..4].copy_from_slice(&(len as u32).to_be_bytes());
    vec![head.freeze(), snapshot.data.clone(), tail.freeze()]
}

/// Encodes a frame, length prefix included.
pub fn encode(frame: &PeerFrame) -> Bytes {
    let mut buf = BytesMut::with_capacity(FIXED_PART + variable_len(frame));
    buf.put_u32(0);
    match frame {
        PeerFrame::Hello { version, id, nonce } => {
            buf.put_u8(1);
            buf.put_u8(*version);
            buf.put_u64(*id);
            buf.put_slice(nonce);
        }
        PeerFrame::Challenge {
            version,
            id,
            nonce,
            mac,
        } => {
            buf.put_u8(8);
            buf.put_u8(*version);
            buf.put_u64(*id);
            buf.put_slice(nonce);
            buf.put_slice(mac);
        }
        PeerFrame::Proof { mac } => {
            buf.put_u8(9);
            buf.put_slice(mac);
        }
        PeerFrame::Keepalive => buf.put_u8(10),
        PeerFrame::Zab(message) => {
            buf.put_u8(2);
            encode_message(&mut buf, message);
        }
        PeerFrame::Forward {
            session,
            cxid,
            auth,
            request,
        } => {
            buf.put_u8(3);
            buf.put_i64(*session);
            buf.put_i32(*cxid);
            buf.put_u32(auth.len() as u32);
            for id in auth {
                put_bytes(&mut buf, id.scheme.as_bytes());
                put_bytes(&mut buf, id.id.as_bytes());
            }
            put_bytes(&mut buf, request);
        }
        PeerFrame::CreateSession {
            session,
            timeout_ms,
        } => {
            buf.put_u8(4);
            buf.put_i64(*session);
            buf.put_i32(*timeout_ms);
        }
        PeerFrame::Touch { sessions } => {
            buf.put_u8(5);
            buf.put_u32(sessions.len() as u32);
            for s in sessions {
                buf.put_i64(*s);
            }
        }
        PeerFrame::Sync { token } => {
            buf.put_u8(6);
            buf.put_u64(*token);
        }
        PeerFrame::SyncDone { token, zxid } => {
            buf.put_u8(7);
            buf.put_u64(*token);
            buf.put_i64(zxid.as_i64());
        }
        PeerFrame::Attach { session } => {
            buf.put_u8(20);
            buf.put_i64(*session);
        }
        PeerFrame::Attached {
            session,
            timeout_ms,
        } => {
            buf.put_u8(22);
            buf.put_i64(*session);
            buf.put_i32(*timeout_ms);
        }
        PeerFrame::SyncZxid { token, zxid } => {
            buf.put_u8(21);
            buf.put_u64(*token);
            buf.put_i64(zxid.as_i64());
        }
    }
    let len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// Room for a frame's fixed fields; [`variable_len`] adds its payloads, so that encoding a
/// proposal (the hottest frame) allocates once instead of growing its buffer.
const FIXED_PART: usize = 64;

/// Bytes of a frame's variable-length parts (txns, snapshots, forwarded requests), roughly.
fn variable_len(frame: &PeerFrame) -> usize {
    const PER_TXN: usize = 12;
    match frame {
        PeerFrame::Zab(Message::Propose { txn, .. }) => txn.data.len(),
        PeerFrame::Zab(Message::Diff { txns, .. }) => {
            txns.iter().map(|t| t.data.len() + PER_TXN).sum()
        }
        PeerFrame::Zab(Message::Snap { snapshot, .. }) => snapshot.data.len(),
        PeerFrame::Forward { auth, request, .. } => {
            request.len()
                + auth
                    .iter()
                    .map(|id| id.scheme.len() + id.id.len() + 8)
                    .sum::<usize>()
        }
        PeerFrame::Touch { sessions } => sessions.len() * 8,
        _ => 0,
    }
}

fn encode_message(buf: &mut BytesMut, message: &Message) {
    match message {
        Message::Vote(n) => {
            buf.put_u8(1);
            buf.put_u64(n.round);
            buf.put_u8(match n.state {
                PeerState::Looking => 0,
                PeerState::Following => 1,
                PeerState::Leading => 2,
                PeerState::Observing => 3,
            });
            buf.put_u64(n.vote.leader.0);
            buf.put_u32(n.vote.epoch.0);
            put_zxid(buf, n.vote.zxid);
            put_membership(buf, &n.membership);
        }
        Message::CEpoch {
            link,
            accepted_epoch,
        } => {
            buf.put_u8(2);
            buf.put_u64(*link);
            buf.put_u32(accepted_epoch.0);
        }
        Message::NewEpoch { link, seq, epoch } => {
            buf.put_u8(3);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
        }
        Message::AckEpoch {
            link,
            epoch,
            current_epoch,
            last_zxid,
            promised,
        } => {
            buf.put_u8(4);
            buf.put_u64(*link);
            buf.put_u32(epoch.0);
            buf.put_u32(current_epoch.0);
            put_zxid(buf, *last_zxid);
            buf.put_u8(u8::from(*promised));
        }
        Message::Diff {
            link,
            seq,
            epoch,
            txns,
        } => {
            buf.put_u8(5);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            buf.put_u32(txns.len() as u32);
            for txn in txns {
                put_txn(buf, txn);
            }
        }
        Message::Trunc {
            link,
            seq,
            epoch,
            zxid,
        } => {
            buf.put_u8(6);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_zxid(buf, *zxid);
        }
        Message::Snap {
            link,
            seq,
            epoch,
            snapshot,
            membership,
        } => {
            buf.put_u8(7);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_zxid(buf, snapshot.zxid);
            put_bytes(buf, &snapshot.data);
            put_membership(buf, membership);
        }
        Message::NewLeader {
            link,
            seq,
            epoch,
            last_zxid,
        } => {
            buf.put_u8(8);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_zxid(buf, *last_zxid);
        }
        Message::AckNewLeader { link, epoch, zxid } => {
            buf.put_u8(9);
            buf.put_u64(*link);
            buf.put_u32(epoch.0);
            put_zxid(buf, *zxid);
        }
        Message::CommitNewLeader {
            link,
            seq,
            epoch,
            committed,
        } => {
            buf.put_u8(10);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_zxid(buf, *committed);
        }
        Message::Propose {
            link,
            seq,
            epoch,
            txn,
        } => {
            buf.put_u8(11);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_txn(buf, txn);
        }
        Message::Ack { link, epoch, zxid } => {
            buf.put_u8(12);
            buf.put_u64(*link);
            buf.put_u32(epoch.0);
            put_zxid(buf, *zxid);
        }
        Message::Commit {
            link,
            seq,
            epoch,
            zxid,
        } => {
            buf.put_u8(13);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            put_zxid(buf, *zxid);
        }
        Message::Ping {
            link,
            seq,
            epoch,
            round,
        } => {
            buf.put_u8(14);
            buf.put_u64(*link);
            buf.put_u64(*seq);
            buf.put_u32(epoch.0);
            buf.put_u64(*round);
        }
        Message::PingAck { link, epoch, round } => {
            buf.put_u8(15);
            buf.put_u64(*link);
            buf.put_u32(epoch.0);
            buf.put_u64(*round);
        }
    }
}

/// A bounds-checked reader.
struct Reader<'a> {
    buf: &'a [u8],
    /// The payload `buf` is a part of, when it is held in a `Bytes`: large byte strings are
    /// then shared with it rather than copied (a SNAP carries hundreds of MiB).
    shared: Option<&'a Bytes>,
}

/// Byte strings at least this long are shared with the payload by [`decode_shared`]. Smaller
/// ones are copied: a transaction kept in the history for a snapshot interval must not keep
/// its whole frame buffer alive with it.
const SHARE_FROM_BYTES: usize = 64 * 1024;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.buf.len() < n {
            return Err(CodecError(format!(
                "needs {n} more bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(self.u32()? as i32)
    }
    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(self.u64()? as i64)
    }
    fn epoch(&mut self) -> Result<Epoch, CodecError> {
        Ok(Epoch(self.u32()?))
    }
    fn zxid(&mut self) -> Result<Zxid, CodecError> {
        Ok(Zxid::from_u64(self.u64()?))
    }
    fn bytes(&mut self) -> Result<Bytes, CodecError> {
        let len = self.u32()? as usize;
        let taken = self.take(len)?;
        Ok(match self.shared {
            Some(payload) if len >= SHARE_FROM_BYTES => payload.slice_ref(taken),
            _ => Bytes::copy_from_slice(taken),
        })
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn string(&mut self) -> Result<String, CodecError> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| CodecError("string is not UTF-8".into()))
    }
    /// A count of items each at least `min` bytes long, checked against what is left.
    fn count(&mut self, min: usize) -> Result<usize, CodecError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.buf.len() {
            return Err(CodecError(format!(
                "{n} items cannot fit in {} bytes",
                self.buf.len()
            )));
        }
        Ok(n)
    }
    fn ids(&mut self) -> Result<Vec<ServerId>, CodecError> {
        let n = self.count(8)?;
        (0..n).map(|_| Ok(ServerId(self.u64()?))).collect()
    }
    fn membership(&mut self) -> Result<Membership, CodecError> {
        let version = self.zxid()?;
        let voters = self.ids()?;
        let observers = self.ids()?;
        Ok(Membership {
            version,
            ..Membership::new(voters, observers)
        })
    }
    fn txn(&mut self) -> Result<Txn, CodecError> {
        Ok(Txn {
            zxid: self.zxid()?,
            data: self.bytes()?,
        })
    }
}

/// Decodes a frame's payload (without its length prefix), copying the byte strings it holds.
pub fn decode(payload: &[u8]) -> Result<PeerFrame, CodecError> {
    decode_from(Reader {
        buf: payload,
        shared: None,
    })
}

/// [`decode`], with the frame's large byte strings (a snapshot) sharing `payload`'s buffer
/// instead of copies of it.
pub fn decode_shared(payload: &Bytes) -> Result<PeerFrame, CodecError> {
    decode_from(Reader {
        buf: payload,
        shared: Some(payload),
    })
}

fn decode_from(mut r: Reader<'_>) -> Result<PeerFrame, CodecError> {
    let frame = match r.u8()? {
        1 => PeerFrame::Hello {
            version: r.u8()?,
            id: r.u64()?,
            nonce: r.array()?,
        },
        2 => PeerFrame::Zab(decode_message(&mut r)?),
        3 => {
            let session = r.i64()?;
            let cxid = r.i32()?;
            let n = r.count(8)?;
            let mut auth = Vec::with_capacity(n);
            for _ in 0..n {
                auth.push(Id {
                    scheme: r.string()?,
                    id: r.string()?,
                });
            }
            PeerFrame::Forward {
                session,
                cxid,
                auth,
                request: r.bytes()?,
            }
        }
        4 => PeerFrame::CreateSession {
            session: r.i64()?,
            timeout_ms: r.i32()?,
        },
        5 => {
            let n = r.count(8)?;
            let mut sessions = Vec::with_capacity(n);
            for _ in 0..n {
                sessions.push(r.i64()?);
            }
            PeerFrame::Touch { sessions }
        }
        6 => PeerFrame::Sync { token: r.u64()? },
        7 => PeerFrame::SyncDone {
            token: r.u64()?,
            zxid: Zxid::from_i64(r.i64()?),
        },
        20 => PeerFrame::Attach { session: r.i64()? },
        22 => PeerFrame::Attached {
            session: r.i64()?,
            timeout_ms: r.i32()?,
        },
        21 => PeerFrame::SyncZxid {
            token: r.u64()?,
            zxid: Zxid::from_i64(r.i64()?),
        },
        8 => PeerFrame::Challenge {
            version: r.u8()?,
            id: r.u64()?,
            nonce: r.array()?,
            mac: r.array()?,
        },
        9 => PeerFrame::Proof { mac: r.array()? },
        10 => PeerFrame::Keepalive,
        tag => return Err(CodecError(format!("unknown frame tag {tag}"))),
    };
    if !r.buf.is_empty() {
        return Err(CodecError(format!("{} trailing bytes", r.buf.len())));
    }
    Ok(frame)
}

fn decode_message(r: &mut Reader<'_>) -> Result<Message, CodecError> {
    Ok(match r.u8()? {
        1 => {
            let round = r.u64()?;
            let state = match r.u8()? {
                0 => PeerState::Looking,
                1 => PeerState::Following,
                2 => PeerState::Leading,
                3 => PeerState::Observing,
                s => return Err(CodecError(format!("unknown peer state {s}"))),
            };
            let vote = Vote {
                leader: ServerId(r.u64()?),
                epoch: r.epoch()?,
                zxid: r.zxid()?,
            };
            let membership = r.membership()?;
            Message::Vote(Notification {
                round,
                state,
                vote,
                membership,
            })
        }
        2 => Message::CEpoch {
            link: r.u64()?,
            accepted_epoch: r.epoch()?,
        },
        3 => Message::NewEpoch {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
        },
        4 => Message::AckEpoch {
            link: r.u64()?,
            epoch: r.epoch()?,
            current_epoch: r.epoch()?,
            last_zxid: r.zxid()?,
            promised: r.u8()? != 0,
        },
        5 => {
            let (link, seq, epoch) = (r.u64()?, r.u64()?, r.epoch()?);
            let n = r.count(12)?;
            let mut txns = Vec::with_capacity(n);
            for _ in 0..n {
                txns.push(r.txn()?);
            }
            Message::Diff {
                link,
                seq,
                epoch,
                txns,
            }
        }
        6 => Message::Trunc {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            zxid: r.zxid()?,
        },
        7 => {
            let (link, seq, epoch) = (r.u64()?, r.u64()?, r.epoch()?);
            let snapshot = Snapshot {
                zxid: r.zxid()?,
                data: r.bytes()?,
            };
            let membership = r.membership()?;
            Message::Snap {
                link,
                seq,
                epoch,
                snapshot,
                membership,
            }
        }
        8 => Message::NewLeader {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            last_zxid: r.zxid()?,
        },
        9 => Message::AckNewLeader {
            link: r.u64()?,
            epoch: r.epoch()?,
            zxid: r.zxid()?,
        },
        10 => Message::CommitNewLeader {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            committed: r.zxid()?,
        },
        11 => Message::Propose {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            txn: r.txn()?,
        },
        12 => Message::Ack {
            link: r.u64()?,
            epoch: r.epoch()?,
            zxid: r.zxid()?,
        },
        13 => Message::Commit {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            zxid: r.zxid()?,
        },
        14 => Message::Ping {
            link: r.u64()?,
            seq: r.u64()?,
            epoch: r.epoch()?,
            round: r.u64()?,
        },
        15 => Message::PingAck {
            link: r.u64()?,
            epoch: r.epoch()?,
            round: r.u64()?,
        },
        tag => return Err(CodecError(format!("unknown Zab message tag {tag}"))),
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
