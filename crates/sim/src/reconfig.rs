//! The simulator's reconfiguration transactions: how a configuration travels in a payload.
//!
//! Servers are numbered from 1 and a sweep runs at most 64, so a configuration is two bit
//! masks. Client payloads are text, so the leading zero byte never collides with one.

use bytes::{BufMut, Bytes, BytesMut};
use zab::{Membership, ServerId};

const TAG: &[u8] = b"\0cfg";

/// The bit of server `id` (ids from 1).
fn bit(id: ServerId) -> u64 {
    1 << (id.0 - 1)
}

pub fn mask(ids: &[ServerId]) -> u64 {
    ids.iter().fold(0, |m, &id| m | bit(id))
}

pub fn ids(mask: u64) -> Vec<ServerId> {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| ServerId(b + 1))
        .collect()
}

/// The payload carrying `voters` and `observers` (masks).
pub fn encode(voters: u64, observers: u64) -> Bytes {
    let mut data = BytesMut::with_capacity(TAG.len() + 16);
    data.put_slice(TAG);
    data.put_u64(voters);
    data.put_u64(observers & !voters);
    data.freeze()
}

/// The configuration a payload carries, if it is a reconfiguration (the core's decoder).
pub fn decode(data: &[u8]) -> Option<Membership> {
    let (voters, observers) = masks(data)?;
    Some(Membership::new(ids(voters), ids(observers)))
}

/// The (voters, observers) masks a payload carries, if it is a reconfiguration.
pub fn masks(data: &[u8]) -> Option<(u64, u64)> {
    let rest = data.strip_prefix(TAG)?;
    if rest.len() != 16 {
        return None;
    }
    let voters = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let observers = u64::from_be_bytes(rest[8..].try_into().ok()?);
    Some((voters, observers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data = encode(0b111, 0b11000);
        let m = decode(&data).unwrap();
        assert_eq!(m.voters, ids(0b111));
        assert_eq!(m.observers, vec![ServerId(4), ServerId(5)]);
        assert!(decode(b"c12").is_none());
        assert_eq!(mask(&m.voters), 0b111);
    }
}
