//! The primitive encoding shared by the txn format and the snapshot format: big-endian
//! integers, length-prefixed strings and buffers. Reading never trusts a length: buffers are
//! read incrementally (`Read::take`), so a corrupt length cannot make us allocate more than
//! the input holds, and vectors grow one element at a time.

use std::io::{self, Read, Write};

use bytes::Bytes;
use proto::{Acl, Id};

use crate::node::NodeKind;
use crate::node_path::NodePath;
use crate::thin_bytes::ThinBytes;

/// A malformed encoding.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The input ended early, or the reader failed.
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    /// The bytes are not a valid encoding.
    #[error("corrupt: {0}")]
    Corrupt(String),
}

pub(crate) fn corrupt<T>(what: impl Into<String>) -> Result<T, CodecError> {
    Err(CodecError::Corrupt(what.into()))
}

/// Appends encoded values to a writer.
pub(crate) struct Enc<W: Write> {
    pub w: W,
}

impl<W: Write> Enc<W> {
    pub fn u8(&mut self, v: u8) -> io::Result<()> {
        self.w.write_all(&[v])
    }
    pub fn i32(&mut self, v: i32) -> io::Result<()> {
        self.w.write_all(&v.to_be_bytes())
    }
    pub fn u32(&mut self, v: u32) -> io::Result<()> {
        self.w.write_all(&v.to_be_bytes())
    }
    pub fn i64(&mut self, v: i64) -> io::Result<()> {
        self.w.write_all(&v.to_be_bytes())
    }
    pub fn u64(&mut self, v: u64) -> io::Result<()> {
        self.w.write_all(&v.to_be_bytes())
    }
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.u32(b.len() as u32)?;
        self.w.write_all(b)
    }
    pub fn str(&mut self, s: &str) -> io::Result<()> {
        self.bytes(s.as_bytes())
    }
    /// [`Enc::str`] of a node's path, written from its parts.
    pub fn path(&mut self, p: &NodePath) -> io::Result<()> {
        self.u32(p.len() as u32)?;
        for piece in p.pieces() {
            self.w.write_all(piece.as_bytes())?;
        }
        Ok(())
    }
    /// Null data is length -1, as in jute, so null and empty survive a round trip.
    pub fn data(&mut self, d: Option<&[u8]>) -> io::Result<()> {
        match d {
            None => self.i32(-1),
            Some(b) => {
                self.i32(b.len() as i32)?;
                self.w.write_all(b)
            }
        }
    }
    pub fn acl(&mut self, acl: &[Acl]) -> io::Result<()> {
        self.u32(acl.len() as u32)?;
        for a in acl {
            self.i32(a.perms)?;
            self.str(&a.id.scheme)?;
            self.str(&a.id.id)?;
        }
        Ok(())
    }
    pub fn kind(&mut self, k: NodeKind) -> io::Result<()> {
        match k {
            NodeKind::Persistent => self.u8(0),
            NodeKind::Ephemeral(s) => {
                self.u8(1)?;
                self.i64(s)
            }
            NodeKind::Container => self.u8(2),
            NodeKind::Ttl(ms) => {
                self.u8(3)?;
                self.i64(ms)
            }
        }
    }
    pub fn strs(&mut self, v: &[String]) -> io::Result<()> {
        self.u32(v.len() as u32)?;
        v.iter().try_for_each(|s| self.str(s))
    }
}

/// The most a decoder allocates ahead of the bytes for one length-prefixed value.
const EXACT_PREALLOC_BYTES: usize = 64 << 10;

/// Reads encoded values.
pub(crate) struct Dec<R: Read> {
    pub r: R,
}

impl<R: Read> Dec<R> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }
    pub fn i32(&mut self) -> Result<i32, CodecError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    /// `len` bytes in a vector of exactly that capacity: a restored node's data and path are
    /// kept as they are read, and a vector grown by doubling would keep its slack (and, turned
    /// into `Bytes`, a separate header). The length is untrusted, so beyond
    /// [`EXACT_PREALLOC_BYTES`] the vector grows only as bytes arrive.
    fn exact(&mut self, len: usize) -> Result<Vec<u8>, CodecError> {
        let mut v = Vec::with_capacity(len.min(EXACT_PREALLOC_BYTES));
        (&mut self.r).take(len as u64).read_to_end(&mut v)?;
        if v.len() != len {
            return Err(CodecError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        v.shrink_to_fit();
        Ok(v)
    }
    pub fn bytes(&mut self) -> Result<Vec<u8>, CodecError> {
        let len = self.u32()? as usize;
        self.exact(len)
    }
    pub fn str(&mut self) -> Result<String, CodecError> {
        String::from_utf8(self.bytes()?).or_else(|_| corrupt("string is not UTF-8"))
    }
    pub fn data(&mut self) -> Result<Option<Bytes>, CodecError> {
        match self.data_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(Bytes::from(self.exact(n)?))),
        }
    }
    /// [`Dec::data`] as a restored node keeps it.
    pub fn data_thin(&mut self) -> Result<Option<ThinBytes>, CodecError> {
        match self.data_len()? {
            None => Ok(None),
            Some(n) => Ok(Some(self.thin(n)?)),
        }
    }
    /// A data length: `None` for null data (-1), an error for other negative ones.
    fn data_len(&mut self) -> Result<Option<usize>, CodecError> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => corrupt(format!("negative data length {n}")),
            n => Ok(Some(n as usize)),
        }
    }
    /// [`Dec::str`] read into `buf`, reused from one record to the next (a node's path, which
    /// the tree keeps in parts). Grows only as the bytes arrive, whatever length is claimed.
    pub fn str_in<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<&'b str, CodecError> {
        let len = self.u32()? as usize;
        buf.clear();
        (&mut self.r).take(len as u64).read_to_end(buf)?;
        if buf.len() != len {
            return Err(CodecError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        std::str::from_utf8(buf).or_else(|_| corrupt("string is not UTF-8"))
    }
    /// `len` bytes read straight into their allocation, or, past [`EXACT_PREALLOC_BYTES`]
    /// (an untrusted length), read first and copied.
    fn thin(&mut self, len: usize) -> Result<ThinBytes, CodecError> {
        if len > EXACT_PREALLOC_BYTES {
            return Ok(ThinBytes::new(&self.exact(len)?));
        }
        ThinBytes::filled(len, |b| self.r.read_exact(b)).map_err(CodecError::from)
    }
    pub fn acl(&mut self) -> Result<Vec<Acl>, CodecError> {
        let n = self.u32()?;
        let mut acl = Vec::new();
        for _ in 0..n {
            let perms = self.i32()?;
            let scheme = self.str()?;
            let id = self.str()?;
            acl.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(acl)
    }
    pub fn kind(&mut self) -> Result<NodeKind, CodecError> {
        Ok(match self.u8()? {
            0 => NodeKind::Persistent,
            1 => NodeKind::Ephemeral(self.i64()?),
            2 => NodeKind::Container,
            3 => NodeKind::Ttl(self.i64()?),
            t => return corrupt(format!("unknown node kind {t}")),
        })
    }
    pub fn strs(&mut self) -> Result<Vec<String>, CodecError> {
        let n = self.u32()?;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(self.str()?);
        }
        Ok(v)
    }
}
