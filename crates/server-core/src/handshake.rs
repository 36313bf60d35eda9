//! Finishing a client's handshake once its session exists.

use bytes::{Bytes, BytesMut};
use proto::{ConnectResponse, Encode};

use crate::clients::{ConnId, Stage};
use crate::session::password;
use crate::state::ServerState;

/// Binds `conn` to `session`, sends the ConnectResponse, and marks the connection so the core
/// serves the requests it sent before this answer.
pub fn finish(state: &mut ServerState, conn: ConnId, session: i64, timeout_ms: i32) {
    establish(state, conn, session, timeout_ms, false);
}

/// As [`finish`], on a read-only server: the ConnectResponse says readOnly, so the client
/// knows its writes will be refused and keeps looking for a read-write server.
pub fn finish_read_only(state: &mut ServerState, conn: ConnId, session: i64, timeout_ms: i32) {
    establish(state, conn, session, timeout_ms, true);
}

fn establish(
    state: &mut ServerState,
    conn: ConnId,
    session: i64,
    timeout_ms: i32,
    read_only: bool,
) {
    let Some(c) = state.clients.get_mut(conn) else {
        return;
    };
    if c.stage != Stage::Connecting {
        return;
    }
    c.session_id = session;
    c.timeout_ms = timeout_ms;
    c.stage = Stage::Serving;
    let response = ConnectResponse {
        protocol_version: 0,
        timeout: timeout_ms,
        session_id: session,
        passwd: Bytes::copy_from_slice(&password(session)),
        read_only,
    };
    state.clients.send_frame(conn, frame(&response));
    state.established.push(conn);
}

/// Tells a client its session is gone, then closes the connection.
pub fn refuse_expired(state: &mut ServerState, conn: ConnId) {
    state
        .clients
        .send_frame(conn, frame(&ConnectResponse::expired()));
    state.clients.close(conn, true);
}

/// As [`refuse_expired`], from a read-only server (whose every ConnectResponse says so, as
/// ZooKeeper's does).
pub fn refuse_expired_read_only(state: &mut ServerState, conn: ConnId) {
    let response = ConnectResponse {
        read_only: true,
        ..ConnectResponse::expired()
    };
    state.clients.send_frame(conn, frame(&response));
    state.clients.close(conn, true);
}

fn frame(response: &ConnectResponse) -> Bytes {
    let mut buf = BytesMut::with_capacity(48);
    proto::write_frame(&mut buf, |b| response.encode(b));
    buf.freeze()
}
