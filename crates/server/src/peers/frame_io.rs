//! Reading and writing length-prefixed peer frames with a bound on their size and on silence.
//!
//! A frame's length prefix is a claim, not a fact: the reader refuses a claim above the limit
//! it is given before buffering a byte of the frame, and for a claim under the limit it grows
//! its buffer only as bytes arrive, so a bogus length costs nothing. Every read and every
//! write must make progress within `silence`, or the link is declared dead.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Most bytes a frame's buffer grows by per read: a frame's memory follows what arrived.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Most bytes handed to one socket write, so that a big frame (a SNAP) shows progress
/// chunk by chunk against the silence timeout rather than all or nothing.
pub const WRITE_CHUNK_BYTES: usize = 256 * 1024;

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("a frame of {len} bytes is over the limit of {max_bytes} bytes")]
    TooLong { len: usize, max_bytes: usize },
    #[error("no progress for {0:?}")]
    Silent(Duration),
}

/// Runs `io`, failing with [`FrameError::Silent`] if it takes longer than `silence`.
async fn within<T>(
    silence: Duration,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, FrameError> {
    match tokio::time::timeout(silence, io).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(FrameError::Silent(silence)),
    }
}

/// Reads one frame's payload (without its length prefix), of at most `max_bytes` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_bytes: usize,
    silence: Duration,
) -> Result<Bytes, FrameError> {
    let mut buf = BytesMut::new();
    read_frame_into(reader, &mut buf, max_bytes, silence).await?;
    Ok(buf.freeze())
}

/// [`read_frame`] into a buffer the caller owns (so tests can see what was allocated).
/// Refuses a length over `max_bytes` right after the 4-byte prefix, reading nothing more.
pub async fn read_frame_into<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut BytesMut,
    max_bytes: usize,
    silence: Duration,
) -> Result<(), FrameError> {
    let len = within(silence, reader.read_u32()).await? as usize;
    if len > max_bytes {
        return Err(FrameError::TooLong { len, max_bytes });
    }
    buf.clear();
    while buf.len() < len {
        let want = (len - buf.len()).min(READ_CHUNK_BYTES);
        buf.reserve(want);
        let mut limited = (&mut *buf).limit(want);
        let n = within(silence, reader.read_buf(&mut limited)).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    Ok(())
}

/// Writes `bytes` in chunks, each of which must be taken by the socket within `silence`, then
/// flushes: a TLS stream may keep the last record in its buffer until flushed (on TCP the
/// flush is free).
pub async fn write_all_within<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    silence: Duration,
) -> Result<(), FrameError> {
    for chunk in bytes.chunks(WRITE_CHUNK_BYTES) {
        within(silence, writer.write_all(chunk)).await?;
    }
    within(silence, writer.flush()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// A stranger's 1 GiB length prefix is refused right after the prefix: nothing past it is
    /// read and nothing is allocated for the frame.
    #[tokio::test]
    async fn a_length_over_the_limit_is_refused_after_the_prefix() {
        let mut bytes = (1u32 << 30).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"more bytes that must not be read");
        let mut reader = &bytes[..];
        let mut buf = BytesMut::new();
        let err = read_frame_into(&mut reader, &mut buf, 128, SECOND)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::TooLong { len, max_bytes: 128 } if len == 1 << 30),
            "{err}"
        );
        assert_eq!(reader.len(), bytes.len() - 4, "read past the length prefix");
        assert_eq!(buf.capacity(), 0, "allocated for a refused frame");
    }

    /// Under the limit, a bogus length allocates only for the bytes that actually arrive.
    #[tokio::test]
    async fn a_bogus_length_allocates_only_what_arrives() {
        let (mut tx, mut rx) = tokio::io::duplex(1024);
        tx.write_all(&(1u32 << 30).to_be_bytes()).await.unwrap();
        tx.write_all(&[7; 100]).await.unwrap();
        let mut buf = BytesMut::new();
        let err = read_frame_into(&mut rx, &mut buf, 1 << 30, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Silent(_)), "{err}");
        assert_eq!(buf.len(), 100);
        // One chunk reserved (the allocator may round it up), not the claimed gigabyte.
        assert!(buf.capacity() <= 2 * READ_CHUNK_BYTES, "{}", buf.capacity());
    }

    #[tokio::test]
    async fn frames_of_many_chunks_arrive_whole() {
        let payload: Vec<u8> = (0..READ_CHUNK_BYTES * 3 + 5).map(|i| i as u8).collect();
        let mut bytes = (payload.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&payload);
        let (mut tx, mut rx) = tokio::io::duplex(4096);
        let writer = tokio::spawn(async move {
            write_all_within(&mut tx, &bytes, SECOND).await.unwrap();
            tx
        });
        let frame = read_frame(&mut rx, 1 << 20, SECOND).await.unwrap();
        assert_eq!(&frame[..], &payload[..]);
        drop(writer.await.unwrap());
        let eof = read_frame(&mut rx, 1 << 20, SECOND).await.unwrap_err();
        assert!(matches!(eof, FrameError::Io(_)), "{eof}");
    }

    #[tokio::test]
    async fn a_silent_reader_times_out() {
        let (_tx, mut rx) = tokio::io::duplex(64);
        let err = read_frame(&mut rx, 128, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Silent(_)), "{err}");
    }
}
