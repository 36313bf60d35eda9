//! Topic names: one rule for the disk and the wire.
//!
//! A topic name becomes part of a directory name (`<topic>-<partition>`), so it is restricted to
//! `[A-Za-z0-9._-]{1,200}`: no path separators, nothing a shell or a file system treats
//! specially, and short enough that the directory name stays far below NAME_MAX (255).

/// Longest topic name accepted.
pub const MAX_TOPIC_BYTES: usize = 200;

/// Whether `name` is a valid topic name.
pub fn is_valid_topic(name: &str) -> bool {
    (1..=MAX_TOPIC_BYTES).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `Ok` for a valid topic name, else a message naming it and the rule.
pub fn check_topic(name: &str) -> Result<(), String> {
    if is_valid_topic(name) {
        Ok(())
    } else {
        Err(format!(
            "invalid topic name {name:?}: it must be 1 to {MAX_TOPIC_BYTES} of A-Z a-z 0-9 . _ -"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for ok in ["a", "orders.v2", "A_b-9", &"x".repeat(200)] {
            assert!(is_valid_topic(ok), "{ok}");
        }
        for bad in ["", "a/b", "..\0", "é", "a b", &"x".repeat(201)] {
            assert!(check_topic(bad).is_err(), "{bad}");
        }
    }
}
