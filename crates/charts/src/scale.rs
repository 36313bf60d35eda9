//! Axes: a linear or logarithmic mapping from data values to a 0..1 fraction of the axis, an
//! automatic range with a little padding, and nice tick values (1, 2 or 5 × 10^k steps on a
//! linear axis; decades, with 2 and 5 in between when there is room, on a log axis).

/// Share of the data range added on each side of an automatic range.
const PADDING: f64 = 0.04;

/// A mapping from data values to a fraction of the axis length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

/// One tick: its value, its label (empty for an unlabelled grid line) and whether it is a major
/// one (drawn darker).
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The data value.
    pub value: f64,
    /// The text printed next to the axis; empty for a grid line only.
    pub label: String,
    /// A major tick (every linear tick, and the decades of a log axis).
    pub major: bool,
}

/// Whether `v` can be drawn on an axis (finite, and positive on a log axis).
pub fn usable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

impl Scale {
    /// A linear axis from `lo` to `hi` (`lo < hi`).
    pub fn linear(lo: f64, hi: f64) -> Scale {
        assert!(lo < hi, "empty linear range {lo}..{hi}");
        Scale { lo, hi, log: false }
    }

    /// A logarithmic axis from `lo` to `hi` (`0 < lo < hi`).
    pub fn log(lo: f64, hi: f64) -> Scale {
        assert!(0.0 < lo && lo < hi, "bad log range {lo}..{hi}");
        Scale { lo, hi, log: true }
    }

    /// The range of `values` (unusable ones skipped) with a little padding on each side: on a
    /// log axis the padding is a share of the decades spanned. A single value gets a range
    /// around it; no value gets 0..1 (1..10 on a log axis). With `include_zero` a linear range
    /// is stretched to reach 0. Padding never makes a range of non-negative data negative.
    pub fn auto(values: impl IntoIterator<Item = f64>, log: bool, include_zero: bool) -> Scale {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter(|&v| usable(v, log)) {
            min = min.min(v);
            max = max.max(v);
        }
        if log {
            if min > max {
                return Scale::log(1.0, 10.0);
            }
            let (mut lo, mut hi) = (min.log10(), max.log10());
            if hi - lo < 1e-9 {
                lo -= 0.5;
                hi += 0.5;
            }
            let pad = (hi - lo) * PADDING;
            return Scale::log(10f64.powf(lo - pad), 10f64.powf(hi + pad));
        }
        if min > max {
            return Scale::linear(0.0, 1.0);
        }
        if include_zero {
            min = min.min(0.0);
            max = max.max(0.0);
        }
        if max - min < 1e-12 * max.abs().max(1.0) {
            let half = if min == 0.0 { 1.0 } else { min.abs() * 0.1 };
            return Scale::linear(min - half, max + half);
        }
        let pad = (max - min) * PADDING;
        let lo = if min >= 0.0 && min - pad < 0.0 {
            0.0
        } else {
            min - pad
        };
        Scale::linear(lo, max + pad)
    }

    /// The lower end of the axis.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// The upper end of the axis.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// Whether the axis is logarithmic.
    pub fn is_log(&self) -> bool {
        self.log
    }

    /// Where `v` lies on the axis: 0 at `lo`, 1 at `hi` (outside 0..1 beyond the ends).
    pub fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// Ticks for an axis `pixels` long, in increasing order.
    pub fn ticks(&self, pixels: f64) -> Vec<Tick> {
        if self.log {
            self.log_ticks(pixels)
        } else {
            self.linear_ticks(pixels)
        }
    }

    /// About one labelled tick per 50 pixels, at multiples of a nice step.
    fn linear_ticks(&self, pixels: f64) -> Vec<Tick> {
        let wanted = (pixels / 50.0).clamp(2.0, 12.0);
        let step = nice_step((self.hi - self.lo) / wanted);
        let first = (self.lo / step - 1e-9).ceil() as i64;
        let last = (self.hi / step + 1e-9).floor() as i64;
        (first..=last)
            .map(|i| {
                let value = i as f64 * step;
                Tick {
                    value,
                    label: format_value(value),
                    major: true,
                }
            })
            .collect()
    }

    /// Decades (labelled, major); 2 and 5 times a decade labelled when a decade has room for
    /// them, the other multiples as unlabelled grid lines; on a range shorter than a decade,
    /// every multiple labelled.
    fn log_ticks(&self, pixels: f64) -> Vec<Tick> {
        let (lo, hi) = (self.lo.log10(), self.hi.log10());
        let decades = hi - lo;
        let per_decade = pixels / decades;
        let labelled: &[u32] = if decades < 1.0 {
            &[1, 2, 3, 4, 5, 6, 7, 8, 9]
        } else if per_decade >= 110.0 {
            &[1, 2, 5]
        } else {
            &[1]
        };
        let minor = per_decade >= 40.0;
        let mut ticks = Vec::new();
        for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
            let decade = 10f64.powi(k);
            for m in 1..=9u32 {
                let value = decade * m as f64;
                if value < self.lo * (1.0 - 1e-9) || value > self.hi * (1.0 + 1e-9) {
                    continue;
                }
                let label = labelled.contains(&m);
                if !label && !minor {
                    continue;
                }
                ticks.push(Tick {
                    value,
                    label: if label {
                        format_value(value)
                    } else {
                        String::new()
                    },
                    major: m == 1,
                });
            }
        }
        ticks
    }
}

/// The smallest 1, 2 or 5 × 10^k at least `raw` (for `raw > 0`).
pub fn nice_step(raw: f64) -> f64 {
    assert!(raw > 0.0 && raw.is_finite(), "bad step {raw}");
    let magnitude = 10f64.powf(raw.log10().floor());
    let mantissa = raw / magnitude;
    let nice = if mantissa <= 1.0 + 1e-9 {
        1.0
    } else if mantissa <= 2.0 + 1e-9 {
        2.0
    } else if mantissa <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A short label for a tick value: "0.25", "800", "1,500", "20k", "1.5M".
pub fn format_value(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3, 3))
    } else if a >= 1000.0 {
        let s = trim(v, 3);
        match s.split_once('.') {
            Some((int, frac)) => format!("{}.{frac}", thousands(int)),
            None => thousands(&s),
        }
    } else if a >= 1e-4 {
        trim(v, 6)
    } else {
        format!("{v:e}")
    }
}

/// `v` with at most `decimals` decimals and no trailing zeros.
fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An integer string with commas between thousands ("-1500" → "-1,500").
fn thousands(int: &str) -> String {
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[Tick]) -> Vec<&str> {
        ticks
            .iter()
            .filter(|t| !t.label.is_empty())
            .map(|t| t.label.as_str())
            .collect()
    }

    #[test]
    fn nice_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(2300.0), 5000.0);
        assert!((nice_step(0.013) - 0.02).abs() < 1e-12);
    }

    #[test]
    fn linear_ticks_are_multiples_of_a_nice_step_inside_the_range() {
        let ticks = Scale::linear(-0.04, 1.04).ticks(350.0);
        assert_eq!(labels(&ticks), ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
        assert!(ticks.iter().all(|t| t.major));
        let ticks = Scale::linear(0.0, 38_000.0).ticks(700.0);
        assert_eq!(
            labels(&ticks),
            ["0", "5,000", "10k", "15k", "20k", "25k", "30k", "35k"]
        );
        // Few pixels, few ticks.
        assert!(Scale::linear(0.0, 100.0).ticks(100.0).len() <= 3);
    }

    #[test]
    fn log_ticks_are_decades_with_two_and_five_between() {
        let s = Scale::log(0.05, 200.0);
        let ticks = s.ticks(800.0);
        assert_eq!(
            labels(&ticks),
            ["0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10", "20", "50", "100", "200"]
        );
        let majors: Vec<f64> = ticks.iter().filter(|t| t.major).map(|t| t.value).collect();
        assert_eq!(majors.len(), 4); // 0.1, 1, 10, 100
                                     // Unlabelled grid lines at the other multiples.
        assert!(ticks.iter().any(|t| t.label.is_empty() && t.value == 3.0));
        // Many decades on a short axis: only the decades are labelled.
        let ticks = Scale::log(1.0, 1e6).ticks(300.0);
        assert_eq!(
            labels(&ticks),
            ["1", "10", "100", "1,000", "10k", "100k", "1M"]
        );
        // Less than a decade: every multiple.
        assert_eq!(
            labels(&Scale::log(2.5, 9.5).ticks(400.0)),
            ["3", "4", "5", "6", "7", "8", "9"]
        );
    }

    #[test]
    fn log_fractions_are_even_per_decade() {
        let s = Scale::log(1.0, 1000.0);
        assert!((s.fraction(1.0)).abs() < 1e-12);
        assert!((s.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.fraction(1000.0) - 1.0).abs() < 1e-12);
        let s = Scale::linear(0.0, 4.0);
        assert_eq!(s.fraction(1.0), 0.25);
    }

    #[test]
    fn auto_ranges_pad_skip_unusable_values_and_handle_degenerate_data() {
        let s = Scale::auto([10.0, 110.0], false, false);
        assert_eq!((s.lo(), s.hi()), (6.0, 114.0));
        // Padding does not push non-negative data below zero.
        assert_eq!(Scale::auto([0.0, 1.0], false, false).lo(), 0.0);
        assert_eq!(Scale::auto([50.0, 100.0], false, true).lo(), 0.0);
        // Non-finite values are skipped; on a log axis so are non-positive ones.
        let s = Scale::auto(
            [f64::NAN, -5.0, 0.0, 10.0, 1000.0, f64::INFINITY],
            true,
            false,
        );
        assert!(s.lo() < 10.0 && s.lo() > 5.0 && s.hi() > 1000.0 && s.hi() < 2000.0);
        assert_eq!(Scale::auto([], false, false), Scale::linear(0.0, 1.0));
        assert_eq!(Scale::auto([-1.0], true, false), Scale::log(1.0, 10.0));
        let one = Scale::auto([5.0], false, false);
        assert!(one.lo() < 5.0 && one.hi() > 5.0);
        let one = Scale::auto([5.0], true, false);
        assert!(one.lo() < 5.0 && one.hi() > 5.0);
    }

    #[test]
    fn values_format_short() {
        assert_eq!(format_value(0.30000000000000004), "0.3");
        assert_eq!(format_value(1500.0), "1,500");
        assert_eq!(format_value(-2500.0), "-2,500");
        assert_eq!(format_value(20_000.0), "20k");
        assert_eq!(format_value(1_500_000.0), "1.5M");
        assert_eq!(format_value(0.001), "0.001");
        assert_eq!(format_value(3.0), "3");
    }
}
