//! Typed client requests: what follows a [`RequestHeader`], decoded by its opcode.

use bytes::{Buf, BufMut};

use crate::error::DecodeError;
use crate::jute::{Decode, Encode};
use crate::opcode::OpCode;
use crate::records::auth::{AuthPacket, SaslRequest};
use crate::records::header::RequestHeader;
use crate::records::multi::{decode_ops, encode_ops, MultiOp};
use crate::records::requests::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest,
    GetAclRequest, GetAllChildrenNumberRequest, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, ReconfigRequest, SetAclRequest, SetDataRequest, SyncRequest,
};
use crate::records::watches::{
    AddWatchRequest, CheckWatchesRequest, RemoveWatchesRequest, SetWatches, SetWatches2,
};

/// A client request body, one variant per opcode a client may send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create (1).
    Create(CreateRequest),
    /// create2 (15).
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateTtlRequest),
    /// delete (2).
    Delete(DeleteRequest),
    /// exists (3).
    Exists(ExistsRequest),
    /// getData (4).
    GetData(GetDataRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// getACL (6).
    GetAcl(GetAclRequest),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// getChildren (8).
    GetChildren(GetChildrenRequest),
    /// getChildren2 (12).
    GetChildren2(GetChildrenRequest),
    /// sync (9).
    Sync(SyncRequest),
    /// ping (11), no body.
    Ping,
    /// check (13).
    Check(CheckVersionRequest),
    /// multi (14): writes only.
    Multi(Vec<MultiOp>),
    /// multiRead (22): reads only.
    MultiRead(Vec<MultiOp>),
    /// closeSession (-11), no body.
    CloseSession,
    /// setWatches (101).
    SetWatches(SetWatches),
    /// setWatches2 (105).
    SetWatches2(SetWatches2),
    /// addWatch (106).
    AddWatch(AddWatchRequest),
    /// checkWatches (17).
    CheckWatches(CheckWatchesRequest),
    /// removeWatches (18).
    RemoveWatches(RemoveWatchesRequest),
    /// auth (100).
    Auth(AuthPacket),
    /// getEphemerals (103).
    GetEphemerals(GetEphemeralsRequest),
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    /// whoAmI (107), no body.
    WhoAmI,
    /// reconfig (16): decoded so it can be refused with an error code.
    Reconfig(ReconfigRequest),
    /// sasl (102): decoded so it can be refused with an error code.
    Sasl(SaslRequest),
}

impl Request {
    /// The opcode this request is sent under.
    pub fn opcode(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::CloseSession => OpCode::CloseSession,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::Sasl(_) => OpCode::Sasl,
        }
    }

    /// Decodes the body that follows a header with opcode `op`.
    ///
    /// Bytes after the body are left in `buf` and not treated as an error, as ZooKeeper
    /// ignores them too. An undefined opcode is [`DecodeError::UnknownOpCode`]; a defined one
    /// that clients do not send is [`DecodeError::NotARequest`]. Both leave the header usable,
    /// so the server can answer that xid with an error code instead of dropping the client.
    pub fn decode_body<B: Buf>(op: i32, buf: &mut B) -> Result<Request, DecodeError> {
        let code = OpCode::try_from(op)?;
        Ok(match code {
            OpCode::Create => Request::Create(Decode::decode(buf)?),
            OpCode::Create2 => Request::Create2(Decode::decode(buf)?),
            OpCode::CreateContainer => Request::CreateContainer(Decode::decode(buf)?),
            OpCode::CreateTtl => Request::CreateTtl(Decode::decode(buf)?),
            OpCode::Delete => Request::Delete(Decode::decode(buf)?),
            OpCode::Exists => Request::Exists(Decode::decode(buf)?),
            OpCode::GetData => Request::GetData(Decode::decode(buf)?),
            OpCode::SetData => Request::SetData(Decode::decode(buf)?),
            OpCode::GetAcl => Request::GetAcl(Decode::decode(buf)?),
            OpCode::SetAcl => Request::SetAcl(Decode::decode(buf)?),
            OpCode::GetChildren => Request::GetChildren(Decode::decode(buf)?),
            OpCode::GetChildren2 => Request::GetChildren2(Decode::decode(buf)?),
            OpCode::Sync => Request::Sync(Decode::decode(buf)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(Decode::decode(buf)?),
            OpCode::Multi => Request::Multi(decode_ops(buf, false)?),
            OpCode::MultiRead => Request::MultiRead(decode_ops(buf, true)?),
            OpCode::CloseSession => Request::CloseSession,
            OpCode::SetWatches => Request::SetWatches(Decode::decode(buf)?),
            OpCode::SetWatches2 => Request::SetWatches2(Decode::decode(buf)?),
            OpCode::AddWatch => Request::AddWatch(Decode::decode(buf)?),
            OpCode::CheckWatches => Request::CheckWatches(Decode::decode(buf)?),
            OpCode::RemoveWatches => Request::RemoveWatches(Decode::decode(buf)?),
            OpCode::Auth => Request::Auth(Decode::decode(buf)?),
            OpCode::GetEphemerals => Request::GetEphemerals(Decode::decode(buf)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(Decode::decode(buf)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::Reconfig => Request::Reconfig(Decode::decode(buf)?),
            OpCode::Sasl => Request::Sasl(Decode::decode(buf)?),
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => return Err(DecodeError::NotARequest(code)),
        })
    }

    /// Writes the body (without header).
    pub fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.encode(buf),
            Request::CreateTtl(r) => r.encode(buf),
            Request::Delete(r) => r.encode(buf),
            Request::Exists(r) => r.encode(buf),
            Request::GetData(r) => r.encode(buf),
            Request::SetData(r) => r.encode(buf),
            Request::GetAcl(r) => r.encode(buf),
            Request::SetAcl(r) => r.encode(buf),
            Request::GetChildren(r) | Request::GetChildren2(r) => r.encode(buf),
            Request::Sync(r) => r.encode(buf),
            Request::Ping | Request::CloseSession | Request::WhoAmI => {}
            Request::Check(r) => r.encode(buf),
            Request::Multi(ops) | Request::MultiRead(ops) => encode_ops(ops, buf),
            Request::SetWatches(r) => r.encode(buf),
            Request::SetWatches2(r) => r.encode(buf),
            Request::AddWatch(r) => r.encode(buf),
            Request::CheckWatches(r) => r.encode(buf),
            Request::RemoveWatches(r) => r.encode(buf),
            Request::Auth(r) => r.encode(buf),
            Request::GetEphemerals(r) => r.encode(buf),
            Request::GetAllChildrenNumber(r) => r.encode(buf),
            Request::Reconfig(r) => r.encode(buf),
            Request::Sasl(r) => r.encode(buf),
        }
    }

    /// The path a single-path request acts on (for logs, metrics and ACL checks).
    pub fn path(&self) -> Option<&str> {
        Some(match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
            Request::CreateTtl(r) => &r.path,
            Request::Delete(r) => &r.path,
            Request::Exists(r) => &r.path,
            Request::GetData(r) => &r.path,
            Request::SetData(r) => &r.path,
            Request::GetAcl(r) => &r.path,
            Request::SetAcl(r) => &r.path,
            Request::GetChildren(r) | Request::GetChildren2(r) => &r.path,
            Request::Sync(r) => &r.path,
            Request::Check(r) => &r.path,
            Request::AddWatch(r) => &r.path,
            Request::CheckWatches(r) => &r.path,
            Request::RemoveWatches(r) => &r.path,
            Request::GetEphemerals(r) => &r.prefix_path,
            Request::GetAllChildrenNumber(r) => &r.path,
            _ => return None,
        })
    }
}

/// A whole client packet after the handshake: header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPacket {
    /// The header (xid and raw opcode).
    pub header: RequestHeader,
    /// The decoded body.
    pub request: Request,
}

/// A packet that did not decode. `header` is there when the first 8 bytes were readable, so
/// the server can answer the xid with an error code (UNIMPLEMENTED for an unknown opcode, say)
/// rather than only closing the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad request packet (header {header:?}): {error}")]
pub struct PacketError {
    /// The header, if it could be read.
    pub header: Option<RequestHeader>,
    /// What was wrong.
    #[source]
    pub error: DecodeError,
}

impl RequestPacket {
    /// Builds a packet with the request's own opcode in the header.
    pub fn new(xid: i32, request: Request) -> Self {
        RequestPacket {
            header: RequestHeader {
                xid,
                op: request.opcode().as_i32(),
            },
            request,
        }
    }

    /// Decodes one packet (the payload of a frame, without its length prefix).
    pub fn decode<B: Buf>(buf: &mut B) -> Result<Self, PacketError> {
        let header = RequestHeader::decode(buf).map_err(|error| PacketError {
            header: None,
            error,
        })?;
        let request = Request::decode_body(header.op, buf).map_err(|error| PacketError {
            header: Some(header),
            error,
        })?;
        Ok(RequestPacket { header, request })
    }
}

impl Encode for RequestPacket {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.header.encode(buf);
        self.request.encode_body(buf);
    }
}
