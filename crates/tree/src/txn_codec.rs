//! The binary txn format (see docs/tree.md): a version byte, the header, then the txn as a
//! tag byte and its fields. Integers are big-endian; strings and ACL ids are u32-length
//! prefixed UTF-8; data is an i32 length with -1 for null. Decoding checks everything, never
//! panics, and rejects trailing bytes and nested multis.

use proto::ErrorCode;
use zxid::Zxid;

use crate::codec::{corrupt, CodecError, Dec, Enc};
use crate::txn::{CreateTxn, Txn, TxnHeader, TxnRecord};

/// Format version of an encoded [`TxnRecord`].
pub const TXN_FORMAT_VERSION: u8 = 1;

const CREATE: u8 = 1;
const DELETE: u8 = 2;
const DELETE_CONTAINER: u8 = 3;
const SET_DATA: u8 = 4;
const SET_ACL: u8 = 5;
const CHECK: u8 = 6;
const MULTI: u8 = 7;
const CREATE_SESSION: u8 = 8;
const CLOSE_SESSION: u8 = 9;
const ERROR: u8 = 10;
const RECONFIG: u8 = 11;

/// A txn that did not decode.
pub type TxnDecodeError = CodecError;

impl Txn {
    /// Encodes the txn body (no header).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc {
            w: Vec::with_capacity(self.encoded_len_hint()),
        };
        write_txn(&mut e, self).expect("writing to a Vec cannot fail");
        e.w
    }

    /// Decodes a txn body; the whole input must be consumed.
    pub fn decode(bytes: &[u8]) -> Result<Txn, TxnDecodeError> {
        let mut d = Dec { r: bytes };
        let txn = read_txn(&mut d, true)?;
        finish(d)?;
        Ok(txn)
    }
}

/// Format version byte, zxid, time, session and cxid.
const HEADER_LEN: usize = 1 + 8 + 8 + 8 + 4;

impl TxnRecord {
    /// Encodes version byte, header and txn.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Enc {
            w: Vec::with_capacity(HEADER_LEN + self.txn.encoded_len_hint()),
        };
        let h = &self.header;
        (|| {
            e.u8(TXN_FORMAT_VERSION)?;
            e.i64(h.zxid.as_i64())?;
            e.i64(h.time_ms)?;
            e.i64(h.session_id)?;
            e.i32(h.cxid)?;
            write_txn(&mut e, &self.txn)
        })()
        .expect("writing to a Vec cannot fail");
        // The leader keeps every txn since the last snapshot in memory (for DIFF syncs): the
        // hint above sizes the buffer, so no growth slack is kept.
        e.w
    }

    /// Decodes what [`TxnRecord::encode`] wrote.
    pub fn decode(bytes: &[u8]) -> Result<TxnRecord, TxnDecodeError> {
        let mut d = Dec { r: bytes };
        let version = d.u8()?;
        if version != TXN_FORMAT_VERSION {
            return corrupt(format!("unknown txn format version {version}"));
        }
        let header = TxnHeader {
            zxid: Zxid::from_i64(d.i64()?),
            time_ms: d.i64()?,
            session_id: d.i64()?,
            cxid: d.i32()?,
        };
        let txn = read_txn(&mut d, true)?;
        finish(d)?;
        Ok(TxnRecord { header, txn })
    }
}

impl TxnRecord {
    /// Whether `bytes`, an encoded record, is a [`Txn::Reconfig`] — from its first bytes only,
    /// without decoding it: the Zab core asks this of every transaction it appends.
    pub fn is_reconfig(bytes: &[u8]) -> bool {
        bytes.first() == Some(&TXN_FORMAT_VERSION) && bytes.get(HEADER_LEN) == Some(&RECONFIG)
    }

    /// How applying `bytes`, an encoded record, changes the number of nodes: +1 for a create,
    /// -1 for a delete, minus its ephemerals for the close of a session, the sum of its ops
    /// for a multi (0 for a failed one). From the first bytes for a create or a delete; a
    /// multi or a session close (rarer) is decoded. 0 for a record that does not decode. A
    /// restart sizes the node table with it before the logged records are applied.
    pub fn node_count_change(bytes: &[u8]) -> i64 {
        if bytes.first() != Some(&TXN_FORMAT_VERSION) {
            return 0;
        }
        match bytes.get(HEADER_LEN) {
            Some(&CREATE) => 1,
            Some(&DELETE | &DELETE_CONTAINER) => -1,
            Some(&MULTI | &CLOSE_SESSION) => match TxnRecord::decode(bytes) {
                Ok(record) => change_of(&record.txn),
                Err(_) => 0,
            },
            _ => 0,
        }
    }
}

/// [`TxnRecord::node_count_change`] of a decoded txn.
fn change_of(txn: &Txn) -> i64 {
    match txn {
        Txn::Create(_) => 1,
        Txn::Delete { .. } | Txn::DeleteContainer { .. } => -1,
        Txn::CloseSession { paths, .. } => -(paths.len() as i64),
        Txn::Multi(ops) if ops.iter().any(|op| matches!(op, Txn::Error(_))) => 0,
        Txn::Multi(ops) => ops.iter().map(change_of).sum(),
        _ => 0,
    }
}

fn finish(d: Dec<&[u8]>) -> Result<(), CodecError> {
    if d.r.is_empty() {
        Ok(())
    } else {
        corrupt(format!("{} trailing bytes after txn", d.r.len()))
    }
}

fn write_txn(e: &mut Enc<Vec<u8>>, txn: &Txn) -> std::io::Result<()> {
    match txn {
        Txn::Create(c) => {
            e.u8(CREATE)?;
            e.str(&c.path)?;
            e.data(c.data.as_deref())?;
            e.acl(&c.acl)?;
            e.kind(c.kind)?;
            e.i32(c.parent_cversion)?;
            e.u8(c.with_stat as u8)
        }
        Txn::Delete { path } => {
            e.u8(DELETE)?;
            e.str(path)
        }
        Txn::DeleteContainer { path } => {
            e.u8(DELETE_CONTAINER)?;
            e.str(path)
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            e.u8(SET_DATA)?;
            e.str(path)?;
            e.data(data.as_deref())?;
            e.i32(*version)
        }
        Txn::SetAcl {
            path,
            acl,
            aversion,
        } => {
            e.u8(SET_ACL)?;
            e.str(path)?;
            e.acl(acl)?;
            e.i32(*aversion)
        }
        Txn::Check { path, version } => {
            e.u8(CHECK)?;
            e.str(path)?;
            e.i32(*version)
        }
        Txn::Multi(txns) => {
            e.u8(MULTI)?;
            e.u32(txns.len() as u32)?;
            txns.iter().try_for_each(|t| write_txn(e, t))
        }
        Txn::CreateSession {
            session_id,
            timeout_ms,
        } => {
            e.u8(CREATE_SESSION)?;
            e.i64(*session_id)?;
            e.i32(*timeout_ms)
        }
        Txn::CloseSession { session_id, paths } => {
            e.u8(CLOSE_SESSION)?;
            e.i64(*session_id)?;
            e.strs(paths)
        }
        Txn::Error(code) => {
            e.u8(ERROR)?;
            e.i32(code.as_i32())
        }
        Txn::Reconfig { data } => {
            e.u8(RECONFIG)?;
            e.data(Some(data))
        }
    }
}

/// `top` is false inside a multi, where only node ops and errors may appear.
fn read_txn(d: &mut Dec<&[u8]>, top: bool) -> Result<Txn, CodecError> {
    let tag = d.u8()?;
    let txn = match tag {
        CREATE => Txn::Create(CreateTxn {
            path: d.str()?,
            data: d.data()?,
            acl: d.acl()?,
            kind: d.kind()?,
            parent_cversion: d.i32()?,
            with_stat: match d.u8()? {
                0 => false,
                1 => true,
                b => return corrupt(format!("bad boolean {b}")),
            },
        }),
        DELETE => Txn::Delete { path: d.str()? },
        DELETE_CONTAINER => Txn::DeleteContainer { path: d.str()? },
        SET_DATA => Txn::SetData {
            path: d.str()?,
            data: d.data()?,
            version: d.i32()?,
        },
        SET_ACL => Txn::SetAcl {
            path: d.str()?,
            acl: d.acl()?,
            aversion: d.i32()?,
        },
        CHECK => Txn::Check {
            path: d.str()?,
            version: d.i32()?,
        },
        MULTI if top => {
            let n = d.u32()?;
            let mut txns = Vec::new();
            for _ in 0..n {
                txns.push(read_txn(d, false)?);
            }
            Txn::Multi(txns)
        }
        CREATE_SESSION if top => Txn::CreateSession {
            session_id: d.i64()?,
            timeout_ms: d.i32()?,
        },
        CLOSE_SESSION if top => Txn::CloseSession {
            session_id: d.i64()?,
            paths: d.strs()?,
        },
        RECONFIG if top => match d.data()? {
            Some(data) => Txn::Reconfig { data },
            None => return corrupt("a reconfig txn without its configuration".to_string()),
        },
        ERROR => {
            let code = d.i32()?;
            Txn::Error(
                ErrorCode::try_from(code)
                    .or_else(|_| corrupt(format!("unknown error code {code}")))?,
            )
        }
        t if !top && (t == MULTI || t == CREATE_SESSION || t == CLOSE_SESSION || t == RECONFIG) => {
            return corrupt(format!("txn type {t} inside a multi"))
        }
        t => return corrupt(format!("unknown txn type {t}")),
    };
    Ok(txn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(txn: Txn) -> Vec<u8> {
        let header = TxnHeader {
            zxid: Zxid::from_i64(7),
            time_ms: 1,
            session_id: 2,
            cxid: 3,
        };
        TxnRecord { header, txn }.encode()
    }

    fn create(path: &str) -> Txn {
        Txn::Create(CreateTxn {
            path: path.into(),
            data: None,
            acl: proto::Acl::open_unsafe(),
            kind: crate::node::NodeKind::Persistent,
            parent_cversion: 1,
            with_stat: false,
        })
    }

    #[test]
    fn node_count_change_of_creates_deletes_multis_and_session_closes() {
        assert_eq!(TxnRecord::node_count_change(&record(create("/a"))), 1);
        let delete = Txn::Delete { path: "/a".into() };
        assert_eq!(TxnRecord::node_count_change(&record(delete.clone())), -1);
        let container = Txn::DeleteContainer { path: "/a".into() };
        assert_eq!(TxnRecord::node_count_change(&record(container)), -1);
        let set = Txn::SetData {
            path: "/a".into(),
            data: None,
            version: 1,
        };
        assert_eq!(TxnRecord::node_count_change(&record(set)), 0);
        let multi = Txn::Multi(vec![
            create("/b"),
            delete.clone(),
            create("/c"),
            create("/d"),
        ]);
        assert_eq!(TxnRecord::node_count_change(&record(multi)), 2);
        let failed = Txn::Multi(vec![create("/b"), Txn::Error(ErrorCode::NodeExists)]);
        assert_eq!(TxnRecord::node_count_change(&record(failed)), 0);
        let close = Txn::CloseSession {
            session_id: 5,
            paths: vec!["/e1".into(), "/e2".into()],
        };
        assert_eq!(TxnRecord::node_count_change(&record(close)), -2);
    }

    #[test]
    fn node_count_change_of_bytes_that_do_not_decode_is_zero() {
        assert_eq!(TxnRecord::node_count_change(&[]), 0);
        let mut bad_version = record(create("/a"));
        bad_version[0] = 99;
        assert_eq!(TxnRecord::node_count_change(&bad_version), 0);
        let mut cut_multi = record(Txn::Multi(vec![create("/b")]));
        cut_multi.truncate(cut_multi.len() - 1);
        assert_eq!(TxnRecord::node_count_change(&cut_multi), 0);
    }
}
