//! Registration in Quorum: the ephemeral znode `/ledgers/bookies/<id>` holding "host:port".
//!
//! Writers pick ensembles from these znodes, so a bookie that lost its session (and with it
//! the znode) must come back on its own: the loop reconnects and registers again whenever the
//! session ends. A znode still owned by an older session (this bookie restarted faster than its
//! previous session expired) is waited out rather than deleted: deleting another session's
//! ephemeral would hide the fact that two processes may claim one id.

use std::time::Duration;

use client::zk;
use tokio::sync::watch;

/// Parent of the bookie znodes.
pub const BOOKIES_PATH: &str = "/ledgers/bookies";
/// Wait between attempts after a failure.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long a stopping bookie waits for its session to close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Deadline of one connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The znode of bookie `id`.
pub fn bookie_path(id: u32) -> String {
    format!("{BOOKIES_PATH}/{id}")
}

/// Keeps bookie `id` registered at `quorum` with `address` until `stop` turns true; then
/// closes the session, so the znode goes at once rather than when the session expires.
pub async fn keep_registered(
    quorum: String,
    id: u32,
    address: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut session = None;
    tokio::select! {
        () = register_loop(&quorum, id, &address, &mut session) => {}
        _ = stop.wait_for(|stop| *stop) => {}
    }
    if let Some((zk, mut states)) = session.take() {
        // Dropping the last handle makes the client send CloseSession.
        drop(zk);
        let closed = async { while !states.changed().await.is_terminated() {} };
        if tokio::time::timeout(CLOSE_TIMEOUT, closed).await.is_ok() {
            tracing::info!(path = %bookie_path(id), "bookie unregistered");
        }
    }
}

/// Registers, waits for the session to end, and registers again, forever. The registered
/// session is kept in `session` so that the caller can close it.
async fn register_loop(
    quorum: &str,
    id: u32,
    address: &str,
    session: &mut Option<(zk::Client, zk::StateWatcher)>,
) {
    loop {
        let zk = match client::connect(quorum, CONNECT_TIMEOUT).await {
            Ok(zk) => zk,
            Err(e) => {
                tracing::warn!(%quorum, error = %e, "cannot reach Quorum to register the bookie; retrying");
                tokio::time::sleep(RETRY_DELAY).await;
                continue;
            }
        };
        let states = zk.state_watcher();
        let (zk, states) = session.insert((zk, states));
        if let Err(e) = register(zk, id, address).await {
            tracing::warn!(error = %e, "bookie registration failed; retrying");
            *session = None;
            tokio::time::sleep(RETRY_DELAY).await;
            continue;
        }
        tracing::info!(path = %bookie_path(id), %address, session = %zk.session_id(), "bookie registered");
        loop {
            let state = states.changed().await;
            if state.is_terminated() {
                tracing::warn!(?state, "Quorum session ended; registering the bookie again");
                break;
            }
        }
        *session = None;
    }
}

/// Creates the parents (if missing) and the ephemeral znode.
async fn register(zk: &zk::Client, id: u32, address: &str) -> Result<(), zk::Error> {
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    for parent in ["/ledgers", BOOKIES_PATH] {
        match zk.create(parent, b"", &persistent).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    let path = bookie_path(id);
    let mut waiting_logged = false;
    loop {
        match zk.create(&path, address.as_bytes(), &ephemeral).await {
            Ok(_) => return Ok(()),
            Err(zk::Error::NodeExists) => match zk.check_stat(&path).await? {
                Some(stat) if stat.ephemeral_owner == zk.session_id().0 => return Ok(()),
                Some(stat) => {
                    if !std::mem::replace(&mut waiting_logged, true) {
                        tracing::info!(
                            %path,
                            owner = stat.ephemeral_owner,
                            "bookie znode held by an older session; waiting for it to expire"
                        );
                    }
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                None => {}
            },
            Err(e) => return Err(e),
        }
    }
}
