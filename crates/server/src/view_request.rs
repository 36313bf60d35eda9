//! Asking the driver, from an HTTP endpoint's task, for a [`ServerView`]: the core is only
//! reached through the driver's event queue, so the metrics endpoint and the AdminServer both
//! send a request and wait for the answer.

use tokio::sync::{mpsc, oneshot};

use crate::core::Detail;
use crate::events::CoreEvent;
use crate::four_letter_words::ServerView;

/// The server's view with `detail`, plus the process's file descriptor figures; `None` when the
/// driver has stopped.
pub async fn ask(core: &mpsc::Sender<CoreEvent>, detail: Detail) -> Option<ServerView> {
    let (reply, answer) = oneshot::channel();
    core.send(CoreEvent::View { detail, reply }).await.ok()?;
    let mut view = answer.await.ok()?;
    (view.open_fds, view.max_fds) = crate::fds::figures().await;
    Some(view)
}
