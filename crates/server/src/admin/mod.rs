//! ZooKeeper 3.5+'s AdminServer: `GET <admin.commandURL>/<command>` on `admin.serverPort`
//! answers in the JSON shapes of ZooKeeper 3.8, because monitoring tools and Kubernetes probes
//! written for ZooKeeper read them. `<admin.commandURL>` alone lists the commands, as
//! ZooKeeper's does.
//!
//! The figures come from the same [`ServerView`](crate::four_letter_words::ServerView) the
//! four-letter words and the metrics endpoint report; HTTP is the shared [`crate::http`].

mod commands;
mod json;
mod monitor;

use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::events::CoreEvent;
use crate::http::{HttpLimits, Request, Response};

pub use commands::{lookup, Command, COMMANDS};

/// Admin connections served at once; one beyond it is closed at once. Each holds its slot at
/// most [`crate::http::HEAD_READ_TIMEOUT`] before it has sent a whole request.
pub const MAX_ADMIN_CONNECTIONS: usize = 64;

/// What the admin handler needs besides the view: the configuration it reports and when the
/// server started (ZooKeeper's `uptime`).
#[derive(Clone)]
pub struct AdminContext {
    pub config: Arc<Config>,
    pub started: Instant,
}

/// Serves the AdminServer until the process ends: at most [`MAX_ADMIN_CONNECTIONS`] at once,
/// each closed [`crate::http::HEAD_READ_TIMEOUT`] after it connected if no whole request came,
/// and after `admin.idleTimeout` whatever it sent.
pub async fn serve(listener: TcpListener, core: mpsc::Sender<CoreEvent>, context: AdminContext) {
    let limits = HttpLimits {
        label: "admin",
        max_connections: MAX_ADMIN_CONNECTIONS,
        exchange_timeout: context.config.admin.idle_timeout,
    };
    let context = Arc::new(context);
    crate::http::serve(listener, limits, move |request| {
        answer(request, core.clone(), context.clone())
    })
    .await
}

/// ZooKeeper's answers: 404 outside the command URL, 405 for methods other than GET and HEAD,
/// the command list at the command URL itself, and a JSON body (status 200, even for an unknown
/// command) for `<command URL>/<name>`.
async fn answer(
    request: Request,
    core: mpsc::Sender<CoreEvent>,
    context: Arc<AdminContext>,
) -> Response {
    let base = context.config.admin.command_url.as_str();
    let Some(rest) = request.path.strip_prefix(base) else {
        return Response::empty(404);
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Response::empty(404);
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Response::empty(405);
    }
    let name = rest.trim_start_matches('/');
    if name.is_empty() {
        return Response::new(200, "text/html", commands::listing(base));
    }
    let body = match lookup(name) {
        Some(command) => match crate::view_request::ask(&core, command.detail).await {
            // Sizing the data folders and rendering every connection is file-system work and
            // CPU that must not take the runtime thread, which may be the core's.
            Some(view) => {
                let rendered =
                    tokio::task::spawn_blocking(move || json::run(command, &view, &context)).await;
                match rendered {
                    Ok(body) => body,
                    Err(_) => return Response::empty(500),
                }
            }
            None => return Response::empty(503),
        },
        None => json::unknown(name),
    };
    Response::new(200, "application/json", body)
}
