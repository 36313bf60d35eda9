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
