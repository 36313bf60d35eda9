//! The bookie's TCP codec: `ledger::message::{Request, Response}` as length-prefixed frames.
//!
//! The layout is documented in docs/ledgers.md ("Wire protocol"). In short, every frame is a
//! `u32` big-endian body length followed by the body; every integer is big endian; a connection
//! starts with a hello frame each way. Decoding is strict (unknown kinds, booleans other than
//! 0/1, short or trailing bytes are errors) so that a confused peer is noticed at its first
//! frame rather than misread, and it never allocates more than the body it was given — whose
//! length the caller has already checked against its cap before reading it. Frames and the
//! hello are the `framing` crate's, shared with the broker; [`read_frame`], [`LENGTH_BYTES`]
//! and [`MAX_HELLO_BYTES`] are re-exported from it.

use framing::{frame, HelloError, Protocol};
pub use framing::{read_frame, LENGTH_BYTES, MAX_HELLO_BYTES};
use ledger::message::{Refusal, Request, Response};

/// The first four bytes of every hello.
pub const MAGIC: &[u8; 4] = b"QLDG";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The bookie protocol's hello.
pub const PROTOCOL: Protocol = Protocol {
    magic: MAGIC,
    version: PROTOCOL_VERSION,
};
/// Bytes an add request spends besides its payload (kind, tag, ledger, entry, LAC, recovery,
/// payload length); a frame cap of `max entry + ADD_HEADER_BYTES` admits every allowed entry.
pub const ADD_HEADER_BYTES: u32 = 1 + 8 + 8 + 8 + 9 + 1 + 4;
/// Default cap on a frame body after the hello: an 8 MiB entry and its header.
pub const DEFAULT_MAX_FRAME_BYTES: u32 = (8 << 20) + 64;

const REQ_ADD: u8 = 1;
const REQ_READ: u8 = 2;
const REQ_READ_LAC: u8 = 3;
const RESP_ADDED: u8 = 1;
const RESP_ENTRY: u8 = 2;
const RESP_LAC: u8 = 3;
const RESP_REFUSED: u8 = 4;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame body ends early: needs {needed} more bytes at offset {at}")]
    Short { at: usize, needed: usize },
    #[error("{0} bytes left over after the message")]
    Trailing(usize),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("byte {value} at offset {at} is neither 0 nor 1")]
    BadFlag { at: usize, value: u8 },
    #[error("absent value at offset {at} is not all zeros")]
    NonCanonical { at: usize },
    #[error("unknown refusal code {0}")]
    UnknownRefusal(u8),
    #[error("hello does not start with the magic QLDG")]
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

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_opt(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.extend_from_slice(&[0; 9]),
        Some(v) => {
            out.push(1);
            put_u64(out, v);
        }
    }
}

fn put_payload(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Appends the hello frame (either direction: the client's names the version it speaks, the
/// bookie's the version it answers with).
pub fn encode_hello(out: &mut Vec<u8>, version: u16) {
    framing::encode_hello(out, MAGIC, version);
}

/// The protocol version of a hello body.
pub fn decode_hello(body: &[u8]) -> Result<u16, WireError> {
    Ok(framing::decode_hello(body, MAGIC)?)
}

/// Appends the frame of `request` to `out`.
pub fn encode_request(out: &mut Vec<u8>, request: &Request) {
    frame(out, |b| match request {
        Request::Add {
            tag,
            ledger,
            entry,
            lac,
            payload,
            recovery,
        } => {
            b.push(REQ_ADD);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            put_u64(b, *entry);
            put_opt(b, *lac);
            b.push(u8::from(*recovery));
            put_payload(b, payload);
        }
        Request::Read {
            tag,
            ledger,
            entry,
            fence,
        } => {
            b.push(REQ_READ);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            put_u64(b, *entry);
            b.push(u8::from(*fence));
        }
        Request::ReadLac { tag, ledger, fence } => {
            b.push(REQ_READ_LAC);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            b.push(u8::from(*fence));
        }
    });
}

/// Decodes a request frame body.
pub fn decode_request(body: &[u8]) -> Result<Request, WireError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let (tag, ledger) = (r.u64()?, r.u64()?);
    let request = match kind {
        REQ_ADD => {
            let entry = r.u64()?;
            let lac = r.opt()?;
            let recovery = r.flag()?;
            let payload = r.payload()?;
            Request::Add {
                tag,
                ledger,
                entry,
                lac,
                payload,
                recovery,
            }
        }
        REQ_READ => Request::Read {
            tag,
            ledger,
            entry: r.u64()?,
            fence: r.flag()?,
        },
        REQ_READ_LAC => Request::ReadLac {
            tag,
            ledger,
            fence: r.flag()?,
        },
        other => return Err(WireError::UnknownKind(other)),
    };
    r.finish()?;
    Ok(request)
}

/// Appends the frame of `response` to `out`.
pub fn encode_response(out: &mut Vec<u8>, response: &Response) {
    frame(out, |b| match response {
        Response::Added { tag, ledger, entry } => {
            b.push(RESP_ADDED);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            put_u64(b, *entry);
        }
        Response::Entry {
            tag,
            ledger,
            entry,
            lac,
            payload,
        } => {
            b.push(RESP_ENTRY);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            put_u64(b, *entry);
            put_opt(b, *lac);
            put_payload(b, payload);
        }
        Response::Lac {
            tag,
            ledger,
            lac,
            last_entry,
        } => {
            b.push(RESP_LAC);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            put_opt(b, *lac);
            put_opt(b, *last_entry);
        }
        Response::Refused { tag, ledger, why } => {
            b.push(RESP_REFUSED);
            put_u64(b, *tag);
            put_u64(b, *ledger);
            b.push(why.code());
        }
    });
}

/// Decodes a response frame body.
pub fn decode_response(body: &[u8]) -> Result<Response, WireError> {
    let mut r = Reader::new(body);
    let kind = r.u8()?;
    let (tag, ledger) = (r.u64()?, r.u64()?);
    let response = match kind {
        RESP_ADDED => Response::Added {
            tag,
            ledger,
            entry: r.u64()?,
        },
        RESP_ENTRY => Response::Entry {
            tag,
            ledger,
            entry: r.u64()?,
            lac: r.opt()?,
            payload: r.payload()?,
        },
        RESP_LAC => Response::Lac {
            tag,
            ledger,
            lac: r.opt()?,
            last_entry: r.opt()?,
        },
        RESP_REFUSED => {
            let code = r.u8()?;
            Response::Refused {
                tag,
                ledger,
                why: Refusal::from_code(code).ok_or(WireError::UnknownRefusal(code))?,
            }
        }
        other => return Err(WireError::UnknownKind(other)),
    };
    r.finish()?;
    Ok(response)
}

/// A bounds-checked cursor over a frame body: every read fails cleanly past the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(WireError::Short {
                at: self.pos,
                needed: n - left,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn flag(&mut self) -> Result<bool, WireError> {
        let at = self.pos;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(WireError::BadFlag { at, value }),
        }
    }

    fn opt(&mut self) -> Result<Option<u64>, WireError> {
        let at = self.pos;
        let present = self.flag()?;
        let value = self.u64()?;
        if !present && value != 0 {
            // One encoding per value: a peer that sets bytes we would ignore is confused.
            return Err(WireError::NonCanonical { at });
        }
        Ok(present.then_some(value))
    }

    /// A `u32` length and that many bytes; the length is checked against what is left before
    /// the copy, so it can never ask for more memory than the body holds.
    fn payload(&mut self) -> Result<Vec<u8>, WireError> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        Ok(self.take(len)?.to_vec())
    }

    fn finish(self) -> Result<(), WireError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            left => Err(WireError::Trailing(left)),
        }
    }
}

#[cfg(test)]
mod tests;
