//! `reconfig` (opcode 16) as ZooKeeper 3.8's leader preps it: from the configuration in force
//! and the request, the next configuration, or the error code ZooKeeper gives.
//!
//! Pure functions; the core ([`crate::core`]) adds what needs the replica (the session, a
//! change already in progress, the synced quorum, the ACL) in ZooKeeper's order:
//! reconfigEnabled, session, in progress, `fromConfig`, the new membership (here), at least
//! one (two with `standaloneEnabled`) voters (here), a synced quorum of the new voters, and
//! last the WRITE permission on `/zookeeper/config`.
//!
//! The transaction carries the new configuration as the text `/zookeeper/config` will hold
//! ([`tree::Txn::Reconfig`]); [`decode_membership`] is how the Zab core recognizes it.

use proto::{ErrorCode, ReconfigRequest};
use tree::{Txn, TxnRecord};

use crate::config::dynamic::parse_server_list;
use crate::config::{DynamicConfig, ServerSpec};

/// The membership a configuration gives the Zab core (its version is set by the core).
pub fn membership_of(config: &DynamicConfig) -> zab::Membership {
    let ids = |observer: bool| {
        config
            .servers
            .iter()
            .filter(|s| s.member.observer == observer)
            .map(|s| zab::ServerId(s.member.id))
            .collect()
    };
    let mut membership = zab::Membership::new(ids(false), ids(true));
    membership.version = zab::Zxid::from_u64(config.version);
    membership
}

/// The Zab core's [`zab::Decoder`]: the membership a transaction carries, if it is a
/// reconfiguration. A reconfiguration whose text does not parse carries none: the leader
/// checked it before proposing, so only a corrupt record gets here, and the log's CRCs stop
/// those first.
pub fn decode_membership(data: &[u8]) -> Option<zab::Membership> {
    if !TxnRecord::is_reconfig(data) {
        return None;
    }
    let record = TxnRecord::decode(data).ok()?;
    let Txn::Reconfig { data } = record.txn else {
        return None;
    };
    let text = std::str::from_utf8(&data).ok()?;
    let config = DynamicConfig::parse(text).ok()?;
    Some(membership_of(&config))
}

/// The configuration a `reconfig` asks for, from `current` (the one in force), without its
/// version (the caller stamps the transaction's zxid). `standalone_enabled` is ZooKeeper's
/// `standaloneEnabled` (default true), under which a configuration needs two voters.
pub fn next_config(
    request: &ReconfigRequest,
    current: &DynamicConfig,
    standalone_enabled: bool,
) -> Result<DynamicConfig, ErrorCode> {
    let servers = if request.new_members.is_empty() {
        incremental(request, current)?
    } else {
        parse_server_list(&request.new_members).map_err(|_| ErrorCode::BadArguments)?
    };
    let next = DynamicConfig::new(servers, 0);
    if next.check().is_err() {
        return Err(ErrorCode::BadArguments);
    }
    // What is proposed is the rendered text, which every server parses back (the Zab core's
    // decoder, restarts): a host the parser took but the text cannot carry back is refused.
    if DynamicConfig::parse(&next.render()).ok().as_ref() != Some(&next) {
        return Err(ErrorCode::BadArguments);
    }
    let voters = next.servers.iter().filter(|s| !s.member.observer).count();
    let least = if standalone_enabled { 2 } else { 1 };
    if voters < least {
        return Err(ErrorCode::BadArguments);
    }
    Ok(next)
}

/// `leavingServers` (ids) leave, then `joiningServers` (full server lines, each with its
/// client address, as ZooKeeper requires) join or replace the line of the same id.
fn incremental(
    request: &ReconfigRequest,
    current: &DynamicConfig,
) -> Result<Vec<ServerSpec>, ErrorCode> {
    let mut servers = current.servers.clone();
    for leaving in split_list(&request.leaving_servers) {
        let id: u64 = leaving.parse().map_err(|_| ErrorCode::BadArguments)?;
        servers.retain(|s| s.member.id != id);
    }
    let joining =
        parse_server_list(&request.joining_servers).map_err(|_| ErrorCode::BadArguments)?;
    for joiner in joining {
        if joiner.client.is_none() || clashes(&joiner, &servers) {
            return Err(ErrorCode::BadArguments);
        }
        servers.retain(|s| s.member.id != joiner.member.id);
        servers.push(joiner);
    }
    Ok(servers)
}

/// The entries of a comma-separated list, blanks dropped.
fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Whether a joining server's peer or election address is another server's (ZooKeeper's
/// `checkAddressDuplicate`).
fn clashes(joiner: &ServerSpec, servers: &[ServerSpec]) -> bool {
    let j = &joiner.member;
    let addresses = [(&j.host, j.peer_port), (&j.host, j.election_port)];
    servers.iter().filter(|s| s.member.id != j.id).any(|s| {
        let m = &s.member;
        addresses.contains(&(&m.host, m.peer_port))
            || addresses.contains(&(&m.host, m.election_port))
    })
}

#[cfg(test)]
#[path = "reconfig_tests.rs"]
mod tests;
