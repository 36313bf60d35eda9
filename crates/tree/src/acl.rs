//! ACLs: validation and `auth` expansion of a new ACL (ZooKeeper's `fixupACL`), enforcement
//! (`checkACL`), and the schemes Quorum knows: `world`, `auth`, `digest`, `ip`, and the super
//! user. The server keeps each connection's authenticated ids (`Vec<Id>`), built with the
//! helpers here, and hands them to prep.

use std::net::IpAddr;

use base64::Engine;
use proto::{Acl, ErrorCode, Id};
use sha1::{Digest, Sha1};

/// The scheme whose ids grant everything.
pub const SUPER: &str = "super";

/// ZooKeeper's `DigestAuthenticationProvider.generateDigest`: `user:password` becomes
/// `user:base64(sha1("user:password"))`. This is both what an `auth digest user:password`
/// packet authenticates as and what `digest` ACL ids hold.
pub fn generate_digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The ids a successful `auth` packet with scheme `digest` adds to the connection:
/// `digest:user:hash`, preceded by `super:` when the digest equals the configured super digest
/// (ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest`, `super:base64hash`).
pub fn digest_auth_ids(auth_data: &[u8], super_digest: Option<&str>) -> Vec<Id> {
    let digest = generate_digest(&String::from_utf8_lossy(auth_data));
    let mut ids = Vec::new();
    if super_digest == Some(digest.as_str()) {
        ids.push(Id::new(SUPER, ""));
    }
    ids.push(Id::new("digest", digest));
    ids
}

/// The id every connection has from its peer address (ZooKeeper adds `ip:<address>` on
/// accept).
pub fn ip_id(addr: IpAddr) -> Id {
    Id::new("ip", addr.to_string())
}

/// Parses `addr` or `addr/bits` of an `ip` ACL id.
fn parse_ip_expr(expr: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
    };
    Some((addr, bits))
}

fn octets(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// ZooKeeper's `IPAuthenticationProvider.matches`: the client address is in the ACL's
/// address or CIDR range. Addresses of different families never match.
pub fn ip_matches(client: &str, acl_expr: &str) -> bool {
    let (Some((net, bits)), Ok(client)) = (parse_ip_expr(acl_expr), client.parse::<IpAddr>())
    else {
        return false;
    };
    let (a, b) = (octets(net), octets(client));
    if a.len() != b.len() {
        return false;
    }
    let mut left = bits;
    for (x, y) in a.iter().zip(&b) {
        let take = left.min(8);
        let mask = if take == 0 { 0 } else { 0xffu8 << (8 - take) };
        if x & mask != y & mask {
            return false;
        }
        left -= take;
    }
    true
}

/// Is `id` well-formed for an explicit ACL entry of `scheme`? Only the providers ZooKeeper
/// registers by default exist: `digest` needs exactly `user:hash` (Java's `split(":")`
/// dropping trailing empties), `ip` an address or CIDR; `world` only as `world:anyone`.
pub fn is_valid_id(scheme: &str, id: &str) -> bool {
    match scheme {
        "world" => id == "anyone",
        "digest" => {
            let parts: Vec<&str> = id.split(':').collect();
            let trimmed = parts
                .iter()
                .rposition(|p| !p.is_empty())
                .map_or(0, |i| i + 1);
            trimmed == 2
        }
        "ip" => parse_ip_expr(id).is_some(),
        _ => false,
    }
}

/// Schemes whose ids stand for an authenticated user, so `auth` ACLs expand to them. `ip` is
/// an identity but not an authentication (ZooKeeper's `isAuthenticated` is false for it).
fn is_authenticated_scheme(scheme: &str) -> bool {
    scheme == "digest"
}

/// ZooKeeper's `fixupACL`: drop duplicates, refuse an empty list, keep `world:anyone`, expand
/// `auth` to every authenticated id of the session (InvalidACL if it has none), and refuse
/// unknown schemes or malformed ids.
pub fn fixup_acl(acl: &[Acl], auth: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let mut any = false;
            for id in auth.iter().filter(|id| is_authenticated_scheme(&id.scheme)) {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: id.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid_id(&a.id.scheme, &a.id.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// ZooKeeper's `checkACL`: Ok if `skip`, if the ACL is empty, if the session is super, or if
/// some entry with `perm` matches `world:anyone` or one of the session's ids; else NoAuth.
pub fn check_acl(acl: &[Acl], perm: i32, auth: &[Id], skip: bool) -> Result<(), ErrorCode> {
    if skip || acl.is_empty() || auth.iter().any(|id| id.scheme == SUPER) {
        return Ok(());
    }
    for a in acl.iter().filter(|a| a.perms & perm != 0) {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        let matched = auth.iter().filter(|id| id.scheme == a.id.scheme).any(|id| {
            match a.id.scheme.as_str() {
                "digest" => id.id == a.id.id,
                "ip" => ip_matches(&id.id, &a.id.id),
                _ => false,
            }
        });
        if matched {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::perms;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_matches_zookeepers_generate_digest() {
        // Known value: ZooKeeper's DigestAuthenticationProvider for "super:test".
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(generate_digest("bob:pw").split(':').next(), Some("bob"));
    }

    #[test]
    fn super_digest_adds_super_id() {
        let ids = digest_auth_ids(b"super:test", Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU="));
        assert_eq!(ids[0], Id::new("super", ""));
        assert_eq!(ids[1].scheme, "digest");
        assert_eq!(digest_auth_ids(b"bob:pw", None).len(), 1);
    }

    #[test]
    fn ip_scheme_matches_cidr() {
        assert!(ip_matches("10.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("10.1.2.3", "10.1.2.3"));
        assert!(!ip_matches("10.1.2.4", "10.1.2.3"));
        assert!(!ip_matches("11.1.2.3", "10.0.0.0/8"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.200", "192.168.1.64/26"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(ip_matches("::1", "::1"));
        assert!(!ip_matches("::1", "127.0.0.1"));
        assert!(!ip_matches("10.0.0.1", "10.0.0.0/33"));
    }

    #[test]
    fn fixup_acl_rejects_empty_unknown_and_malformed() {
        assert_eq!(fixup_acl(&[], &[]), Err(ErrorCode::InvalidAcl));
        for (s, i) in [
            ("world", "someone"),
            ("foo", "bar"),
            ("digest", "nocolon"),
            ("digest", "user:"),
            ("digest", "a:b:c"),
            ("ip", "10.0.0.0/99"),
            ("ip", "host"),
        ] {
            assert_eq!(
                fixup_acl(&[acl(perms::ALL, s, i)], &[]),
                Err(ErrorCode::InvalidAcl),
                "{s}:{i}"
            );
        }
        assert!(fixup_acl(&[acl(perms::ALL, "ip", "10.0.0.0/8")], &[]).is_ok());
        assert!(fixup_acl(&[acl(perms::ALL, "digest", "u:h")], &[]).is_ok());
    }

    #[test]
    fn fixup_acl_expands_auth_to_authenticated_ids() {
        let auth = [Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        let out = fixup_acl(&Acl::creator_all(), &auth).unwrap();
        assert_eq!(out, vec![acl(perms::ALL, "digest", "u:h")]);
        // Only an ip identity: nothing to expand to.
        assert_eq!(
            fixup_acl(&Acl::creator_all(), &auth[..1]),
            Err(ErrorCode::InvalidAcl)
        );
        // Duplicates collapse.
        let two = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fixup_acl(&two, &[]).unwrap(), Acl::open_unsafe());
    }

    #[test]
    fn check_acl_enforces_perms_and_schemes() {
        let a = vec![
            acl(perms::READ, "world", "anyone"),
            acl(perms::ALL, "digest", "u:h"),
            acl(perms::WRITE, "ip", "10.0.0.0/8"),
        ];
        let nobody: [Id; 0] = [];
        assert_eq!(check_acl(&a, perms::READ, &nobody, false), Ok(()));
        assert_eq!(
            check_acl(&a, perms::WRITE, &nobody, false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&a, perms::WRITE, &[Id::new("ip", "10.9.9.9")], false),
            Ok(())
        );
        assert_eq!(
            check_acl(&a, perms::ADMIN, &[Id::new("ip", "10.9.9.9")], false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&a, perms::ADMIN, &[Id::new("digest", "u:h")], false),
            Ok(())
        );
        assert_eq!(
            check_acl(&a, perms::ADMIN, &[Id::new("super", "")], false),
            Ok(())
        );
        assert_eq!(check_acl(&a, perms::ADMIN, &nobody, true), Ok(()));
        assert_eq!(check_acl(&[], perms::ADMIN, &nobody, false), Ok(()));
    }
}
