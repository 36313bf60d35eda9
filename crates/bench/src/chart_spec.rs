//! Charts described in JSON (written by scripts such as `scripts/bench-compare`) and rendered
//! to SVG files with the `charts` crate; `quorum bench chart --spec FILE` runs it.
//!
//! ```json
//! {"charts": [{
//!   "path": "docs/img/set-cdf.svg",
//!   "title": "set 32 x 8", "x_label": "latency (ms)", "y_label": "fraction",
//!   "x_log": true, "y_log": false, "y_zero": false, "width": 900, "height": 420,
//!   "series": [{"name": "Quorum", "style": "steps", "points": [[0.4, 0.0], [0.9, 0.5]]}],
//!   "bands": [{"from": 1.0, "to": 1.5, "label": "goal"}]
//! }]}
//! ```
//!
//! Everything but `path` is optional; `style` is `line` (the default), `points` or `steps`; a
//! `null` coordinate is skipped like any other unusable point. A relative `path` is relative to
//! the current directory; missing folders are created.

use std::path::{Path, PathBuf};

use charts::{Band, Chart, Series, Style};
use serde::Deserialize;

/// A file of charts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The charts, each with the file it goes to.
    pub charts: Vec<ChartSpec>,
}

/// One chart and its file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    /// The SVG file to write.
    pub path: PathBuf,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// x axis label.
    #[serde(default)]
    pub x_label: String,
    /// y axis label.
    #[serde(default)]
    pub y_label: String,
    /// Logarithmic x axis.
    #[serde(default)]
    pub x_log: bool,
    /// Logarithmic y axis.
    #[serde(default)]
    pub y_log: bool,
    /// Stretch a linear y axis to 0.
    #[serde(default)]
    pub y_zero: bool,
    /// Pixels (default 900).
    pub width: Option<u32>,
    /// Pixels (default 420).
    pub height: Option<u32>,
    /// The data.
    #[serde(default)]
    pub series: Vec<SeriesSpec>,
    /// Shaded x ranges.
    #[serde(default)]
    pub bands: Vec<BandSpec>,
}

/// One series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    /// Legend text.
    pub name: String,
    /// `line`, `points` or `steps`.
    #[serde(default)]
    pub style: StyleSpec,
    /// `[x, y]` pairs; `null` stands for a missing value.
    #[serde(default)]
    pub points: Vec<(Option<f64>, Option<f64>)>,
}

/// How a series is drawn.
#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum StyleSpec {
    /// Straight segments.
    #[default]
    Line,
    /// Dots.
    Points,
    /// Steps (a CDF).
    Steps,
}

/// One shaded x range.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandSpec {
    /// Left edge.
    pub from: f64,
    /// Right edge.
    pub to: f64,
    /// Label at its top.
    #[serde(default)]
    pub label: String,
}

impl ChartSpec {
    /// The chart it describes.
    pub fn chart(&self) -> Chart {
        let defaults = Chart::default();
        Chart {
            title: self.title.clone(),
            x_label: self.x_label.clone(),
            y_label: self.y_label.clone(),
            x_log: self.x_log,
            y_log: self.y_log,
            y_zero: self.y_zero,
            width: self.width.unwrap_or(defaults.width),
            height: self.height.unwrap_or(defaults.height),
            series: self
                .series
                .iter()
                .map(|s| Series {
                    name: s.name.clone(),
                    style: match s.style {
                        StyleSpec::Line => Style::Line,
                        StyleSpec::Points => Style::Points,
                        StyleSpec::Steps => Style::Steps,
                    },
                    points: s
                        .points
                        .iter()
                        .map(|&(x, y)| (x.unwrap_or(f64::NAN), y.unwrap_or(f64::NAN)))
                        .collect(),
                })
                .collect(),
            bands: self
                .bands
                .iter()
                .map(|b| Band {
                    from: b.from,
                    to: b.to,
                    label: b.label.clone(),
                })
                .collect(),
        }
    }
}

/// Parses a spec.
pub fn parse(json: &str) -> Result<Spec, String> {
    serde_json::from_str(json).map_err(|e| format!("bad chart spec: {e}"))
}

/// Renders every chart of the spec in file `spec` to its SVG file; the files written.
pub fn render_file(spec: &Path) -> Result<Vec<PathBuf>, String> {
    let json = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let spec = parse(&json)?;
    let mut written = Vec::new();
    for c in &spec.charts {
        if let Some(dir) = c.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        c.chart()
            .write_svg(&c.path)
            .map_err(|e| format!("{}: {e}", c.path.display()))?;
        written.push(c.path.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_renders_to_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("img/a.svg");
        let spec = dir.path().join("spec.json");
        let json = format!(
            r#"{{"charts": [
                {{"path": {out:?}, "title": "set", "x_log": true,
                  "series": [{{"name": "Q", "style": "steps", "points": [[1, 0], [null, 0.5], [4, 1]]}},
                             {{"name": "Z", "points": []}}],
                  "bands": [{{"from": 2, "to": 3, "label": "goal"}}]}},
                {{"path": {:?}}}
            ]}}"#,
            dir.path().join("b.svg")
        );
        std::fs::write(&spec, json).unwrap();
        let written = render_file(&spec).unwrap();
        assert_eq!(written.len(), 2);
        let svg = std::fs::read_to_string(&out).unwrap();
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 2);
        assert!(svg.contains(">goal</text>"));
        let c = parse(&std::fs::read_to_string(&spec).unwrap())
            .unwrap()
            .charts[0]
            .chart();
        assert!(c.series[0].points[1].0.is_nan());
        assert_eq!((c.width, c.height), (900, 420));
    }

    #[test]
    fn unknown_fields_and_styles_are_errors() {
        assert!(parse(r#"{"charts": [{"path": "a.svg", "colour": "red"}]}"#).is_err());
        assert!(parse(
            r#"{"charts": [{"path": "a.svg", "series": [{"name": "x", "style": "bars"}]}]}"#
        )
        .is_err());
    }
}
