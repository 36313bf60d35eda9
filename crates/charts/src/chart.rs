//! The chart model (series, bands, axes) and its rendering to SVG.

use std::path::Path;

use crate::scale::{self, Scale, Tick};
use crate::svg::{escape, num, Anchor, Svg};

/// Series colours, in order (they repeat, dashed, after the tenth series).
const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Lines of at most this many points get a dot at each point.
pub const MARKED_POINTS: usize = 40;

/// Rough width of a character of 12-pixel sans-serif text, to leave room for labels.
const CHAR_WIDTH: f64 = 7.0;

/// A chart: series drawn over shaded bands on two axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Printed above the plot.
    pub title: String,
    /// Under the x axis.
    pub x_label: String,
    /// Beside the y axis.
    pub y_label: String,
    /// A logarithmic x axis (points with x ≤ 0 are skipped).
    pub x_log: bool,
    /// A logarithmic y axis (points with y ≤ 0 are skipped).
    pub y_log: bool,
    /// The data.
    pub series: Vec<Series>,
    /// Shaded x ranges, drawn under the data.
    pub bands: Vec<Band>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Stretch a linear y axis down (or up) to 0, e.g. for throughput.
    pub y_zero: bool,
}

impl Default for Chart {
    fn default() -> Self {
        Chart {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_log: false,
            y_log: false,
            series: Vec::new(),
            bands: Vec::new(),
            width: 900,
            height: 420,
            y_zero: false,
        }
    }
}

/// One named set of points, in the order they are drawn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// (x, y) pairs; non-finite ones, and non-positive ones on a log axis, are skipped (a line
    /// breaks there).
    pub points: Vec<(f64, f64)>,
    /// How the points are drawn.
    pub style: Style,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// Straight segments between consecutive points, with a dot at each point when there
    /// are at most [`MARKED_POINTS`] of them.
    #[default]
    Line,
    /// A dot per point.
    Points,
    /// Horizontal then vertical segments: each y holds until the next x (a CDF).
    Steps,
}

/// A shaded vertical stripe from x = `from` to x = `to`, labelled at its top.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Band {
    /// Left edge, in x units.
    pub from: f64,
    /// Right edge, in x units.
    pub to: f64,
    /// A short label printed inside the top of the stripe.
    pub label: String,
}

/// Pixel geometry of the plot area and its axes.
struct Frame {
    x: Scale,
    y: Scale,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    fn px(&self, v: f64) -> f64 {
        self.left + self.x.fraction(v) * (self.right - self.left)
    }

    fn py(&self, v: f64) -> f64 {
        self.bottom - self.y.fraction(v) * (self.bottom - self.top)
    }
}

/// One legend entry's place.
struct LegendEntry {
    x: f64,
    y: f64,
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let width = self.width.max(240) as f64;
        let height = self.height.max(160) as f64;
        let title_height = if self.title.is_empty() { 8.0 } else { 30.0 };
        let (legend, legend_rows) = self.legend_layout(72.0, width - 24.0, title_height + 8.0);
        let top = title_height + 8.0 + legend_rows as f64 * 18.0 + 8.0;

        let usable =
            |&&(x, y): &&(f64, f64)| scale::usable(x, self.x_log) && scale::usable(y, self.y_log);
        let points = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().filter(usable))
        };
        let band_edges = self.bands.iter().flat_map(|b| [b.from, b.to]);
        let x = Scale::auto(points().map(|p| p.0).chain(band_edges), self.x_log, false);
        let y = Scale::auto(points().map(|p| p.1), self.y_log, self.y_zero);
        let bottom = height - 52.0;
        let y_ticks = y.ticks(bottom - top);
        let widest = y_ticks.iter().map(|t| t.label.len()).max().unwrap_or(1) as f64;
        let left = 30.0 + widest * CHAR_WIDTH;
        let frame = Frame {
            x,
            y,
            left,
            right: width - 24.0,
            top,
            bottom,
        };
        let x_ticks = frame.x.ticks(frame.right - frame.left);

        let mut svg = Svg::new(width as u32, height as u32);
        let clip = format!("plot-{:016x}", fnv(&self.title));
        svg.open("defs", "");
        svg.open("clipPath", &format!(r#"id="{clip}""#));
        svg.rect(
            frame.left,
            frame.top,
            frame.right - frame.left,
            frame.bottom - frame.top,
            "",
        );
        svg.close();
        svg.close();
        if !self.title.is_empty() {
            svg.text(
                width / 2.0,
                22.0,
                Anchor::Middle,
                &self.title,
                r#"font-size="16" font-weight="bold""#,
            );
        }
        self.draw_bands(&mut svg, &frame);
        draw_grid(&mut svg, &frame, &x_ticks, &y_ticks);
        self.draw_axes(&mut svg, &frame, &x_ticks, &y_ticks, height);
        for (i, series) in self.series.iter().enumerate() {
            self.draw_series(&mut svg, &frame, i, series, &clip);
        }
        for (i, (series, place)) in self.series.iter().zip(&legend).enumerate() {
            draw_legend_entry(&mut svg, i, series, place);
        }
        svg.finish()
    }

    /// Writes [`Chart::to_svg`] to `path`.
    pub fn write_svg(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_svg())
    }

    /// Legend entries in rows from `left` to `right`, starting at `top`: their places and the
    /// number of rows.
    fn legend_layout(&self, left: f64, right: f64, top: f64) -> (Vec<LegendEntry>, usize) {
        let mut places = Vec::new();
        let (mut x, mut row) = (left, 0usize);
        for s in &self.series {
            let w = 30.0 + s.name.chars().count() as f64 * CHAR_WIDTH + 18.0;
            if x > left && x + w > right {
                x = left;
                row += 1;
            }
            places.push(LegendEntry {
                x,
                y: top + 12.0 + row as f64 * 18.0,
            });
            x += w;
        }
        let rows = if places.is_empty() { 0 } else { row + 1 };
        (places, rows)
    }

    fn draw_bands(&self, svg: &mut Svg, f: &Frame) {
        let (lo, hi) = (f.x.lo(), f.x.hi());
        for band in &self.bands {
            if band.from.is_nan() || band.to.is_nan() {
                continue;
            }
            let (a, b) = (band.from.min(band.to), band.from.max(band.to));
            if b < lo || a > hi || (self.x_log && b <= 0.0) {
                continue;
            }
            let (a, b) = (a.max(lo), b.min(hi));
            let (x0, x1) = (f.px(a), f.px(b));
            svg.rect(
                x0,
                f.top,
                (x1 - x0).max(1.0),
                f.bottom - f.top,
                r##"class="band" fill="#f4a582" fill-opacity="0.3""##,
            );
            if !band.label.is_empty() {
                svg.text(
                    x0 + 3.0,
                    f.top + 12.0,
                    Anchor::Start,
                    &band.label,
                    r##"font-size="10" fill="#8a3b12""##,
                );
            }
        }
    }

    fn draw_axes(&self, svg: &mut Svg, f: &Frame, x_ticks: &[Tick], y_ticks: &[Tick], h: f64) {
        svg.rect(
            f.left,
            f.top,
            f.right - f.left,
            f.bottom - f.top,
            r##"fill="none" stroke="#444444""##,
        );
        let tick_text = r##"font-size="11" fill="#333333""##;
        for t in x_ticks.iter().filter(|t| !t.label.is_empty()) {
            let x = f.px(t.value);
            svg.line(x, f.bottom, x, f.bottom + 4.0, r##"stroke="#444444""##);
            svg.text(x, f.bottom + 17.0, Anchor::Middle, &t.label, tick_text);
        }
        for t in y_ticks.iter().filter(|t| !t.label.is_empty()) {
            let y = f.py(t.value);
            svg.line(f.left - 4.0, y, f.left, y, r##"stroke="#444444""##);
            svg.text(f.left - 7.0, y + 4.0, Anchor::End, &t.label, tick_text);
        }
        if !self.x_label.is_empty() {
            svg.text(
                (f.left + f.right) / 2.0,
                h - 12.0,
                Anchor::Middle,
                &self.x_label,
                r#"font-size="12""#,
            );
        }
        if !self.y_label.is_empty() {
            let (x, y) = (16.0, (f.top + f.bottom) / 2.0);
            svg.text(
                x,
                y,
                Anchor::Middle,
                &self.y_label,
                &format!(
                    r#"font-size="12" transform="rotate(-90 {} {})""#,
                    num(x),
                    num(y)
                ),
            );
        }
    }

    fn draw_series(&self, svg: &mut Svg, f: &Frame, i: usize, series: &Series, clip: &str) {
        let colour = PALETTE[i % PALETTE.len()];
        let dash = if i >= PALETTE.len() {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        svg.open(
            "g",
            &format!(
                r#"class="series" data-name="{}" clip-path="url(#{clip})""#,
                escape(&series.name)
            ),
        );
        // Runs of drawable points: a skipped point breaks a line.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for &(x, y) in &series.points {
            if scale::usable(x, self.x_log) && scale::usable(y, self.y_log) {
                runs.last_mut()
                    .expect("never empty")
                    .push((f.px(x), f.py(y)));
            } else if !runs.last().expect("never empty").is_empty() {
                runs.push(Vec::new());
            }
        }
        let dot = format!(r#"fill="{colour}""#);
        match series.style {
            Style::Points => {
                for &(x, y) in runs.iter().flatten() {
                    svg.circle(x, y, 3.0, &dot);
                }
            }
            Style::Line | Style::Steps => {
                if series.style == Style::Steps {
                    runs = runs.into_iter().map(steps).collect();
                }
                svg.path(
                    &runs,
                    &format!(
                        r#"fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round"{dash}"#
                    ),
                );
                // A lone point draws no segment: mark it; mark every point of a short line.
                let points: usize = runs.iter().map(Vec::len).sum();
                let mark_all = series.style == Style::Line && points <= MARKED_POINTS;
                for run in runs.iter().filter(|r| mark_all || r.len() == 1) {
                    for &(x, y) in run {
                        svg.circle(x, y, 3.0, &dot);
                    }
                }
            }
        }
        svg.close();
    }
}

/// Grid lines at every tick, major ones darker.
fn draw_grid(svg: &mut Svg, f: &Frame, x_ticks: &[Tick], y_ticks: &[Tick]) {
    let style = |t: &Tick| {
        if t.major {
            r##"stroke="#d4d4d4""##
        } else {
            r##"stroke="#ededed""##
        }
    };
    svg.open("g", r#"class="grid""#);
    for t in x_ticks {
        let x = f.px(t.value);
        svg.line(x, f.top, x, f.bottom, style(t));
    }
    for t in y_ticks {
        let y = f.py(t.value);
        svg.line(f.left, y, f.right, y, style(t));
    }
    svg.close();
}

fn draw_legend_entry(svg: &mut Svg, i: usize, series: &Series, at: &LegendEntry) {
    let colour = PALETTE[i % PALETTE.len()];
    let mid = at.y - 4.0;
    if series.style == Style::Points {
        svg.circle(at.x + 12.0, mid, 3.5, &format!(r#"fill="{colour}""#));
    } else {
        svg.line(
            at.x,
            mid,
            at.x + 24.0,
            mid,
            &format!(r#"stroke="{colour}" stroke-width="2""#),
        );
    }
    svg.text(
        at.x + 30.0,
        at.y,
        Anchor::Start,
        &series.name,
        r#"font-size="12""#,
    );
}

/// Pixel points of a step series: each y holds until the next point's x.
fn steps(run: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(run.len() * 2);
    for (i, &p) in run.iter().enumerate() {
        if i > 0 {
            out.push((p.0, run[i - 1].1));
        }
        out.push(p);
    }
    out
}

/// A 64-bit FNV-1a hash (a stable clip-path id per chart).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            title: "set <32 x 8> & get".into(),
            x_label: "latency (ms)".into(),
            y_label: "fraction".into(),
            x_log: true,
            series: vec![
                Series {
                    name: "ZooKeeper".into(),
                    points: vec![(0.5, 0.1), (2.0, 0.5), (20.0, 0.99), (100.0, 1.0)],
                    style: Style::Steps,
                },
                Series {
                    name: "Quorum".into(),
                    points: vec![(0.3, 0.1), (f64::NAN, 0.2), (-1.0, 0.3), (9.0, 1.0)],
                    style: Style::Line,
                },
                Series {
                    name: "empty".into(),
                    points: vec![],
                    style: Style::Line,
                },
                Series {
                    name: "dots".into(),
                    points: vec![(1.0, 0.2), (0.0, 0.4), (3.0, f64::INFINITY)],
                    style: Style::Points,
                },
            ],
            bands: vec![
                Band {
                    from: 1.0,
                    to: 2.0,
                    label: "kill leader".into(),
                },
                Band {
                    from: 50.0,
                    to: 80.0,
                    label: String::new(),
                },
            ],
            ..Chart::default()
        }
    }

    #[test]
    fn one_group_per_series_and_a_rect_per_band() {
        let svg = chart().to_svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 4);
        assert_eq!(svg.matches(r#"class="band""#).count(), 2);
        assert!(svg.contains(">kill leader</text>"));
        // The title is escaped.
        assert!(svg.contains("set &lt;32 x 8&gt; &amp; get"));
        // Every legend entry is there.
        for name in ["ZooKeeper", "Quorum", "empty", "dots"] {
            assert!(svg.contains(&format!(">{name}</text>")), "{name}");
        }
        // Log x axis: decade labels.
        assert!(svg.contains(">1</text>") && svg.contains(">10</text>"));
        // Elements open and close in balance.
        assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    }

    #[test]
    fn skipped_points_break_lines_and_unusable_points_are_not_drawn() {
        let svg = chart().to_svg();
        let group = |name: &str| {
            let start = svg.find(&format!(r#"data-name="{name}""#)).unwrap();
            let end = start + svg[start..].find("</g>").unwrap();
            svg[start..end].to_string()
        };
        // Quorum: (0.3, 0.1), then NaN and x = -1 (log axis) skipped, then (9, 1): two
        // one-point runs, each marked with a dot.
        let q = group("Quorum");
        assert_eq!(q.matches('M').count(), 2, "{q}");
        assert_eq!(q.matches("<circle").count(), 2, "{q}");
        // Steps: 4 points give 4 + 3 vertices in one subpath.
        let z = group("ZooKeeper");
        assert_eq!(z.matches('M').count(), 1, "{z}");
        assert_eq!(z.matches('L').count(), 6, "{z}");
        assert_eq!(z.matches("<circle").count(), 0, "{z}");
        // Points: x = 0 (log) and y = inf skipped.
        assert_eq!(group("dots").matches("<circle").count(), 1);
        assert!(!group("empty").contains("<path"));
        // No NaN or infinity leaks into the markup.
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn an_empty_chart_still_renders_axes() {
        let svg = Chart::default().to_svg();
        assert!(svg.contains(r#"width="900" height="420""#));
        assert_eq!(svg.matches(r#"<g class="series""#).count(), 0);
        assert!(svg.contains(">0</text>") && svg.contains(">1</text>"));
    }

    #[test]
    fn linear_charts_can_start_at_zero_and_colours_differ() {
        let series = (0..3)
            .map(|i| Series {
                name: format!("s{i}"),
                points: vec![(1.0, 100.0 + i as f64), (4.0, 200.0)],
                style: Style::Line,
            })
            .collect();
        let svg = Chart {
            series,
            y_zero: true,
            ..Chart::default()
        }
        .to_svg();
        assert!(svg.contains(r##"text-anchor="end" font-size="11" fill="#333333">0</text>"##));
        for c in &PALETTE[..3] {
            assert!(svg.contains(&format!(r#"stroke="{c}" stroke-width="2" stroke-linejoin"#)));
        }
    }

    #[test]
    fn short_lines_mark_their_points_long_ones_do_not() {
        let line = |n: usize| Series {
            name: format!("n{n}"),
            points: (0..n).map(|i| (i as f64, i as f64)).collect(),
            style: Style::Line,
        };
        let svg = Chart {
            series: vec![line(5), line(MARKED_POINTS + 1)],
            ..Chart::default()
        }
        .to_svg();
        let circles: Vec<usize> = svg
            .split(r#"<g class="series""#)
            .skip(1)
            .map(|g| g[..g.find("</g>").unwrap()].matches("<circle").count())
            .collect();
        assert_eq!(circles, [5, 0]);
    }

    #[test]
    fn writes_the_file() {
        let dir = std::env::temp_dir().join(format!("charts-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.svg");
        chart().write_svg(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), chart().to_svg());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
