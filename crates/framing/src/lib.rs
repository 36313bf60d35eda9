//! Length-prefixed frames over TCP with a capped hello, as the bookie and the broker speak them.
//!
//! Every frame is a `u32` big-endian body length and the body; a connection starts with a
//! hello frame each way (four magic bytes naming the protocol, then a `u16` version). This
//! crate holds what both servers share: [`read_frame`] (the cap checked before anything is
//! allocated, the buffer growing with what arrives), [`frame`], the hello codec, the
//! per-connection skeleton ([`conn`]) and the accept loop ([`accept`]). The message types, their
//! codecs and the cores stay with each server.

pub mod accept;
pub mod conn;

use tokio::io::{AsyncRead, AsyncReadExt};

pub use accept::accept_loop;
pub use conn::{handshake, Conn, ConnHandle, ConnLimits, OutBytesGauge, SendError};

/// Bytes of the frame length prefix.
pub const LENGTH_BYTES: usize = 4;
/// Largest hello body accepted: the hello is tiny, and a first frame that announces more is
/// not a client of the protocol (a stray HTTP request, a port scanner, a 1 GiB length).
pub const MAX_HELLO_BYTES: u32 = 64;
/// What a frame's buffer starts with before it grows with the bytes that arrive.
const FIRST_READ_BYTES: usize = 64 << 10;

/// A protocol's hello: its magic and the version this build speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    pub magic: &'static [u8; 4],
    pub version: u16,
}

/// A frame whose announced length exceeds the reader's cap (carried inside the
/// `InvalidData` error [`read_frame`] returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("frame of {len} bytes exceeds the cap of {cap}")]
pub struct TooLong {
    pub len: u32,
    pub cap: u32,
}

/// Why a hello body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error("hello ends early: needs {needed} more bytes at offset {at}")]
    Short { at: usize, needed: usize },
    #[error("hello does not start with the magic {}", String::from_utf8_lossy(.0))]
    BadMagic([u8; 4]),
    #[error("{0} bytes left over after the hello")]
    Trailing(usize),
}

/// Appends a frame holding `body` (length prefix included) to `out`.
pub fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_BYTES]);
    body(out);
    let len = (out.len() - start - LENGTH_BYTES) as u32;
    out[start..start + LENGTH_BYTES].copy_from_slice(&len.to_be_bytes());
}

/// Appends the hello frame (either direction: the client's names the version it speaks, the
/// server's the version it answers with).
pub fn encode_hello(out: &mut Vec<u8>, magic: &[u8; 4], version: u16) {
    frame(out, |b| {
        b.extend_from_slice(magic);
        b.extend_from_slice(&version.to_be_bytes());
    });
}

/// The protocol version of a hello body, which must start with `magic` and hold nothing more.
/// Strict, so a confused peer is noticed at its first frame rather than misread.
pub fn decode_hello(body: &[u8], magic: &[u8; 4]) -> Result<u16, HelloError> {
    let short = |at: usize, n: usize| HelloError::Short {
        at,
        needed: at + n - body.len(),
    };
    let got = body.get(..4).ok_or_else(|| short(0, 4))?;
    if got != magic {
        return Err(HelloError::BadMagic(*magic));
    }
    let version = body.get(4..6).ok_or_else(|| short(4, 2))?;
    match body.len() - 6 {
        0 => Ok(u16::from_be_bytes([version[0], version[1]])),
        left => Err(HelloError::Trailing(left)),
    }
}

/// Reads one frame body of at most `cap` bytes. `Ok(None)` at a clean end of stream (before
/// any byte of a frame); an end of stream inside a frame is `UnexpectedEof`. The length is
/// checked against `cap` before anything is allocated (a longer one is `InvalidData` holding
/// [`TooLong`]), so a hostile length costs nothing.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    cap: u32,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; LENGTH_BYTES];
    let mut got = 0;
    while got < LENGTH_BYTES {
        let n = reader.read(&mut len[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    let len = u32::from_be_bytes(len);
    if len > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            TooLong { len, cap },
        ));
    }
    read_body(reader, len as usize).await.map(Some)
}

/// Reads a body of `len` bytes. The buffer grows with what arrives rather than taking the
/// announced length at once, so a peer that announces a large frame and sends it slowly holds
/// about what it sent; and it grows exactly, doubling but never past the frame's length, so no
/// frame costs more than its cap.
async fn read_body<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> std::io::Result<Vec<u8>> {
    let mut body: Vec<u8> = Vec::new();
    while body.len() < len {
        if body.len() == body.capacity() {
            let target = (body.capacity() * 2).clamp(FIRST_READ_BYTES.min(len), len);
            body.reserve_exact(target - body.len());
        }
        let start = body.len();
        body.resize(body.capacity().min(len), 0);
        let n = reader.read(&mut body[start..]).await?;
        body.truncate(start + n);
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests;
