//! Finishing a client's handshake once its session exists.

use bytes::{Bytes, BytesMut};
use proto::{ConnectResponse, Encode};

use crate::session::password;
use crate::state::ServerState;
use crate::watches::ConnId;

/// Binds `conn` to `session` and sends the ConnectResponse.
pub fn finish(state: &mut ServerState, conn: ConnId, session: i64, timeout_ms: i32) {
    let Some(c) = state.conns.get_mut(&conn) else {
        return;
    };
    c.session_id = session;
    c.timeout_ms = timeout_ms;
    let response = ConnectResponse {
        protocol_version: 0,
        timeout: timeout_ms,
        session_id: session,
        passwd: Bytes::copy_from_slice(&password(session)),
        read_only: false,
    };
    state.send_frame(conn, frame(&response));
}

/// Tells a client its session is gone, then closes the connection.
pub fn refuse_expired(state: &mut ServerState, conn: ConnId) {
    state.send_frame(conn, frame(&ConnectResponse::expired()));
    state.close_connection(conn);
}

fn frame(response: &ConnectResponse) -> Bytes {
    let mut buf = BytesMut::with_capacity(48);
    proto::write_frame(&mut buf, |b| response.encode(b));
    buf.freeze()
}
