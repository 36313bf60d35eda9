//! The Apache ZooKeeper 3.8 client wire protocol, as Quorum speaks it.
//!
//! Pure: no IO, no runtime. The server reads bytes from a socket into a buffer, asks
//! [`FrameDecoder`] for whole frames, decodes the first one as a [`ConnectRequest`] and every
//! later one as a [`RequestPacket`] (header + typed [`Request`]), and answers with a
//! [`ConnectResponse`] and then [`ReplyPacket`]s (header + typed [`Response`]), each written
//! with [`write_frame`] / [`encode_frame`].
//!
//! Decoding never panics and never allocates more than the input could justify: every length
//! is checked against the bytes that are left before it is used (see [`jute`]). Malformed
//! input is a [`DecodeError`] or [`FrameError`] value.
//!
//! The wire format is described in the repository's `docs/wire.md`.
//!
//! ```
//! use bytes::BytesMut;
//! use proto::*;
//!
//! // What a client wrote: a getData for "/app" with a watch, xid 3.
//! let mut wire = BytesMut::new();
//! encode_frame(
//!     &mut wire,
//!     &RequestPacket::new(3, Request::GetData(GetDataRequest { path: "/app".into(), watch: true })),
//! );
//!
//! // The server side: split off a frame, decode it, answer it.
//! let frames = FrameDecoder::default();
//! let payload = frames.decode(&mut wire).unwrap().expect("a whole frame");
//! let packet = RequestPacket::decode(&mut payload.clone()).unwrap();
//! assert_eq!(packet.request.opcode(), OpCode::GetData);
//!
//! let mut out = BytesMut::new();
//! encode_frame(&mut out, &ReplyPacket::error(packet.header.xid, 0x100000001, ErrorCode::NoNode));
//! assert_eq!(out.len(), 4 + 16);
//! ```

#![deny(missing_docs)]

mod macros;

pub mod create_mode;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod jute;
pub mod opcode;
pub mod perms;
pub mod records;
pub mod request;
pub mod response;
pub mod watch;
pub mod xid;

pub use create_mode::CreateMode;
pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use frame::{
    encode_frame, four_letter_word, write_frame, FrameDecoder, FrameError, DEFAULT_MAX_PACKET,
};
pub use jute::{Decode, Encode};
pub use opcode::OpCode;
pub use records::auth::{AuthPacket, ClientInfo, SaslRequest, SaslResponse, WhoAmIResponse};
pub use records::connect::{ConnectRequest, ConnectResponse};
pub use records::data::{Acl, Id, Stat};
pub use records::header::{MultiHeader, ReplyHeader, RequestHeader};
pub use records::multi::{MultiOp, MultiResult};
pub use records::requests::*;
pub use records::responses::*;
pub use records::watches::*;
pub use request::{PacketError, Request, RequestPacket};
pub use response::{ReplyPacket, Response};
pub use watch::{AddWatchMode, EventType, KeeperState, WatcherType};
