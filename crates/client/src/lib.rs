//! A thin layer over the [`zookeeper_client`] crate, the Rust client Quorum uses rather than
//! writing its own (a second client would only be a second place for protocol bugs to hide; a
//! client that also talks to Apache ZooKeeper keeps Quorum honest).
//!
//! It adds only what the shell and the tests need on top of that crate:
//! - [`connect`]: connecting with an overall deadline, so a wrong address fails in seconds
//!   instead of retrying for the whole session timeout;
//! - [`list_recursive`] and [`delete_all`]: the tree walks behind zkCli's `ls -R` and `deleteall`;
//! - [`describe_error`] and [`format_stat`]: the text zkCli prints, so people who know zkCli read
//!   the shell's output without surprises.
//!
//! ```no_run
//! # async fn demo() -> Result<(), client::zk::Error> {
//! let zk = client::connect("127.0.0.1:2181", std::time::Duration::from_secs(5)).await?;
//! let (data, stat) = zk.get_data("/zookeeper").await?;
//! println!("{} bytes, version {}", data.len(), stat.version);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The underlying client crate, re-exported so users of this crate name one version of it.
pub use zookeeper_client as zk;

/// Connects to `servers` (ZooKeeper's connect string: `host:port[,host:port…][/chroot]`),
/// giving up after `timeout`.
///
/// The session timeout asked for is `timeout` clamped to ZooKeeper's usual bounds; the server
/// negotiates the final value. Every listed host is tried once (`fail_eagerly`), and the whole
/// attempt is bounded by `timeout`, because an interactive user or a script wants "cannot
/// connect" quickly rather than the client's silent retries.
pub async fn connect(servers: &str, timeout: Duration) -> Result<zk::Client, zk::Error> {
    let session_timeout = timeout.clamp(Duration::from_secs(4), Duration::from_secs(40));
    let connecting = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .with_fail_eagerly()
        .connect(servers);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(result) => result,
        Err(_) => Err(zk::Error::Timeout),
    }
}

/// Joins a parent path and a child name (the root has no trailing separator to add).
pub fn child_path(parent: &str, child: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// `path` and every znode under it, breadth first, parents before children and siblings in
/// name order — the order zkCli's `ls -R` prints (ZKUtil.listSubTreeBFS).
///
/// Nodes deleted while the walk runs are skipped rather than failing the whole listing: the tree
/// is live, and a listing is a best-effort picture of it.
pub async fn list_recursive(client: &zk::Client, path: &str) -> Result<Vec<String>, zk::Error> {
    // Fail on a missing root: that is the user's mistake, not a race.
    client.check_stat(path).await?.ok_or(zk::Error::NoNode)?;
    let mut order = vec![path.to_string()];
    let mut queue = VecDeque::from([path.to_string()]);
    while let Some(node) = queue.pop_front() {
        let mut children = match client.list_children(&node).await {
            Ok(children) => children,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        children.sort();
        for child in children {
            let full = child_path(&node, &child);
            order.push(full.clone());
            queue.push_back(full);
        }
    }
    Ok(order)
}

/// Deletes `path` and everything under it, deepest first (zkCli's `deleteall`).
///
/// Returns the number of znodes deleted. A node that vanishes meanwhile is fine (someone else
/// deleted it); a node created meanwhile under a node being deleted makes that delete fail with
/// `NotEmpty`, and the error is returned: the caller asked for a tree to be gone, and it is not.
pub async fn delete_all(client: &zk::Client, path: &str) -> Result<usize, zk::Error> {
    let nodes = list_recursive(client, path).await?;
    let mut deleted = 0;
    for node in nodes.iter().rev() {
        match client.delete(node, None).await {
            Ok(()) => deleted += 1,
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

/// The message zkCli prints for `error` on `path`.
///
/// zkCli (ZooKeeper 3.8, CliWrapperException) words the common failures itself — "Node does not
/// exist: /x" — and falls back to KeeperException's "KeeperErrorCode = Name for /x". Errors that
/// are not the server's (connection loss, a closed client) keep the client crate's text.
pub fn describe_error(error: &zk::Error, path: &str) -> String {
    use zk::Error as E;
    let code = match error {
        E::NoNode => return format!("Node does not exist: {path}"),
        E::NodeExists => return format!("Node already exists: {path}"),
        E::BadVersion => return format!("version No is not valid : {path}"),
        E::NotEmpty => return format!("Node not empty: {path}"),
        E::NoAuth => return format!("Insufficient permission : {path}"),
        E::AuthFailed => return format!("Authentication is not valid : {path}"),
        E::BadArguments(why) => return format!("Arguments are not valid : {path} ({why})"),
        E::NoChildrenForEphemerals => "NoChildrenForEphemerals",
        E::InvalidAcl => "InvalidACL",
        E::SessionExpired => "Session expired",
        E::SessionMoved => "Session moved",
        E::NotReadOnly => "Not a read-only call",
        E::NoWatcher => "No such watcher",
        E::QuotaExceeded => "Quota has exceeded",
        E::Throttled => "Request throttled",
        E::MarshallingError => "MarshallingError",
        E::Unimplemented => "Unimplemented",
        E::ReconfigDisabled => "Reconfig is disabled",
        E::ConnectionLoss => "ConnectionLoss",
        E::Timeout => "OperationTimeout",
        other => return format!("{other}: {path}"),
    };
    format!("KeeperErrorCode = {code} for {path}")
}

/// A Stat as zkCli's `stat` prints it: one `name = value` line per field, zxids and the
/// ephemeral owner in hex, times as Java's `Date.toString()` would print them in UTC.
pub fn format_stat(stat: &zk::Stat) -> String {
    let lines = [
        format!("cZxid = 0x{:x}", stat.czxid),
        format!("ctime = {}", java_date(stat.ctime)),
        format!("mZxid = 0x{:x}", stat.mzxid),
        format!("mtime = {}", java_date(stat.mtime)),
        format!("pZxid = 0x{:x}", stat.pzxid),
        format!("cversion = {}", stat.cversion),
        format!("dataVersion = {}", stat.version),
        format!("aclVersion = {}", stat.aversion),
        format!("ephemeralOwner = 0x{:x}", stat.ephemeral_owner),
        format!("dataLength = {}", stat.data_length),
        format!("numChildren = {}", stat.num_children),
    ];
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Milliseconds since the epoch as `Thu Jan 01 00:00:00 UTC 1970` (Java's Date format), in
/// UTC so the output does not depend on the machine's time zone database.
pub fn java_date(millis: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        year
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`), to avoid a date crate for one line of output.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Now, in milliseconds since the epoch (for comparing with ctime and mtime).
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_like_java() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2024-02-29T12:34:56.789Z, a leap day and a Thursday.
        assert_eq!(java_date(1_709_210_096_789), "Thu Feb 29 12:34:56 UTC 2024");
    }

    #[test]
    fn child_paths_join_once() {
        assert_eq!(child_path("/", "a"), "/a");
        assert_eq!(child_path("/a", "b"), "/a/b");
    }

    #[test]
    fn errors_read_like_zkcli() {
        assert_eq!(
            describe_error(&zk::Error::NoNode, "/x"),
            "Node does not exist: /x"
        );
        assert_eq!(
            describe_error(&zk::Error::NoChildrenForEphemerals, "/e/c"),
            "KeeperErrorCode = NoChildrenForEphemerals for /e/c"
        );
    }

    #[test]
    fn stat_has_every_field_on_its_own_line() {
        let stat = zk::Stat {
            czxid: 2,
            mzxid: 3,
            pzxid: 4,
            ctime: 0,
            mtime: 0,
            version: 1,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0x1234,
            data_length: 2,
            num_children: 0,
        };
        let text = format_stat(&stat);
        assert_eq!(text.lines().count(), 11);
        assert!(text.contains("\ndataVersion = 1\n"));
        assert!(text.contains("\nephemeralOwner = 0x1234\n"));
    }
}
