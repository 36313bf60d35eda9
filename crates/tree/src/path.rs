//! ZooKeeper's znode path rules (`PathUtils.validatePath`) and path arithmetic.
//!
//! Paths are validated on the leader during prep; apply trusts them. The rules are
//! ZooKeeper's, including its quirks, because clients rely on the exact error codes: a path
//! must be absolute, must not end in `/` (except the root), must not contain empty
//! components, `.` or `..` components, NUL, control characters or characters in the ranges
//! Java rejects (surrogates, private use, `\u{fff0}`..`\u{ffff}`).

/// The root.
pub const ROOT: &str = "/";
/// ZooKeeper's own subtree.
pub const ZOOKEEPER: &str = "/zookeeper";
/// Quota bookkeeping lives here.
pub const QUOTA: &str = "/zookeeper/quota";
/// The dynamic configuration node (read-only for clients).
pub const CONFIG: &str = "/zookeeper/config";

/// Why a path is not a valid znode path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty.
    #[error("path length must be > 0")]
    Empty,
    /// The path does not start with `/`.
    #[error("path must start with / character")]
    NotAbsolute,
    /// The path ends with `/` and is not the root.
    #[error("path must not end with / character")]
    TrailingSlash,
    /// Something in the middle is not allowed.
    #[error("invalid path string {path:?} caused by {reason} @{index}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
        /// Index (in characters) of the offending character.
        index: usize,
    },
}

/// Checks `path` against ZooKeeper's rules.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    // Character indices, as ZooKeeper reports them: an ASCII path's bytes are its characters,
    // so the common case checks them in place (this runs for every request and every node of
    // a restored snapshot).
    if path.is_ascii() {
        if plain_ascii(path.as_bytes()) {
            return Ok(());
        }
        check_chars(path, path.as_bytes())
    } else {
        check_chars(path, &path.chars().collect::<Vec<char>>())
    }
}

/// Whether an ASCII path breaks none of the per-character rules for a reason that cannot
/// arise without a control character, a dot or two slashes in a row: what almost every path
/// is. One branch-free pass over the bytes: the rules character by character cost about 25
/// instructions a byte, a tenth of a restart's recovery (every node of the snapshot is
/// checked) before this.
fn plain_ascii(bytes: &[u8]) -> bool {
    let mut odd = false;
    let mut last = 0u8;
    for &b in bytes {
        odd |= (b < 0x20) | (b == 0x7f) | (b == b'.') | ((b == b'/') & (last == b'/'));
        last = b;
    }
    !odd
}

/// The per-character rules of [`validate_path`] for a path of more than one character that
/// starts but does not end with `/`.
fn check_chars<C: Copy + Into<char>>(path: &str, units: &[C]) -> Result<(), PathError> {
    let chars = |i: usize| -> char { units[i].into() };
    let len = units.len();
    let invalid = |reason, index| {
        Err(PathError::Invalid {
            path: path.to_string(),
            reason,
            index,
        })
    };
    for i in 1..len {
        let c = chars(i);
        let last = chars(i - 1);
        let ends_component = i + 1 == len || chars(i + 1) == '/';
        if c == '\0' {
            return invalid("null character not allowed", i);
        } else if c == '/' && last == '/' {
            return invalid("empty node name specified", i);
        } else if c == '.' && last == '.' {
            if i >= 2 && chars(i - 2) == '/' && ends_component {
                return invalid("relative paths not allowed", i);
            }
        } else if c == '.' {
            if last == '/' && ends_component {
                return invalid("relative paths not allowed", i);
            }
        } else if is_forbidden_char(c) {
            return invalid("invalid character", i);
        }
    }
    Ok(())
}

/// Characters Java's `PathUtils` rejects. Java sees UTF-16 code units, so a character outside
/// the Basic Multilingual Plane arrives as a surrogate pair and is rejected too.
fn is_forbidden_char(c: char) -> bool {
    matches!(c,
        '\u{1}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{e000}'..='\u{f8ff}'
        | '\u{fff0}'..='\u{ffff}')
        || (c as u32) > 0xffff
}

/// Splits at the last `/`: `("/a", "b")` for `/a/b`, `("/", "a")` for `/a`. `None` when there
/// is no `/` or the path is the root. ZooKeeper's parent of `/a` is the empty string, an alias
/// of the root; here it is `/`.
pub fn split(path: &str) -> Option<(&str, &str)> {
    let slash = path.rfind('/')?;
    let name = &path[slash + 1..];
    if path == ROOT {
        return None;
    }
    let parent = if slash == 0 { ROOT } else { &path[..slash] };
    Some((parent, name))
}

/// The parent path, as ZooKeeper's prep computes it: everything before the last `/`, with
/// the empty string mapped to the root. `None` when the path has no `/`.
pub fn parent_for_prep(path: &str) -> Option<&str> {
    let slash = path.rfind('/')?;
    Some(if slash == 0 { ROOT } else { &path[..slash] })
}

/// Joins a parent and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == ROOT {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The nodes ZooKeeper refuses to delete (`DataTree.isSpecialPath`).
pub fn is_special(path: &str) -> bool {
    matches!(path, ROOT | ZOOKEEPER | QUOTA | CONFIG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_path_accepts_what_zookeeper_accepts() {
        for ok in [
            "/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/.a", "/a/...", "/é", "/a b",
        ] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
    }

    /// The ASCII fast path reads bytes; every ASCII path must get the answer, index included,
    /// that reading characters gives.
    #[test]
    fn ascii_paths_are_judged_by_bytes_as_by_characters() {
        let alphabet = ['/', '.', 'a', '\0', '\u{1}', '\u{7f}'];
        let mut paths = vec![String::from("/")];
        for _ in 0..5 {
            paths = paths
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            for p in &paths {
                let by_char: Vec<char> = p.chars().collect();
                assert_eq!(
                    format!("{:?}", check_chars(p, p.as_bytes())),
                    format!("{:?}", check_chars(p, &by_char)),
                    "{p:?}"
                );
            }
        }
    }

    /// The plain fast path never accepts what the rules character by character reject.
    #[test]
    fn plain_ascii_paths_pass_the_rules() {
        let alphabet = ['/', '.', 'a', ' ', '\0', '\u{1}', '\u{1f}', '\u{7f}', '~'];
        let mut paths = vec![String::from("/")];
        let mut plain = 0;
        for _ in 0..5 {
            paths = paths
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            for p in paths.iter().filter(|p| !p.ends_with('/')) {
                if plain_ascii(p.as_bytes()) {
                    plain += 1;
                    assert_eq!(check_chars(p, p.as_bytes()), Ok(()), "{p:?}");
                }
            }
        }
        assert!(plain > 300, "the fast path took only {plain} paths");
    }

    #[test]
    fn validate_path_rejects_what_zookeeper_rejects() {
        for bad in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/../b",
            "/a/./b",
            "/a\0b",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{1F600}",
        ] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/"), None);
        assert_eq!(split("a"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(parent_for_prep("/"), Some("/"));
        assert_eq!(parent_for_prep("/a/"), Some("/a"));
        assert!(is_special("/zookeeper/config") && !is_special("/zookeeper/x"));
    }
}
