//! Asking a server how it is, by four-letter words on its client port: the one view of a server
//! that needs nothing of it but a socket, and that Apache ZooKeeper answers the same way.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::HOST;

/// How long one question may take: a paused or partitioned server must not stall the asker.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// Sends `word` to the server on `port` and returns its whole answer.
pub fn four_letter(port: u16, word: &str, timeout: Duration) -> std::io::Result<String> {
    let addr: std::net::SocketAddr = format!("{HOST}:{port}")
        .parse()
        .map_err(std::io::Error::other)?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(word.as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}

/// The `Mode:` of `srvr` (`leader`, `follower`, `standalone`, or `looking` when not serving);
/// `None` when the server does not answer.
pub fn mode(port: u16) -> Option<String> {
    let text = four_letter(port, "srvr", TIMEOUT).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Mode:").map(|m| m.trim().to_string()))
}

/// Whether a mode is one in which the server opens client sessions.
pub fn serving(mode: Option<&str>) -> bool {
    matches!(
        mode,
        Some("leader" | "follower" | "observer" | "standalone")
    )
}
