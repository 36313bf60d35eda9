//! multi and multiRead: a list of ops, each behind a [`MultiHeader`], closed by
//! [`MultiHeader::END`]; the answer is a list of results framed the same way.
//!
//! A multi holds only writes (create*, delete, setData, check) and is all-or-nothing; a
//! multiRead holds only reads (getChildren, getData) and each answers on its own. ZooKeeper
//! refuses to mix the two kinds, and so does the decoder.

use bytes::{Buf, BufMut, Bytes};

use crate::error::DecodeError;
use crate::error_code::ErrorCode;
use crate::jute::{Decode, Encode};
use crate::opcode::OpCode;
use crate::records::data::Stat;
use crate::records::header::MultiHeader;
use crate::records::requests::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, GetChildrenRequest,
    GetDataRequest, SetDataRequest,
};
use crate::records::responses::{
    Create2Response, CreateResponse, ErrorResponse, GetChildrenResponse, GetDataResponse,
    StatResponse,
};

/// One operation of a multi (writes) or multiRead (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create: the result carries the path.
    Create(CreateRequest),
    /// create2: the result carries path and stat.
    Create2(CreateRequest),
    /// createContainer.
    CreateContainer(CreateRequest),
    /// createTTL.
    CreateTtl(CreateTtlRequest),
    /// delete.
    Delete(DeleteRequest),
    /// setData.
    SetData(SetDataRequest),
    /// check (version assertion).
    Check(CheckVersionRequest),
    /// getChildren (multiRead only; the watch flag is ignored by ZooKeeper).
    GetChildren(GetChildrenRequest),
    /// getData (multiRead only; the watch flag is ignored by ZooKeeper).
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The opcode written in this op's header.
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// A read op (may appear in multiRead only).
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    /// The path the op acts on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(buf),
            MultiOp::CreateTtl(r) => r.encode(buf),
            MultiOp::Delete(r) => r.encode(buf),
            MultiOp::SetData(r) => r.encode(buf),
            MultiOp::Check(r) => r.encode(buf),
            MultiOp::GetChildren(r) => r.encode(buf),
            MultiOp::GetData(r) => r.encode(buf),
        }
    }

    fn decode_body<B: Buf>(op: i32, buf: &mut B) -> Result<Option<Self>, DecodeError> {
        let Ok(code) = OpCode::try_from(op) else {
            return Ok(None);
        };
        Ok(Some(match code {
            OpCode::Create => MultiOp::Create(Decode::decode(buf)?),
            OpCode::Create2 => MultiOp::Create2(Decode::decode(buf)?),
            OpCode::CreateContainer => MultiOp::CreateContainer(Decode::decode(buf)?),
            OpCode::CreateTtl => MultiOp::CreateTtl(Decode::decode(buf)?),
            OpCode::Delete => MultiOp::Delete(Decode::decode(buf)?),
            OpCode::SetData => MultiOp::SetData(Decode::decode(buf)?),
            OpCode::Check => MultiOp::Check(Decode::decode(buf)?),
            OpCode::GetChildren => MultiOp::GetChildren(Decode::decode(buf)?),
            OpCode::GetData => MultiOp::GetData(Decode::decode(buf)?),
            _ => return Ok(None),
        }))
    }
}

/// Writes the ops of a multi or multiRead body, with their headers and the terminator.
pub fn encode_ops<B: BufMut>(ops: &[MultiOp], buf: &mut B) {
    for op in ops {
        MultiHeader {
            op: op.opcode().as_i32(),
            done: false,
            err: -1,
        }
        .encode(buf);
        op.encode_body(buf);
    }
    MultiHeader::END.encode(buf);
}

/// Reads the ops of a multi (`read == false`) or multiRead (`read == true`) body. Each op
/// consumes at least its 9-byte header, so the loop is bounded by the input.
pub fn decode_ops<B: Buf>(buf: &mut B, read: bool) -> Result<Vec<MultiOp>, DecodeError> {
    let within = if read { "multiRead" } else { "multi" };
    let mut ops = Vec::new();
    loop {
        let header = MultiHeader::decode(buf)?;
        if header.done {
            return Ok(ops);
        }
        match MultiOp::decode_body(header.op, buf)? {
            Some(op) if op.is_read() == read => ops.push(op),
            _ => {
                return Err(DecodeError::InvalidMultiOp {
                    op: header.op,
                    within,
                })
            }
        }
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// A create op: the created path.
    Create {
        /// The path.
        path: String,
    },
    /// A create2, createContainer or createTTL op: path and stat.
    Create2 {
        /// The path.
        path: String,
        /// The new node's stat.
        stat: Stat,
    },
    /// A delete op.
    Delete,
    /// A setData op: the new stat.
    SetData {
        /// The node's stat.
        stat: Stat,
    },
    /// A check op.
    Check,
    /// A getChildren op (multiRead).
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// A getData op (multiRead).
    GetData {
        /// The data.
        data: Option<Bytes>,
        /// The node's stat.
        stat: Stat,
    },
    /// A failed op. In a failed multi every op gets one: the op that failed carries its
    /// code, the ops before it `Ok` (rolled back), the ops after it RuntimeInconsistency.
    Error {
        /// The op's error code.
        err: ErrorCode,
    },
}

impl MultiResult {
    /// The opcode written in this result's header.
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData { .. } => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetChildren { .. } => OpCode::GetChildren,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::Error { .. } => OpCode::Error,
        }
    }
}

/// Writes the results of a multi or multiRead response, with headers and the terminator.
pub fn encode_results<B: BufMut>(results: &[MultiResult], buf: &mut B) {
    for result in results {
        let err = match result {
            MultiResult::Error { err } => err.as_i32(),
            _ => 0,
        };
        MultiHeader {
            op: result.opcode().as_i32(),
            done: false,
            err,
        }
        .encode(buf);
        match result {
            MultiResult::Create { path } => write_path(path, buf),
            MultiResult::Create2 { path, stat } => {
                write_path(path, buf);
                stat.encode(buf);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.encode(buf),
            MultiResult::GetChildren { children } => children.encode(buf),
            MultiResult::GetData { data, stat } => {
                data.encode(buf);
                stat.encode(buf);
            }
            MultiResult::Error { err } => ErrorResponse { err: err.as_i32() }.encode(buf),
        }
    }
    MultiHeader::END.encode(buf);
}

fn write_path<B: BufMut>(path: &str, buf: &mut B) {
    crate::jute::write_string(buf, path);
}

/// Reads the results of a multi or multiRead response.
pub fn decode_results<B: Buf>(buf: &mut B) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let header = MultiHeader::decode(buf)?;
        if header.done {
            return Ok(results);
        }
        let result = match OpCode::try_from(header.op) {
            Ok(OpCode::Create) => MultiResult::Create {
                path: CreateResponse::decode(buf)?.path,
            },
            Ok(OpCode::Create2) => {
                let r = Create2Response::decode(buf)?;
                MultiResult::Create2 {
                    path: r.path,
                    stat: r.stat,
                }
            }
            Ok(OpCode::Delete) => MultiResult::Delete,
            Ok(OpCode::SetData) => MultiResult::SetData {
                stat: StatResponse::decode(buf)?.stat,
            },
            Ok(OpCode::Check) => MultiResult::Check,
            Ok(OpCode::GetChildren) => MultiResult::GetChildren {
                children: GetChildrenResponse::decode(buf)?.children,
            },
            Ok(OpCode::GetData) => {
                let r = GetDataResponse::decode(buf)?;
                MultiResult::GetData {
                    data: r.data,
                    stat: r.stat,
                }
            }
            Ok(OpCode::Error) => MultiResult::Error {
                err: ErrorCode::try_from(ErrorResponse::decode(buf)?.err)?,
            },
            _ => {
                return Err(DecodeError::InvalidMultiOp {
                    op: header.op,
                    within: "multi response",
                })
            }
        };
        results.push(result);
    }
}
