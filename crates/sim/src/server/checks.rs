//! The checks of one server's state after every step that the world does not see through its
//! clients: every bound on what clients hold, and ephemerals that outlive their session.

use server_core::limits::Limits;
use server_core::state::ServerState;

/// Every connection within its bounds, and the totals within theirs; no write lost on its way
/// to the leader.
pub fn bounds(state: &ServerState, limits: &Limits) -> Result<(), String> {
    if state.lost_writes > 0 {
        return Err(format!(
            "{} writes were lost on their way to the leader",
            state.lost_writes
        ));
    }
    let clients = &state.clients;
    if clients.outbound_bytes_total() > limits.max_outbound_bytes_total {
        return Err(format!(
            "{} unwritten bytes over all connections, above {}",
            clients.outbound_bytes_total(),
            limits.max_outbound_bytes_total
        ));
    }
    let mut requests = 0u64;
    for c in clients.iter() {
        requests += u64::from(c.requests_in_flight());
        if c.requests_in_flight() > limits.max_requests_per_connection
            || c.request_bytes_in_flight() > limits.max_request_bytes_per_connection
        {
            return Err(format!(
                "connection {} has {} requests ({} bytes) in flight",
                c.id,
                c.requests_in_flight(),
                c.request_bytes_in_flight()
            ));
        }
        if c.outbound_bytes() > limits.max_outbound_bytes_per_connection {
            return Err(format!(
                "connection {} holds {} unwritten bytes",
                c.id,
                c.outbound_bytes()
            ));
        }
    }
    if requests != clients.requests_in_flight_total() {
        return Err(format!(
            "{} requests in flight over the connections, but the total says {}",
            requests,
            clients.requests_in_flight_total()
        ));
    }
    Ok(())
}

/// No ephemeral node (they live under /e) belongs to a session that is not open.
pub fn ephemerals(state: &ServerState) -> Result<(), String> {
    let tree = &state.tree;
    let Some(children) = tree.children("/e") else {
        return Ok(());
    };
    for child in children.iter() {
        let path = format!("/e/{child}");
        let Some(stat) = tree.stat(&path) else {
            continue;
        };
        let owner = stat.ephemeral_owner;
        if owner != 0 && !tree.sessions().contains(owner) {
            return Err(format!(
                "{path} outlived its session 0x{owner:x} (zxid {:#x})",
                tree.last_zxid()
            ));
        }
    }
    Ok(())
}
