//! The session handshake: the first packet each way on a connection, which has no
//! request or reply header.

use bytes::{Buf, BufMut, Bytes};

use crate::error::DecodeError;
use crate::jute::{
    read_bool, read_bytes, read_i32, read_i64, write_bool, write_bytes, Decode, Encode,
};

/// The password length ZooKeeper hands out.
pub const PASSWORD_LEN: usize = 16;

/// The first packet a client sends. The trailing `read_only` flag was added in 3.4; older
/// clients omit it, so it decodes as false when absent. It is always encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Always 0 in practice.
    pub protocol_version: i32,
    /// The highest zxid the client has seen; a server that is behind it must refuse the client.
    pub last_zxid_seen: i64,
    /// Requested session timeout in ms; the server negotiates it into its bounds.
    pub timeout: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// The session's password when resuming (16 bytes), otherwise zeros or empty.
    pub passwd: Bytes,
    /// The client accepts a read-only server.
    pub read_only: bool,
}

impl Encode for ConnectRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.protocol_version);
        buf.put_i64(self.last_zxid_seen);
        buf.put_i32(self.timeout);
        buf.put_i64(self.session_id);
        write_bytes(buf, &self.passwd);
        write_bool(buf, self.read_only);
    }
}

impl Decode for ConnectRequest {
    const MIN_LEN: usize = 4 + 8 + 4 + 8 + 4;

    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: read_i32(buf)?,
            last_zxid_seen: read_i64(buf)?,
            timeout: read_i32(buf)?,
            session_id: read_i64(buf)?,
            passwd: read_bytes(buf)?,
            read_only: if buf.has_remaining() {
                read_bool(buf)?
            } else {
                false
            },
        })
    }
}

/// The server's answer to a [`ConnectRequest`]. A refused or expired session is answered with
/// timeout 0, session id 0 and a zero password, and then the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms.
    pub timeout: i32,
    /// The session id.
    pub session_id: i64,
    /// The session password the client presents when it reconnects.
    pub passwd: Bytes,
    /// The server is in read-only mode. ZooKeeper always sends this byte; old clients ignore it.
    pub read_only: bool,
}

impl ConnectResponse {
    /// The answer that tells a client its session is gone (expired or unknown).
    pub fn expired() -> Self {
        ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: Bytes::from_static(&[0; PASSWORD_LEN]),
            read_only: false,
        }
    }
}

impl Encode for ConnectResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.protocol_version);
        buf.put_i32(self.timeout);
        buf.put_i64(self.session_id);
        write_bytes(buf, &self.passwd);
        write_bool(buf, self.read_only);
    }
}

impl Decode for ConnectResponse {
    const MIN_LEN: usize = 4 + 4 + 8 + 4;

    fn decode<B: Buf>(buf: &mut B) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: read_i32(buf)?,
            timeout: read_i32(buf)?,
            session_id: read_i64(buf)?,
            passwd: read_bytes(buf)?,
            read_only: if buf.has_remaining() {
                read_bool(buf)?
            } else {
                false
            },
        })
    }
}
