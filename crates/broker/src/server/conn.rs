//! One accepted connection (a client or another broker): the `framing` skeleton (the hello, a
//! reader bounded by in-flight slots and the outbound budget, a batching writer, a kill switch)
//! fed with the broker's requests.
//!
//! Three bounds keep a connection from costing more than its share: the reader takes a slot of
//! `connection_inflight_requests` before reading each request (given back with its answer); it
//! stops reading while more than half of `connection_outbound_bytes` of answers wait to be
//! written (a client that does not read gets no more work done); and an answer that would pass
//! that budget closes the connection. The hello must come within `hello_timeout` and fit in
//! `wire::MAX_HELLO_BYTES`.

use framing::ConnLimits;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::config::Limits;
use super::core::{ConnId, CoreMsg};
use crate::wire::{self, BrokerResponse};

/// A handle to answer on a connection (cloned to whoever answers: the core, a disk thread, the
/// controller).
#[derive(Clone, Debug)]
pub struct ConnHandle(framing::ConnHandle);

impl ConnHandle {
    /// Queues `response` and gives its request's slot back. A connection over its outbound
    /// budget is closed instead.
    pub fn answer(&self, response: &BrokerResponse) {
        let mut frame = Vec::new();
        wire::encode_response(&mut frame, response);
        // Over budget, the connection is being killed; gone, there is no one to tell.
        let _ = self.0.send(frame);
    }
}

/// Serves one accepted connection until it ends.
pub async fn serve(stream: TcpStream, id: ConnId, core: mpsc::Sender<CoreMsg>, limits: Limits) {
    let conn_limits = ConnLimits {
        hello_timeout: limits.hello_timeout,
        max_frame_bytes: limits.max_frame_bytes,
        inflight_requests: limits.connection_inflight_requests,
        outbound_bytes: limits.connection_outbound_bytes,
    };
    let Some((conn, handle)) = framing::handshake(stream, wire::PROTOCOL, conn_limits, None).await
    else {
        return;
    };
    let handle = ConnHandle(handle);
    if core.send(CoreMsg::Open { id, handle }).await.is_err() {
        return;
    }
    let to_core = &core;
    conn.run(id, |body| async move {
        let request = wire::decode_request(&body).map_err(|e| format!("bad request: {e}"))?;
        to_core
            .send(CoreMsg::Request { id, request })
            .await
            .map_err(|_| "the core stopped".to_string())
    })
    .await;
    let _ = core.send(CoreMsg::Closed { id }).await;
}
