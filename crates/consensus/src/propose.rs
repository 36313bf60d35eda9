//! Propose a value against a live ensemble and learn the decided value.
//!
//! The decision is the znode at `path`. Its first successful `create` decides: ZooKeeper's
//! create is a conditional write (it succeeds only if the node is absent), applied by the leader
//! in one total order, so exactly one create of the path ever succeeds. Everyone else gets
//! NodeExists and reads the node. The node is persistent (an ephemeral node would vanish with
//! its creator's session and let a second value be decided) and is never deleted or changed.
//!
//! Connection loss and failover: a request whose reply is lost may or may not have been
//! applied. We never guess. We retry the create (on a new session if the old one is gone):
//! - if our earlier create was not applied, the retry is an ordinary attempt;
//! - if it was applied, the retry gets NodeExists — indistinguishable from having lost to
//!   someone else — and we resolve it the same way: read the node (after `sync`, so the server
//!   we read from has caught up with the leader) and decide whatever it holds. Comparing it
//!   with our own value only tells us whether we won; the decision is the node's data either
//!   way.
//!
//! The model checker's `create-then-read` protocol is this loop; `create-assume-won-on-lost-reply`
//! shows what goes wrong if a lost reply is taken for a success.

use std::time::{Duration, Instant};

use client::zk;

/// How to reach the ensemble and how long to keep trying.
#[derive(Clone, Debug)]
pub struct ProposeOptions {
    /// ZooKeeper connect string, `host:port,host:port…`.
    pub servers: String,
    /// The decision znode (its parents are created if missing).
    pub path: String,
    /// Give up (with an error) after this long without a decision.
    pub deadline: Duration,
    /// Per-connection attempt timeout.
    pub connect_timeout: Duration,
    /// Testing: wait this long after the first connection before the first create, so that a
    /// test can hold a wave of connected proposers and fire their creates into a fault.
    pub hold: Duration,
}

/// How the value was learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The decided value.
    pub value: Vec<u8>,
    /// Our create made the decision (known either from its reply or, after a lost reply, from
    /// reading our own value back).
    pub ours: bool,
    /// We learned that our value won by reading it back after NodeExists: our own create had
    /// been applied and its reply lost (or someone proposed the same value).
    pub read_back: bool,
    /// Requests that failed with a connection or session error and were retried.
    pub retries: u32,
}

/// Proposes `value`; returns the decided value (possibly someone else's).
///
/// `log` receives one line per notable event (connections, retries), for stderr.
pub async fn propose(
    options: &ProposeOptions,
    value: &[u8],
    log: &mut dyn FnMut(String),
) -> Result<Decision, String> {
    let start = Instant::now();
    let mut retries = 0u32;
    let mut client: Option<zk::Client> = None;
    let mut parents_ready = false;
    let mut held = false;
    // Failures on the current client since it connected.
    let mut failures_here = 0u32;
    let mut last_error = String::from("no attempt");
    loop {
        if start.elapsed() > options.deadline {
            return Err(format!(
                "no decision within {:?} (last error: {last_error})",
                options.deadline
            ));
        }
        let zk = match &client {
            Some(zk) if !zk.state().is_terminated() => zk.clone(),
            _ => match client::connect(&options.servers, options.connect_timeout).await {
                Ok(zk) => {
                    log(format!("connected (session 0x{:x})", zk.session_id().0));
                    if !held {
                        held = true;
                        tokio::time::sleep(options.hold).await;
                    }
                    client = Some(zk.clone());
                    zk
                }
                Err(e) => {
                    last_error = format!("connect: {e}");
                    log(last_error.clone());
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
        };
        match attempt(&zk, options, value, &mut parents_ready).await {
            Ok(Some((decided, ours, read_back))) => {
                return Ok(Decision {
                    value: decided,
                    ours,
                    read_back,
                    retries,
                })
            }
            // NodeExists and then NoNode: a read that raced; ask again.
            Ok(None) => {}
            Err(e) => {
                last_error = e.to_string();
                log(format!("retrying after: {e}"));
                retries += 1;
                // A session error ends this client; any other error is retried on it (the
                // client reconnects to another server of the same session by itself), but a
                // fresh session after repeated failures costs nothing: the node is persistent.
                failures_here += 1;
                if terminal(&e) || failures_here >= 5 {
                    client = None;
                    failures_here = 0;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Errors after which this client can do nothing more.
fn terminal(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoHosts
            | zk::Error::SessionExpired
            | zk::Error::AuthFailed
            | zk::Error::ClientClosed
    )
}

/// One create-or-read. `Ok(Some((value, ours, read_back)))` once decided.
async fn attempt(
    zk: &zk::Client,
    options: &ProposeOptions,
    value: &[u8],
    parents_ready: &mut bool,
) -> Result<Option<(Vec<u8>, bool, bool)>, zk::Error> {
    let acl = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    if !*parents_ready {
        create_parents(zk, &options.path).await?;
        *parents_ready = true;
    }
    match zk.create(&options.path, value, &acl).await {
        Ok(_) => return Ok(Some((value.to_vec(), true, false))),
        Err(zk::Error::NodeExists) => {}
        Err(zk::Error::NoNode) => {
            // A parent is missing after all (someone deleted it): make it again.
            *parents_ready = false;
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    // Someone's create succeeded — maybe ours, whose reply was lost. Read the decision from a
    // server that has caught up with the leader.
    zk.sync(&options.path).await?;
    match zk.get_data(&options.path).await {
        Ok((data, _)) => {
            let ours = data == value;
            Ok(Some((data, ours, ours)))
        }
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The proper ancestors of `path` below the root, outermost first.
fn parents(path: &str) -> Vec<&str> {
    path.match_indices('/')
        .map(|(i, _)| &path[..i])
        .filter(|p| !p.is_empty())
        .collect()
}

/// Creates every ancestor of `path` that is missing (empty, persistent).
async fn create_parents(zk: &zk::Client, path: &str) -> Result<(), zk::Error> {
    let acl = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for parent in parents(path) {
        match zk.create(parent, b"", &acl).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parents_of_a_path() {
        assert_eq!(
            super::parents("/consensus/a/b"),
            ["/consensus", "/consensus/a"]
        );
        assert!(super::parents("/top").is_empty());
    }
}
