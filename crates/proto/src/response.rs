//! Typed server responses: what follows a [`ReplyHeader`].

use bytes::{Buf, BufMut};

use crate::error::DecodeError;
use crate::error_code::ErrorCode;
use crate::jute::{Decode, Encode};
use crate::opcode::OpCode;
use crate::records::auth::{ClientInfo, SaslResponse, WhoAmIResponse};
use crate::records::data::Stat;
use crate::records::header::ReplyHeader;
use crate::records::multi::{decode_results, encode_results, MultiResult};
use crate::records::responses::{
    Create2Response, CreateResponse, ErrorResponse, GetAclResponse, GetAllChildrenNumberResponse,
    GetChildren2Response, GetChildrenResponse, GetDataResponse, GetEphemeralsResponse,
    StatResponse, SyncResponse,
};
use crate::records::watches::WatcherEvent;

/// A response body. Which variant answers which request is fixed by ZooKeeper; see
/// [`Response::decode_body`] for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: any error reply, and success for delete, check, ping, auth, closeSession,
    /// setWatches, setWatches2, checkWatches and removeWatches.
    Empty,
    /// create.
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData (and reconfig, which answers with the new config as data).
    GetData(GetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// getChildren.
    GetChildren(GetChildrenResponse),
    /// getChildren2.
    GetChildren2(GetChildren2Response),
    /// sync.
    Sync(SyncResponse),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// getEphemerals.
    GetEphemerals(GetEphemeralsResponse),
    /// multi and multiRead.
    Multi(Vec<MultiResult>),
    /// addWatch: ZooKeeper answers with an ErrorResponse body holding 0.
    AddWatch,
    /// whoAmI.
    WhoAmI(Vec<ClientInfo>),
    /// sasl.
    Sasl(SaslResponse),
    /// A watch notification (header xid -1).
    Notification(WatcherEvent),
}

impl Response {
    /// Writes the body (without header).
    pub fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(buf),
            Response::Create2(r) => r.encode(buf),
            Response::Stat(s) => s.encode(buf),
            Response::GetData(r) => r.encode(buf),
            Response::GetAcl(r) => r.encode(buf),
            Response::GetChildren(r) => r.encode(buf),
            Response::GetChildren2(r) => r.encode(buf),
            Response::Sync(r) => r.encode(buf),
            Response::GetAllChildrenNumber(r) => r.encode(buf),
            Response::GetEphemerals(r) => r.encode(buf),
            Response::Multi(results) => encode_results(results, buf),
            Response::AddWatch => ErrorResponse { err: 0 }.encode(buf),
            Response::WhoAmI(info) => info.encode(buf),
            Response::Sasl(r) => r.encode(buf),
            Response::Notification(e) => e.encode(buf),
        }
    }

    /// Decodes the body of a reply to a request with opcode `op` whose header carried `err`
    /// (the client side of [`Response::encode_body`]).
    ///
    /// A non-zero `err` means no body, except for multi, whose per-op results may follow.
    pub fn decode_body<B: Buf>(op: OpCode, err: i32, buf: &mut B) -> Result<Self, DecodeError> {
        let multi = matches!(op, OpCode::Multi | OpCode::MultiRead);
        if err != ErrorCode::Ok.as_i32() && !(multi && buf.has_remaining()) {
            return Ok(Response::Empty);
        }
        Ok(match op {
            OpCode::Notification => Response::Notification(Decode::decode(buf)?),
            OpCode::Create => Response::Create(Decode::decode(buf)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Decode::decode(buf)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
                Response::Stat(StatResponse::decode(buf)?.stat)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData(Decode::decode(buf)?),
            OpCode::GetAcl => Response::GetAcl(Decode::decode(buf)?),
            OpCode::GetChildren => Response::GetChildren(Decode::decode(buf)?),
            OpCode::GetChildren2 => Response::GetChildren2(Decode::decode(buf)?),
            OpCode::Sync => Response::Sync(Decode::decode(buf)?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(Decode::decode(buf)?),
            OpCode::GetEphemerals => Response::GetEphemerals(Decode::decode(buf)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(decode_results(buf)?),
            OpCode::AddWatch => {
                ErrorResponse::decode(buf)?;
                Response::AddWatch
            }
            OpCode::WhoAmI => Response::WhoAmI(WhoAmIResponse::decode(buf)?.client_info),
            OpCode::Sasl => Response::Sasl(Decode::decode(buf)?),
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Check
            | OpCode::CloseSession
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => Response::Empty,
        })
    }
}

/// A whole server packet after the handshake: header and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPacket {
    /// The header.
    pub header: ReplyHeader,
    /// The body.
    pub response: Response,
}

impl ReplyPacket {
    /// A successful reply.
    pub fn ok(xid: i32, zxid: i64, response: Response) -> Self {
        ReplyPacket {
            header: ReplyHeader { xid, zxid, err: 0 },
            response,
        }
    }

    /// An error reply: the header alone.
    pub fn error(xid: i32, zxid: i64, err: ErrorCode) -> Self {
        ReplyPacket {
            header: ReplyHeader {
                xid,
                zxid,
                err: err.as_i32(),
            },
            response: Response::Empty,
        }
    }

    /// A watch notification.
    pub fn notification(zxid: i64, event: WatcherEvent) -> Self {
        ReplyPacket {
            header: WatcherEvent::header(zxid),
            response: Response::Notification(event),
        }
    }
}

impl Encode for ReplyPacket {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.header.encode(buf);
        self.response.encode_body(buf);
    }
}
