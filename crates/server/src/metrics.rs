//! The Prometheus endpoint (`GET /metrics` on `metricsProvider.httpPort`), with the figures
//! `mntr` reports, under the same names (`zk_…`) so dashboards built for ZooKeeper's
//! Prometheus provider find them.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::core::Detail;
use crate::events::CoreEvent;
use crate::four_letter_words::ServerView;
use crate::http::{HttpLimits, Request, Response};

/// The metrics text for one view of the server.
pub fn render(view: &ServerView) -> String {
    let mut registry = Registry::default();
    let mut gauge = |name: &str, help: &str, value: i64| {
        let g: Gauge = Gauge::default();
        g.set(value);
        registry.register(name, help, g);
    };
    let serving = i64::from(matches!(
        view.mode.as_str(),
        "standalone" | "leader" | "follower" | "observer"
    ));
    gauge(
        "zk_up",
        "1 when the server serves clients (standalone, leader or follower)",
        serving,
    );
    gauge(
        "zk_leader",
        "1 on the leader of an ensemble",
        i64::from(view.mode == "leader"),
    );
    gauge(
        "zk_znode_count",
        "znodes in the tree",
        view.node_count as i64,
    );
    gauge(
        "zk_ephemerals_count",
        "ephemeral znodes",
        view.ephemerals_count as i64,
    );
    gauge(
        "zk_approximate_data_size",
        "bytes of paths and data",
        view.approximate_data_size as i64,
    );
    gauge(
        "zk_num_alive_connections",
        "client connections",
        view.connection_count as i64,
    );
    gauge("zk_watch_count", "watches held", view.watch_count as i64);
    gauge(
        "zk_outstanding_requests",
        "writes proposed and not yet applied",
        view.outstanding as i64,
    );
    gauge(
        "zk_packets_received",
        "requests received",
        view.packets_received as i64,
    );
    gauge("zk_packets_sent", "packets sent", view.packets_sent as i64);
    gauge(
        "zk_min_latency",
        "fastest answer, ms",
        view.latency_min_ms as i64,
    );
    gauge(
        "zk_max_latency",
        "slowest answer, ms",
        view.latency_max_ms as i64,
    );
    gauge(
        "zk_avg_latency",
        "mean answer time, ms (rounded)",
        view.latency_avg_ms.round() as i64,
    );
    gauge("zk_last_zxid", "last applied zxid", view.zxid.as_i64());
    gauge(
        "zk_current_epoch",
        "Zab currentEpoch",
        i64::from(view.epoch),
    );
    gauge(
        "zk_global_sessions",
        "open sessions",
        view.session_count as i64,
    );
    gauge(
        "zk_open_file_descriptor_count",
        "open file descriptors",
        view.open_fds as i64,
    );
    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// Scrapes served at once; a connection beyond it is closed at once.
pub const MAX_METRICS_CONNECTIONS: usize = 16;
/// How long a scrape may take to send its request and read the answer.
pub const METRICS_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the metrics listener allows a stranger.
const METRICS_HTTP_LIMITS: HttpLimits = HttpLimits {
    label: "metrics",
    max_connections: MAX_METRICS_CONNECTIONS,
    exchange_timeout: METRICS_REQUEST_TIMEOUT,
};

/// Serves `/metrics` until the process ends. A stranger cannot hold the endpoint: at most
/// [`MAX_METRICS_CONNECTIONS`] at once, each closed after [`METRICS_REQUEST_TIMEOUT`].
pub async fn serve(listener: TcpListener, core: mpsc::Sender<CoreEvent>) {
    crate::http::serve(listener, METRICS_HTTP_LIMITS, move |request| {
        scrape(request, core.clone())
    })
    .await
}

/// Answers one request.
async fn scrape(request: Request, core: mpsc::Sender<CoreEvent>) -> Response {
    if request.path != "/metrics" {
        return Response::empty(404);
    }
    if request.method != "GET" && request.method != "HEAD" {
        return Response::empty(405);
    }
    match crate::view_request::ask(&core, Detail::Counters).await {
        Some(view) => Response::new(
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&view),
        ),
        None => Response::empty(503),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let view = ServerView {
            mode: "standalone".into(),
            node_count: 7,
            ..Default::default()
        };
        let text = render(&view);
        assert!(text.contains("zk_znode_count 7"), "{text}");
        assert!(text.contains("zk_up 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
