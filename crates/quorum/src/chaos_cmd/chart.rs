//! The latency-over-time chart of a chaos run: percentiles of the operations completed in each
//! time bucket, the indeterminate operations as points, and every fault window shaded, so that
//! a reader sees at a glance what each fault did to the clients.

use super::nemesis::Window;
use chaos::{Op, Outcome};
use std::path::Path;

/// How many buckets the run is cut into (at least 250 ms each).
const BUCKETS: f64 = 400.0;
/// Fault windows beyond which they are shaded without their names.
const MAX_LABELLED: usize = 20;

/// Writes the chart of `ops` (paired from the history) with `windows` shaded into `path`.
pub(super) fn write(
    path: &Path,
    ops: &[Op],
    windows: &[Window],
    title: &str,
) -> std::io::Result<()> {
    let end_ns = ops
        .iter()
        .filter_map(|o| o.complete_ns)
        .max()
        .unwrap_or(0)
        .max(1);
    let bucket_ns = ((end_ns as f64 / BUCKETS) as u64).max(250_000_000);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); (end_ns / bucket_ns + 1) as usize];
    let mut indeterminate = Vec::new();
    for op in ops {
        let Some(done) = op.complete_ns else { continue };
        let ms = done.saturating_sub(op.invoke_ns) as f64 / 1e6;
        if op.outcome == Outcome::Info {
            indeterminate.push((done as f64 / 1e9, ms.max(0.01)));
        } else {
            buckets[(done / bucket_ns) as usize].push(ms.max(0.01));
        }
    }
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut max = Vec::new();
    for (i, lat) in buckets.iter_mut().enumerate() {
        if lat.is_empty() {
            continue;
        }
        lat.sort_by(f64::total_cmp);
        let x = (i as u64 * bucket_ns + bucket_ns / 2) as f64 / 1e9;
        let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        p50.push((x, at(0.50)));
        p99.push((x, at(0.99)));
        max.push((x, at(1.0)));
    }
    let series = |name: &str, points, style| charts::Series {
        name: name.to_string(),
        points,
        style,
    };
    let chart = charts::Chart {
        title: if windows.len() > MAX_LABELLED {
            format!("{title} (shaded: {} fault windows)", windows.len())
        } else {
            title.to_string()
        },
        x_label: "seconds since the workload started".into(),
        y_label: format!(
            "latency, ms (per {} ms bucket of completed operations)",
            bucket_ns / 1_000_000
        ),
        y_log: true,
        series: vec![
            series("p50", p50, charts::Style::Line),
            series("p99", p99, charts::Style::Line),
            series("max", max, charts::Style::Line),
            series(
                "indeterminate (timeout, connection loss)",
                indeterminate,
                charts::Style::Points,
            ),
        ],
        bands: windows
            .iter()
            .map(|w| charts::Band {
                from: w.start.as_secs_f64(),
                to: w.end.as_secs_f64(),
                // Over a long run the labels would only overprint each other.
                label: if windows.len() <= MAX_LABELLED {
                    w.fault.label().to_string()
                } else {
                    String::new()
                },
            })
            .collect(),
        ..charts::Chart::default()
    };
    chart.write_svg(path)
}
