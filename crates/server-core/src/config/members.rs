//! The ensemble's members, as `server.N` lines name them.

/// One member of the ensemble (`server.N=host:peerPort:electionPort[:participant|observer]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub host: String,
    pub peer_port: u16,
    pub election_port: u16,
    /// An observer learns every committed transaction and serves clients but never votes
    /// (ZooKeeper's `:observer` role); the others are participants.
    pub observer: bool,
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
    let observer = match parts.get(3).copied() {
        None | Some("participant") => false,
        Some("observer") => true,
        Some(other) => {
            return Err(format!(
                "server.{id}: role {other:?} is neither participant nor observer"
            ))
        }
    };
    if parts.len() > 4 {
        return Err(format!(
            "server.{id}: expected host:peerPort:electionPort[:role], found {value:?}"
        ));
    }
    Ok(Member {
        id,
        host: parts[0].to_string(),
        peer_port: port(parts[1])?,
        election_port: port(parts[2])?,
        observer,
    })
}
