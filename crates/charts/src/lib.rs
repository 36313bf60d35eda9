//! Small charts written as standalone SVG text: line, point and step (CDF) series on linear or
//! logarithmic axes, with nice tick values, grid lines, a legend and shaded vertical bands
//! (e.g. fault windows on a latency-over-time chart).
//!
//! Why by hand rather than with a plotting crate such as `plotters`: to place text, those
//! crates measure it, which needs a font engine (fontconfig and freetype, or a bundled TrueType
//! font). A fresh machine building the README's `cargo run` cannot be assumed to have either.
//! In SVG the viewer lays out the text, so writing the markup needs nothing but `std`.
//!
//! ```
//! use charts::{Band, Chart, Series, Style};
//! let chart = Chart {
//!     title: "set latency".into(),
//!     x_label: "time (s)".into(),
//!     y_label: "p99 (ms)".into(),
//!     series: vec![Series {
//!         name: "quorum".into(),
//!         points: vec![(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)],
//!         style: Style::Line,
//!     }],
//!     bands: vec![Band { from: 0.5, to: 1.5, label: "kill".into() }],
//!     ..Chart::default()
//! };
//! assert!(chart.to_svg().starts_with("<svg"));
//! ```

#![deny(missing_docs)]

mod chart;
pub mod scale;
pub mod svg;

pub use chart::{Band, Chart, Series, Style, MARKED_POINTS};
