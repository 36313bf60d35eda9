//! The broker's TCP codec: requests to a partition's replica and their answers, as
//! length-prefixed frames.
//!
//! The layout is in docs/log.md ("Wire protocol") and follows the bookie's conventions: every
//! frame is a `u32` big-endian body length and the body; every integer is big endian; a
//! connection starts with a hello frame each way. Each request carries a tag that its response
//! echoes, so a client may pipeline and answers may come in any order. Decoding is strict
//! (unknown kinds and codes, flags other than 0/1, absent values that are not zeros, short or
//! trailing bytes are errors): a confused peer is noticed at its first frame, never misread.
//! There is no "malformed" answer: a body that does not decode has no tag one could trust, so
//! the broker closes the connection, as the bookie does. Decoding never allocates more than
//! the body it was given, whose length the caller checked against its cap before reading it.
//! Frames and the hello are the `framing` crate's, shared with the bookie; [`read_frame`],
//! [`LENGTH_BYTES`] and [`MAX_HELLO_BYTES`] are re-exported from it.

use framing::{frame, HelloError, Protocol};
pub use framing::{read_frame, LENGTH_BYTES, MAX_HELLO_BYTES};
use partition::{
    IsrRequest, LeaderEpoch, Member, Offset, Producer, ReplicaFetch, Request, Response,
    TopicPartition,
};

use crate::batch_codec::{encode_batch, encoded_len, read_batch, BATCH_HEADER_BYTES};
use crate::reader::{put_bytes, put_u16, put_u32, put_u64, Reader};
use crate::topic::is_valid_topic;

mod codes;
use codes::{acks_from, acks_to, error_from, error_to, role_from, role_to};

/// The first four bytes of every hello.
pub const MAGIC: &[u8; 4] = b"QLOG";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The broker protocol's hello.
pub const PROTOCOL: Protocol = Protocol {
    magic: MAGIC,
    version: PROTOCOL_VERSION,
};
/// A produce frame is at most this much longer than the batch it becomes (encoded by
/// `batch_codec`), and a fetch answer carrying one batch too; so a cap of the largest batch
/// plus this admits every batch the store accepts.
pub const FRAME_OVERHEAD_BYTES: u32 = 256;
/// Default cap on a frame body after the hello: an 8 MiB batch and its frame.
pub const DEFAULT_MAX_FRAME_BYTES: u32 = (8 << 20) + FRAME_OVERHEAD_BYTES;
/// Largest Fetched response body for a fetch of `max_bytes` from a store whose batches are at
/// most `max_batch` bytes encoded: the store returns batches until they reach `max_bytes`, so
/// at most `max_bytes + max_batch` of them, each with a 4-byte length (and a batch is at least
/// 37 bytes, so lengths add at most 4/37). A fetching client caps its frames at this.
pub fn fetched_body_bound(max_bytes: u32, max_batch: u32) -> u64 {
    let batches = u64::from(max_bytes) + u64::from(max_batch);
    let min_batch = (BATCH_HEADER_BYTES + 4) as u64;
    FETCHED_HEADER_BYTES + batches + (batches / min_batch + 1) * 4
}

/// Kind, tag, high watermark, log end and batch count of a Fetched body.
const FETCHED_HEADER_BYTES: u64 = 1 + 8 + 8 + 8 + 4;

const REQ_PRODUCE: u8 = 1;
const REQ_FETCH: u8 = 2;
const REQ_OFFSET_FOR_EPOCH: u8 = 3;
const REQ_DESCRIBE: u8 = 4;
const REQ_ALTER_ISR: u8 = 5;
const RESP_PRODUCED: u8 = 1;
const RESP_FETCHED: u8 = 2;
const RESP_EPOCH_END: u8 = 3;
const RESP_ERROR: u8 = 4;
const RESP_ISR_ANSWER: u8 = 6;
const RESP_DESCRIBED: u8 = 5;

/// Why bytes could not be decoded (a frame body, a hello, or a stored batch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("body ends early: needs {needed} more bytes at offset {at}")]
    Short { at: usize, needed: usize },
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("byte {value} at offset {at} is neither 0 nor 1")]
    BadFlag { at: usize, value: u8 },
    #[error("absent value at offset {at} is not all zeros")]
    NonCanonical { at: usize },
    #[error("unknown acks {0}")]
    UnknownAcks(u8),
    #[error("unknown error code {0}")]
    UnknownErrorCode(u8),
    #[error("unknown replica role {0}")]
    UnknownRole(u8),
    #[error("invalid topic name at offset {at}")]
    BadTopic { at: usize },
    #[error("count {count} at offset {at} is more than the bytes left can hold")]
    BadCount { at: usize, count: usize },
    #[error("invalid batch: {0}")]
    BadBatch(&'static str),
    #[error("hello does not start with the magic QLOG")]
    BadMagic,
}

impl From<HelloError> for WireError {
    fn from(e: HelloError) -> Self {
        match e {
            HelloError::Short { at, needed } => WireError::Short { at, needed },
            HelloError::BadMagic(_) => WireError::BadMagic,
            HelloError::Trailing(left) => WireError::Trailing(left),
        }
    }
}

/// What a client or another broker asks a broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerRequest {
    /// A request to this broker's replica of `tp` (answered by [`BrokerResponse::Partition`]).
    Partition {
        tag: u64,
        tp: TopicPartition,
        request: Request,
    },
    /// What this broker's replica of `tp` is (answered by [`BrokerResponse::Described`]).
    Describe { tag: u64, tp: TopicPartition },
    /// A partition leader asks the controller to set the ISR (KIP-497's AlterPartition);
    /// answered by [`BrokerResponse::IsrAnswer`].
    AlterIsr {
        tag: u64,
        tp: TopicPartition,
        request: IsrRequest,
    },
}

/// Why the controller refused an ISR request (see `partition::Input::IsrRefused`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsrRefusal {
    pub leader_epoch: LeaderEpoch,
    pub deposed: bool,
    pub state_version: u64,
}

/// A replica's role, as a broker describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    /// A replica that neither leads nor follows (no leader, or one it may not follow).
    Idle,
    /// This broker holds no replica of the partition.
    NoReplica,
}

/// A broker's answer, tagged with its request's tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerResponse {
    Partition {
        tag: u64,
        response: Response,
    },
    Described {
        tag: u64,
        role: Role,
        leader_epoch: Option<LeaderEpoch>,
        high_watermark: Offset,
        log_end: Offset,
    },
    /// The controller's answer to [`BrokerRequest::AlterIsr`]: taken up (the leader sees the
    /// outcome in the state znode), or refused.
    IsrAnswer {
        tag: u64,
        refused: Option<IsrRefusal>,
    },
}

impl BrokerRequest {
    pub fn tag(&self) -> u64 {
        match self {
            BrokerRequest::Partition { tag, .. }
            | BrokerRequest::Describe { tag, .. }
            | BrokerRequest::AlterIsr { tag, .. } => *tag,
        }
    }
}

impl BrokerResponse {
    pub fn tag(&self) -> u64 {
        match self {
            BrokerResponse::Partition { tag, .. }
            | BrokerResponse::Described { tag, .. }
            | BrokerResponse::IsrAnswer { tag, .. } => *tag,
        }
    }
}

/// Appends the hello frame (the client's names the version it speaks, the broker's the
/// version it answers with).
pub fn encode_hello(out: &mut Vec<u8>, version: u16) {
    framing::encode_hello(out, MAGIC, version);
}

/// The protocol version of a hello body.
pub fn decode_hello(body: &[u8]) -> Result<u16, WireError> {
    Ok(framing::decode_hello(body, MAGIC)?)
}

fn put_head(b: &mut Vec<u8>, kind: u8, tag: u64, tp: &TopicPartition) {
    b.push(kind);
    put_u64(b, tag);
    put_u16(b, tp.topic.len() as u16);
    b.extend_from_slice(tp.topic.as_bytes());
    put_u32(b, tp.partition);
}

fn read_tp(r: &mut Reader<'_>) -> Result<TopicPartition, WireError> {
    let at = r.pos();
    let len = r.u16()? as usize;
    let topic = std::str::from_utf8(r.take(len)?)
        .ok()
        .filter(|t| is_valid_topic(t))
        .ok_or(WireError::BadTopic { at })?;
    Ok(TopicPartition::new(topic, r.u32()?))
}

/// Appends the frame of `request` to `out`. The topic name must be valid (as every
/// `TopicPartition` a broker or client builds from checked input is); an invalid one makes a
/// frame the peer refuses.
pub fn encode_request(out: &mut Vec<u8>, request: &BrokerRequest) {
    frame(out, |b| match request {
        BrokerRequest::Describe { tag, tp } => put_head(b, REQ_DESCRIBE, *tag, tp),
        BrokerRequest::AlterIsr { tag, tp, request } => {
            put_head(b, REQ_ALTER_ISR, *tag, tp);
            put_u32(b, request.leader);
            put_u32(b, request.leader_epoch);
            put_u64(b, request.state_version);
            put_u32(b, request.isr.len() as u32);
            for member in &request.isr {
                put_u32(b, member.broker);
                put_u64(b, member.epoch);
            }
        }
        BrokerRequest::Partition { tag, tp, request } => match request {
            Request::Produce {
                acks,
                producer,
                records,
            } => {
                put_head(b, REQ_PRODUCE, *tag, tp);
                b.push(acks_to(*acks));
                put_producer(b, *producer);
                put_u32(b, records.len() as u32);
                records.iter().for_each(|record| put_bytes(b, record));
            }
            Request::Fetch {
                offset,
                max_bytes,
                replica,
            } => {
                put_head(b, REQ_FETCH, *tag, tp);
                put_u64(b, *offset);
                put_u32(b, *max_bytes);
                put_replica(b, *replica);
            }
            Request::OffsetForEpoch {
                epoch,
                leader_epoch,
            } => {
                put_head(b, REQ_OFFSET_FOR_EPOCH, *tag, tp);
                put_u32(b, *epoch);
                put_u32(b, *leader_epoch);
            }
        },
    });
}

fn put_producer(b: &mut Vec<u8>, producer: Option<Producer>) {
    match producer {
        None => b.extend_from_slice(&[0; 17]),
        Some(p) => {
            b.push(1);
            put_u64(b, p.id);
            put_u64(b, p.first_seq);
        }
    }
}

fn put_replica(b: &mut Vec<u8>, replica: Option<ReplicaFetch>) {
    match replica {
        None => b.extend_from_slice(&[0; 17]),
        Some(f) => {
            b.push(1);
            put_u32(b, f.broker);
            put_u64(b, f.broker_epoch);
            put_u32(b, f.leader_epoch);
        }
    }
}

/// Decodes a request frame body.
pub fn decode_request(body: &[u8]) -> Result<BrokerRequest, WireError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let tag = r.u64()?;
    let tp = read_tp(&mut r)?;
    let request = match kind {
        REQ_DESCRIBE => {
            r.finish()?;
            return Ok(BrokerRequest::Describe { tag, tp });
        }
        REQ_ALTER_ISR => {
            let request = read_isr_request(&mut r)?;
            r.finish()?;
            return Ok(BrokerRequest::AlterIsr { tag, tp, request });
        }
        REQ_PRODUCE => read_produce(&mut r)?,
        REQ_FETCH => Request::Fetch {
            offset: r.u64()?,
            max_bytes: r.u32()?,
            replica: r.opt(16, |r| {
                Ok(ReplicaFetch {
                    broker: r.u32()?,
                    broker_epoch: r.u64()?,
                    leader_epoch: r.u32()?,
                })
            })?,
        },
        REQ_OFFSET_FOR_EPOCH => Request::OffsetForEpoch {
            epoch: r.u32()?,
            leader_epoch: r.u32()?,
        },
        other => return Err(WireError::UnknownKind(other)),
    };
    r.finish()?;
    Ok(BrokerRequest::Partition { tag, tp, request })
}

fn read_isr_request(r: &mut Reader<'_>) -> Result<IsrRequest, WireError> {
    let leader = r.u32()?;
    let leader_epoch = r.u32()?;
    let state_version = r.u64()?;
    let count = r.count(12)?;
    let mut isr = Vec::with_capacity(count);
    for _ in 0..count {
        isr.push(Member {
            broker: r.u32()?,
            epoch: r.u64()?,
        });
    }
    Ok(IsrRequest {
        leader,
        leader_epoch,
        state_version,
        isr,
    })
}

fn read_produce(r: &mut Reader<'_>) -> Result<Request, WireError> {
    let acks = acks_from(r.u8()?)?;
    let producer = r.opt(16, |r| {
        Ok(Producer {
            id: r.u64()?,
            first_seq: r.u64()?,
        })
    })?;
    let count = r.count(4)?;
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        records.push(r.bytes()?.to_vec());
    }
    Ok(Request::Produce {
        acks,
        producer,
        records,
    })
}

/// Appends the frame of `response` to `out`.
pub fn encode_response(out: &mut Vec<u8>, response: &BrokerResponse) {
    frame(out, |b| match response {
        BrokerResponse::Described {
            tag,
            role,
            leader_epoch,
            high_watermark,
            log_end,
        } => {
            b.push(RESP_DESCRIBED);
            put_u64(b, *tag);
            b.push(role_to(*role));
            match leader_epoch {
                None => b.extend_from_slice(&[0; 5]),
                Some(e) => {
                    b.push(1);
                    put_u32(b, *e);
                }
            }
            put_u64(b, *high_watermark);
            put_u64(b, *log_end);
        }
        BrokerResponse::Partition { tag, response } => put_partition_response(b, *tag, response),
        BrokerResponse::IsrAnswer { tag, refused } => {
            b.push(RESP_ISR_ANSWER);
            put_u64(b, *tag);
            match refused {
                None => b.extend_from_slice(&[0; 14]),
                Some(why) => {
                    b.push(1);
                    put_u32(b, why.leader_epoch);
                    b.push(u8::from(why.deposed));
                    put_u64(b, why.state_version);
                }
            }
        }
    });
}

fn put_partition_response(b: &mut Vec<u8>, tag: u64, response: &Response) {
    let kind = match response {
        Response::Produced { .. } => RESP_PRODUCED,
        Response::Fetched { .. } => RESP_FETCHED,
        Response::EpochEnd { .. } => RESP_EPOCH_END,
        Response::Error(_) => RESP_ERROR,
    };
    b.push(kind);
    put_u64(b, tag);
    match response {
        Response::Produced { base_offset } => put_u64(b, *base_offset),
        Response::Fetched {
            high_watermark,
            log_end,
            batches,
        } => {
            put_u64(b, *high_watermark);
            put_u64(b, *log_end);
            put_u32(b, batches.len() as u32);
            for batch in batches {
                put_u32(b, encoded_len(batch) as u32);
                encode_batch(b, batch);
            }
        }
        Response::EpochEnd { end: None } => b.extend_from_slice(&[0; 13]),
        Response::EpochEnd {
            end: Some((epoch, offset)),
        } => {
            b.push(1);
            put_u32(b, *epoch);
            put_u64(b, *offset);
        }
        Response::Error(code) => b.push(error_to(*code)),
    }
}

/// Decodes a response frame body.
pub fn decode_response(body: &[u8]) -> Result<BrokerResponse, WireError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let tag = r.u64()?;
    let response = match kind {
        RESP_DESCRIBED => {
            let described = read_described(&mut r, tag)?;
            r.finish()?;
            return Ok(described);
        }
        RESP_ISR_ANSWER => {
            let refused = r.opt(13, |r| {
                Ok(IsrRefusal {
                    leader_epoch: r.u32()?,
                    deposed: r.flag()?,
                    state_version: r.u64()?,
                })
            })?;
            r.finish()?;
            return Ok(BrokerResponse::IsrAnswer { tag, refused });
        }
        RESP_PRODUCED => Response::Produced {
            base_offset: r.u64()?,
        },
        RESP_FETCHED => read_fetched(&mut r)?,
        RESP_EPOCH_END => Response::EpochEnd {
            end: r.opt(12, |r| Ok((r.u32()?, r.u64()?)))?,
        },
        RESP_ERROR => Response::Error(error_from(r.u8()?)?),
        other => return Err(WireError::UnknownKind(other)),
    };
    r.finish()?;
    Ok(BrokerResponse::Partition { tag, response })
}

fn read_described(r: &mut Reader<'_>, tag: u64) -> Result<BrokerResponse, WireError> {
    Ok(BrokerResponse::Described {
        tag,
        role: role_from(r.u8()?)?,
        leader_epoch: r.opt(4, |r| r.u32())?,
        high_watermark: r.u64()?,
        log_end: r.u64()?,
    })
}

fn read_fetched(r: &mut Reader<'_>) -> Result<Response, WireError> {
    let high_watermark = r.u64()?;
    let log_end = r.u64()?;
    let count = r.count(4 + BATCH_HEADER_BYTES)?;
    let mut batches = Vec::with_capacity(count);
    for _ in 0..count {
        let mut inner = Reader::new(r.bytes()?);
        batches.push(read_batch(&mut inner)?);
        inner.finish()?;
    }
    Ok(Response::Fetched {
        high_watermark,
        log_end,
        batches,
    })
}

#[cfg(test)]
mod tests;
