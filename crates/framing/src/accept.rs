//! The accept loop: connections bounded by a limit, accept errors backed off.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// First wait after an accept error; doubles while errors repeat, up to [`MAX_ACCEPT_BACKOFF`].
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts connections until aborted, serving each with the future `serve` makes of it. At most
/// `limit` are served at once; more are closed at accept. Aborting it drops the `JoinSet` and
/// with it every connection task.
pub async fn accept_loop<S, Fut>(listener: TcpListener, limit: usize, mut serve: S)
where
    S: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limit));
    let mut conns = JoinSet::new();
    let mut backoff = FIRST_ACCEPT_BACKOFF;
    let mut refused = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = conns.join_next() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = FIRST_ACCEPT_BACKOFF;
                stream
            }
            Err(e) => {
                // EMFILE and friends repeat at once if retried at once: wait, longer each time.
                tracing::warn!(error = %e, delay_ms = backoff.as_millis() as u64, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    max_connections = limit,
                    refused,
                    "connection limit reached; closing new connections"
                );
            }
            continue;
        };
        let served = serve(stream);
        conns.spawn(async move {
            served.await;
            drop(slot);
        });
    }
}
