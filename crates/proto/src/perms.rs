//! ACL permission bits (`ZooDefs.Perms`). They travel as a plain `int` in [`crate::Acl`].

/// May read data and list children.
pub const READ: i32 = 1;
/// May set data.
pub const WRITE: i32 = 1 << 1;
/// May create children.
pub const CREATE: i32 = 1 << 2;
/// May delete children.
pub const DELETE: i32 = 1 << 3;
/// May set the ACL.
pub const ADMIN: i32 = 1 << 4;
/// Every permission.
pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;

/// The letters zkCli prints for a permission mask (`cdrwa` order), e.g. `"cdrwa"` for [`ALL`].
pub fn to_letters(perms: i32) -> String {
    [
        (CREATE, 'c'),
        (DELETE, 'd'),
        (READ, 'r'),
        (WRITE, 'w'),
        (ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| perms & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_letters() {
        assert_eq!(ALL, 31);
        assert_eq!(to_letters(ALL), "cdrwa");
        assert_eq!(to_letters(READ | ADMIN), "ra");
    }
}
