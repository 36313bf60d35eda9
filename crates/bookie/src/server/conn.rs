//! One client connection: the `framing` skeleton (the hello, a reader bounded by in-flight
//! slots and the outbound budget, a batching writer, a kill switch) fed with the bookie's
//! requests.
//!
//! Three bounds keep a connection from costing more than its share: the reader takes a slot
//! of `connection_inflight_requests` before reading each request (the core gives it back with
//! the reply); it stops reading while more than half of `connection_outbound_bytes` of replies
//! wait to be written (a client that does not read gets no more work done); and the core
//! closes the connection when a reply would exceed that budget. The hello must arrive within
//! `hello_timeout` and fit in `wire::MAX_HELLO_BYTES`. Reply bytes are counted in [`Stats`].

use std::sync::Arc;

use framing::{ConnLimits, OutBytesGauge};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::config::Limits;
use super::core::{ConnId, CoreMsg};
use super::Stats;
use crate::wire;

/// The core's handle on a connection: [`ConnHandle::send`] queues a reply frame and gives its
/// request's slot back, or kills a connection it would put over its outbound budget.
pub use framing::ConnHandle;

impl OutBytesGauge for Stats {
    fn add(&self, n: usize) {
        self.add_out_bytes(n);
    }

    fn sub(&self, n: usize) {
        self.sub_out_bytes(n);
    }
}

/// Serves one accepted connection until it ends.
pub async fn serve(
    stream: TcpStream,
    id: ConnId,
    core: mpsc::Sender<CoreMsg>,
    limits: Limits,
    stats: Arc<Stats>,
) {
    let conn_limits = ConnLimits {
        hello_timeout: limits.hello_timeout,
        max_frame_bytes: limits.max_frame_bytes,
        inflight_requests: limits.connection_inflight_requests,
        outbound_bytes: limits.connection_outbound_bytes,
    };
    let Some((conn, handle)) =
        framing::handshake(stream, wire::PROTOCOL, conn_limits, Some(stats)).await
    else {
        return;
    };
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
