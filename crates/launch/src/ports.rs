//! Free loopback ports.

use std::collections::HashSet;

/// `count` distinct ports the OS reports free now, none of them in `taken` (which gains them).
/// A port is released before its server binds it, so another process could take it meanwhile;
/// with the OS handing out ports in turn that is rare, and the server's log says so if it happens.
pub(crate) fn free_ports(count: usize, taken: &mut HashSet<u16>) -> Result<Vec<u16>, String> {
    let mut ports = Vec::with_capacity(count);
    let mut tries = 0;
    while ports.len() < count {
        tries += 1;
        if tries > 100 * count + 100 {
            return Err("cannot find enough free loopback ports".into());
        }
        let port = std::net::TcpListener::bind((crate::HOST, 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port: {e}"))?
            .port();
        if taken.insert(port) {
            ports.push(port);
        }
    }
    Ok(ports)
}
