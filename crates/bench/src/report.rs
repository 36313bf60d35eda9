//! Counting and reporting: per-task [`Stats`] merged into one [`Report`], printed as a table or
//! written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency the histograms hold, in µs (larger values are clamped to it): 10 minutes.
pub const MAX_LATENCY_US: u64 = 600_000_000;

/// What one task measured inside the measurement window.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latencies in µs.
    pub hist: Histogram<u64>,
    /// Requests (or notifications) completed and verified.
    pub ops: u64,
    /// Failed requests, by kind.
    pub errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds"),
            ops: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Records one verified completion that took `latency`.
    pub fn record(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.hist.record(us).expect("clamped into range");
        self.ops += 1;
    }

    /// Counts one failure of kind `kind`.
    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.hist.add(&other.hist).expect("same bounds");
        self.ops += other.ops;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    /// Total failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The longest stretch without a completed request, shared by all tasks: every completion
/// moves `last` forward and the distance it moved is a candidate gap.
#[derive(Debug)]
pub struct GapTracker {
    base: Instant,
    last: AtomicU64,
    max: AtomicU64,
}

impl GapTracker {
    /// A tracker whose window starts at `start`.
    pub fn new(start: Instant) -> Self {
        GapTracker {
            base: start,
            last: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// A request completed at `at`.
    pub fn completed(&self, at: Instant) {
        let now = at.saturating_duration_since(self.base).as_nanos() as u64;
        let prev = self.last.fetch_max(now, Ordering::Relaxed);
        if now > prev {
            self.max.fetch_max(now - prev, Ordering::Relaxed);
        }
    }

    /// The longest gap, counting the stretch from the last completion to `end`.
    pub fn longest(&self, end: Instant) -> Duration {
        self.completed(end);
        Duration::from_nanos(self.max.load(Ordering::Relaxed))
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Percentiles of a histogram of µs values.
    pub fn from_hist(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }

    /// The distribution of a histogram of µs values as (latency ms, fraction of completions at
    /// or below it) pairs, at the quantiles of [`cdf_quantiles`]; empty for an empty histogram.
    pub fn cdf(h: &Histogram<u64>) -> Vec<[f64; 2]> {
        if h.is_empty() {
            return Vec::new();
        }
        cdf_quantiles()
            .into_iter()
            .map(|q| {
                let us = if q >= 1.0 {
                    h.max()
                } else {
                    h.value_at_quantile(q)
                };
                [us as f64 / 1000.0, q]
            })
            .collect()
    }
}

/// The quantiles a CDF is sampled at: 0 (the minimum), every 0.01 up to 0.99, then every 0.001
/// up to 0.999, every 0.0001 up to 0.9999, 0.99995 and 1 (the maximum): 120 points, dense in
/// the tail.
pub fn cdf_quantiles() -> Vec<f64> {
    let mut qs: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
    qs.extend((1..10).map(|i| 0.99 + i as f64 / 1000.0));
    qs.extend((1..10).map(|i| 0.999 + i as f64 / 10_000.0));
    qs.push(0.99995);
    qs.push(1.0);
    qs
}

/// One request of a run with a timeline: when it was sent and when its reply (or failure)
/// came, in µs since the Unix epoch, and the error kind if it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Sent, µs since the Unix epoch.
    pub sent_us: u64,
    /// Reply verified or failure seen, µs since the Unix epoch.
    pub done_us: u64,
    /// `None` for a verified reply, else the error kind.
    pub error: Option<String>,
}

/// Writes a timeline as text, one request a line: `sent_us done_us ok` or
/// `sent_us done_us ERRORKIND` (µs since the Unix epoch), in order of sending.
pub fn timeline_text(timeline: &[Completion]) -> String {
    let mut sorted: Vec<&Completion> = timeline.iter().collect();
    sorted.sort_by_key(|c| (c.sent_us, c.done_us));
    let mut s = String::with_capacity(timeline.len() * 40);
    for c in sorted {
        let kind = c
            .error
            .as_deref()
            .unwrap_or("ok")
            .replace(char::is_whitespace, "_");
        let _ = writeln!(s, "{} {} {kind}", c.sent_us, c.done_us);
    }
    s
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Workload name.
    pub workload: String,
    /// The znode the run worked under (created for the run).
    pub parent: String,
    /// What the latency measures (request round trip, or set-to-notification).
    pub latency_of: String,
    /// The servers, as given.
    pub servers: Vec<String>,
    /// Sessions.
    pub clients: usize,
    /// Requests in flight per session.
    pub inflight: usize,
    /// Value size in bytes.
    pub value_size: usize,
    /// Read ratio (mixed workload).
    pub read_ratio: f64,
    /// Warm-up, not measured, in seconds.
    pub warmup_secs: f64,
    /// Measured stretch in seconds (with a fixed number of operations: from the start until
    /// the last one completed).
    pub duration_secs: f64,
    /// The fixed number of operations asked for, if any.
    pub max_ops: Option<u64>,
    /// Verified completions in the measured stretch.
    pub ops: u64,
    /// Completions per second.
    pub throughput: f64,
    /// Failures in the measured stretch (all kinds).
    pub errors: u64,
    /// Failures by kind.
    pub error_kinds: BTreeMap<String, u64>,
    /// Sessions reopened after a lost connection.
    pub reconnects: u64,
    /// Latency percentiles, ms.
    pub latency_ms: Latency,
    /// Latency distribution: (ms, fraction of completions at or below it) pairs, see
    /// [`Latency::cdf`].
    pub latency_cdf: Vec<[f64; 2]>,
    /// Longest stretch in the measured window without a completion, ms.
    pub max_gap_ms: f64,
    /// Every request of the measured window, when a timeline was asked for (not in the JSON;
    /// see [`timeline_text`]).
    #[serde(skip)]
    pub timeline: Vec<Completion>,
}

impl Report {
    /// The report as a small table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let l = &self.latency_ms;
        let _ = writeln!(
            s,
            "workload {}  servers {}  clients {} x inflight {}  value {} B{}  warmup {} s  measured {} s",
            self.workload,
            self.servers.join(","),
            self.clients,
            self.inflight,
            self.value_size,
            if self.workload == "mixed" {
                format!("  read ratio {}", self.read_ratio)
            } else {
                String::new()
            },
            self.warmup_secs,
            self.duration_secs
        );
        let _ = writeln!(
            s,
            "{:>12} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "ops/s",
            "ops",
            "errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "mean ms",
            "max gap ms"
        );
        let _ = writeln!(
            s,
            "{:>12.0} {:>10} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>10.1}",
            self.throughput,
            self.ops,
            self.errors,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            l.mean,
            self.max_gap_ms
        );
        let _ = writeln!(s, "latency: {}", self.latency_of);
        if !self.error_kinds.is_empty() {
            let kinds: Vec<String> = self
                .error_kinds
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            let _ = writeln!(s, "errors: {}", kinds.join(", "));
        }
        if self.reconnects > 0 {
            let _ = writeln!(s, "sessions reopened: {}", self.reconnects);
        }
        s
    }

    /// The report as pretty JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_merged_histograms() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for i in 1..=900u64 {
            a.record(Duration::from_micros(i * 10));
        }
        for i in 901..=1000u64 {
            b.record(Duration::from_micros(i * 10));
        }
        b.error("NoNode");
        b.error("NoNode");
        a.merge(&b);
        assert_eq!(a.ops, 1000);
        assert_eq!(a.error_count(), 2);
        let l = Latency::from_hist(&a.hist);
        assert!((l.p50 - 5.0).abs() < 0.01, "{l:?}");
        assert!((l.p90 - 9.0).abs() < 0.01, "{l:?}");
        assert!((l.p99 - 9.9).abs() < 0.01, "{l:?}");
        assert!((l.max - 10.0).abs() < 0.01, "{l:?}");
    }

    #[test]
    fn the_cdf_rises_from_the_minimum_to_the_maximum() {
        let mut s = Stats::default();
        for i in 1..=10_000u64 {
            s.record(Duration::from_micros(i));
        }
        let cdf = Latency::cdf(&s.hist);
        assert_eq!(cdf.len(), cdf_quantiles().len());
        assert_eq!(cdf.len(), 120);
        assert_eq!(cdf[0], [0.001, 0.0]);
        assert_eq!(cdf.last().unwrap()[1], 1.0);
        assert!((cdf.last().unwrap()[0] - 10.0).abs() < 0.01);
        assert!(cdf
            .windows(2)
            .all(|w| w[0][0] <= w[1][0] && w[0][1] < w[1][1]));
        let p50 = cdf.iter().find(|p| p[1] == 0.5).unwrap()[0];
        assert!((p50 - 5.0).abs() < 0.01, "{p50}");
    }

    #[test]
    fn timelines_are_written_in_order_of_sending() {
        let t = [
            Completion {
                sent_us: 20,
                done_us: 25,
                error: Some("Connection Loss".into()),
            },
            Completion {
                sent_us: 10,
                done_us: 30,
                error: None,
            },
        ];
        assert_eq!(timeline_text(&t), "10 30 ok\n20 25 Connection_Loss\n");
    }

    #[test]
    fn the_longest_gap_includes_the_tail() {
        let t0 = Instant::now();
        let g = GapTracker::new(t0);
        g.completed(t0 + Duration::from_millis(10));
        g.completed(t0 + Duration::from_millis(5)); // late report, not a gap
        g.completed(t0 + Duration::from_millis(40));
        assert_eq!(
            g.longest(t0 + Duration::from_millis(50)),
            Duration::from_millis(30)
        );
        let g = GapTracker::new(t0);
        g.completed(t0 + Duration::from_millis(1));
        assert_eq!(
            g.longest(t0 + Duration::from_millis(100)),
            Duration::from_millis(99)
        );
    }

    #[test]
    fn empty_runs_report_zeros_and_the_json_has_the_fields() {
        let r = Report {
            workload: "get".into(),
            parent: "/bench".into(),
            latency_of: "request".into(),
            servers: vec!["127.0.0.1:2181".into()],
            clients: 1,
            inflight: 1,
            value_size: 100,
            read_ratio: 0.9,
            warmup_secs: 0.0,
            duration_secs: 1.0,
            max_ops: None,
            ops: 0,
            throughput: 0.0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            reconnects: 0,
            latency_ms: Latency::from_hist(&Stats::default().hist),
            latency_cdf: Latency::cdf(&Stats::default().hist),
            max_gap_ms: 1000.0,
            timeline: Vec::new(),
        };
        let v: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(v["latency_ms"]["p999"], 0.0);
        assert_eq!(v["max_gap_ms"], 1000.0);
        assert_eq!(v["latency_cdf"].as_array().unwrap().len(), 0);
        assert!(v.get("timeline").is_none());
        assert!(r.table().contains("ops/s"));
    }
}
