//! The ensemble's members, as `server.N` lines name them.

/// One voting member of the ensemble (`server.N=host:peerPort:electionPort`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub host: String,
    pub peer_port: u16,
    pub election_port: u16,
}

/// `host:peerPort:electionPort[:role][;clientAddress]`
pub(super) fn parse_member(id: u64, value: &str) -> Result<Member, String> {
    let address = value.split(';').next().unwrap_or_default();
    let parts: Vec<&str> = address.split(':').collect();
    if parts.len() < 3 {
        return Err(format!(
            "server.{id}: expected host:peerPort:electionPort, found {value:?}"
        ));
    }
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("server.{id}: bad port {s:?}"))
    };
    Ok(Member {
        id,
        host: parts[0].to_string(),
        peer_port: port(parts[1])?,
        election_port: port(parts[2])?,
    })
}
