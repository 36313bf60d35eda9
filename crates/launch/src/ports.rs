//! Free loopback ports.
//!
//! A port is free only until its process binds it, and an ensemble's ports (and a fleet's) are
//! all chosen before any of them is bound: the OS may report the same port free twice. So no
//! port is handed out twice by this process: [`free_port`] and [`free_ports`] remember every
//! one (once, CI saw a bookie's port given again to the next bookie, which then could not
//! start).

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};

/// Every port handed out by this process.
static HANDED_OUT: LazyLock<Mutex<HashSet<u16>>> = LazyLock::new(Mutex::default);

/// A port the OS reports free now, never handed out before by this process.
pub fn free_port() -> Result<u16, String> {
    let mut taken = HashSet::new();
    Ok(free_ports(1, &mut taken)?[0])
}

/// Whether this process handed `port` out (its owner may not have bound it yet).
pub fn handed_out(port: u16) -> bool {
    let handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    handed_out.contains(&port)
}

/// `count` distinct ports the OS reports free now, none of them in `taken` (which gains them)
/// nor handed out before by this process. Another process could still take one before its
/// server binds it; the server's log says so if it happens.
pub fn free_ports(count: usize, taken: &mut HashSet<u16>) -> Result<Vec<u16>, String> {
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
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.contains(&port) && handed_out.insert(port) {
            taken.insert(port);
            ports.push(port);
        }
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_port_is_handed_out_twice() {
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let port = free_port().unwrap();
            assert!(seen.insert(port), "{port} handed out twice");
            assert!(handed_out(port));
        }
        let mut taken = HashSet::new();
        for port in free_ports(50, &mut taken).unwrap() {
            assert!(seen.insert(port), "{port} handed out twice");
        }
    }
}
