//! Version arithmetic shared by prep (what the txn will set) and tests.

use proto::ErrorCode;

/// `-1` in a request: "any version".
pub const ANY_VERSION: i32 = -1;

/// ZooKeeper's `checkAndIncVersion`: fail with BadVersion unless `expected` is -1 or equals
/// `current`; otherwise the next version. Versions are Java ints and wrap; the step from
/// `i32::MAX` wraps to `i32::MIN`, and the step that would land on -1 skips to 0, because -1
/// would read as "any version" in a later conditional write (ZOOKEEPER-4743).
pub fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != ANY_VERSION && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(next_version(current))
}

/// The version after `current`.
pub fn next_version(current: i32) -> i32 {
    match current.wrapping_add(1) {
        -1 => 0,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_check_and_increment() {
        assert_eq!(check_and_inc_version(3, -1), Ok(4));
        assert_eq!(check_and_inc_version(3, 3), Ok(4));
        assert_eq!(check_and_inc_version(3, 2), Err(ErrorCode::BadVersion));
        assert_eq!(check_and_inc_version(i32::MAX, -1), Ok(i32::MIN));
        assert_eq!(check_and_inc_version(-2, -2), Ok(0));
    }
}
