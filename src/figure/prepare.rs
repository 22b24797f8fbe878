//! From a validated [`Figure`] to what is drawn: rows kept on log axes, axis ranges with margins
//! that include every interval, and tick positions with their labels. Pure; shared by the
//! PNG/SVG renderer and the CSV/pgfplots writer so that all four files show the same data.

use super::{Figure, Series, Uncertainty};
use crate::error::{Error, Result};

/// Which interval kind a prepared series carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interval {
    None,
    Bars,
    Band,
}

/// One plotted row, in data units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub x: f64,
    pub y: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct PreparedSeries {
    pub rows: Vec<Row>,
    pub interval: Interval,
    pub color: (u8, u8, u8),
}

/// An axis in "axis units": log10 of the data on a log axis, the data itself otherwise.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    pub log: bool,
    pub lo: f64,
    pub hi: f64,
    /// Labelled ticks, axis units.
    pub ticks: Vec<f64>,
    /// Unlabelled minor grid positions, axis units.
    pub minor: Vec<f64>,
    /// Log axis whose decade labels are all written 10^k (set when any of them needs it, so one
    /// axis never mixes "100" with "10⁶").
    pub powers: bool,
}

impl Axis {
    pub fn to_axis(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }
    /// Data value at the axis limits (for pgfplots xmin/xmax).
    pub fn data_lo(&self) -> f64 {
        if self.log {
            10f64.powf(self.lo)
        } else {
            self.lo
        }
    }
    pub fn data_hi(&self) -> f64 {
        if self.log {
            10f64.powf(self.hi)
        } else {
            self.hi
        }
    }
    /// Tick label for an axis-unit position.
    pub fn label(&self, u: f64) -> String {
        if self.log {
            let k = u.round();
            if (u - k).abs() < 1e-9 && (self.powers || !(-2.0..=4.0).contains(&k)) {
                return format!("10{}", superscript(k as i64));
            }
            plain_number(10f64.powf(u))
        } else {
            let step = if self.ticks.len() >= 2 {
                self.ticks[1] - self.ticks[0]
            } else {
                1.0
            };
            linear_label(u, step)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub series: Vec<PreparedSeries>,
    pub x: Axis,
    pub y: Axis,
    pub warnings: Vec<String>,
}

/// (lower, upper) ends of a series' intervals.
type Ends<'a> = Option<(&'a [f64], &'a [f64])>;

fn intervals(s: &Series) -> (Interval, Ends<'_>) {
    match &s.uncertainty {
        Uncertainty::None => (Interval::None, None),
        Uncertainty::ErrorBars { lower, upper } => (Interval::Bars, Some((lower, upper))),
        Uncertainty::Band { lower, upper } => (Interval::Band, Some((lower, upper))),
    }
}

/// Drops rows that a log axis cannot show (warning for each), computes ranges and ticks, and
/// clamps non-positive lower interval ends on a log y axis to the axis bottom (warning too: a
/// Clopper-Pearson interval at zero errors has lower end 0, which must stay visible).
pub(crate) fn prepare(fig: &Figure) -> Result<Prepared> {
    let mut warnings = Vec::new();
    let mut series = Vec::with_capacity(fig.series.len());
    for (k, s) in fig.series.iter().enumerate() {
        let (interval, iv) = intervals(s);
        let mut rows = Vec::with_capacity(s.x.len());
        for i in 0..s.x.len() {
            let (x, y) = (s.x[i], s.y[i]);
            if fig.x_log && x <= 0.0 {
                warnings.push(format!(
                    "series {k} ({}): dropped row {i}, x = {x} <= 0 on a log x axis",
                    s.name
                ));
                continue;
            }
            if fig.y_log && y <= 0.0 {
                warnings.push(format!(
                    "series {k} ({}): dropped row {i}, y = {y} <= 0 on a log y axis",
                    s.name
                ));
                continue;
            }
            let (lower, upper) = match iv {
                Some((l, u)) => (Some(l[i]), Some(u[i])),
                None => (None, None),
            };
            rows.push(Row { x, y, lower, upper });
        }
        let color = super::PALETTE[s.color.unwrap_or(k) % super::PALETTE.len()];
        series.push(PreparedSeries {
            rows,
            interval,
            color,
        });
    }

    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.rows.iter().map(|r| r.x))
        .collect();
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.rows.iter().flat_map(|r| [Some(r.y), r.lower, r.upper]))
        .flatten()
        .filter(|&v| !fig.y_log || v > 0.0)
        .collect();
    if xs.is_empty() {
        return Err(Error::invalid(
            "figure",
            "no plottable rows",
            "at least one row with positive values on log axes",
        ));
    }
    let target = match fig.size {
        super::FigureSize::SingleColumn => 5,
        super::FigureSize::DoubleColumn => 7,
    };
    let x = axis(&xs, fig.x_log, target);
    let y = axis(&ys, fig.y_log, target);

    if fig.y_log {
        let bottom = y.data_lo();
        for (k, s) in series.iter_mut().enumerate() {
            for (i, r) in s.rows.iter_mut().enumerate() {
                if let Some(l) = r.lower.filter(|&l| l <= 0.0) {
                    warnings.push(format!(
                        "series {k} ({}): plotted row {i} has lower = {l} <= 0 on a log y axis; drawn (and written) as the axis bottom {bottom:.6e}",
                        fig.series[k].name
                    ));
                    r.lower = Some(bottom);
                }
            }
        }
    }
    Ok(Prepared {
        series,
        x,
        y,
        warnings,
    })
}

/// Range with a 5% margin each side (in axis units) and ticks. `values` is non-empty and, on a
/// log axis, positive.
fn axis(values: &[f64], log: bool, target: usize) -> Axis {
    let u: Vec<f64> = values
        .iter()
        .map(|&v| if log { v.log10() } else { v })
        .collect();
    let (mut lo, mut hi) = u
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if hi - lo <= 0.0 {
        let pad = if log {
            0.5
        } else if lo == 0.0 {
            1.0
        } else {
            0.1 * lo.abs()
        };
        lo -= pad;
        hi += pad;
    } else {
        let pad = 0.05 * (hi - lo);
        lo -= pad;
        hi += pad;
    }
    let (ticks, minor) = if log {
        log_ticks(lo, hi, target)
    } else {
        (linear_ticks(lo, hi, target), vec![])
    };
    let powers = log
        && ticks
            .iter()
            .any(|u| (u - u.round()).abs() < 1e-9 && !(-2.0..=4.0).contains(&u.round()));
    Axis {
        log,
        lo,
        hi,
        ticks,
        minor,
        powers,
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, whichever gives a tick count closest to `target`
/// (always rounding the step up can leave an axis with two labels).
fn nice_step(span: f64, target: usize) -> f64 {
    let target = target.max(1) as f64;
    let mag = 10f64.powf((span / target).log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .min_by(|a, b| ((span / a - target).abs()).total_cmp(&(span / b - target).abs()))
        .unwrap_or(mag)
}

pub(crate) fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step(hi - lo, target);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    // Multiples of the step, not accumulated sums, so 0.1 + 0.2 never shows as 0.30000000000000004.
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Decades when the range holds at least three; otherwise 1-2-5 or 1..9 times powers of ten
/// (T from 100 to 1100 gets 100, 200, 500, 1000 rather than two lonely labels).
/// Returns (labelled, minor) positions in axis units (log10).
pub(crate) fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<f64>) {
    let decades: Vec<i64> = ((lo.ceil() as i64)..=(hi.floor() as i64)).collect();
    let in_range = |u: f64| u >= lo - 1e-12 && u <= hi + 1e-12;
    let mults = |ms: &[f64]| -> Vec<f64> {
        ((lo.floor() as i64)..=(hi.ceil() as i64))
            .flat_map(|k| ms.iter().map(move |m| (m * 10f64.powi(k as i32)).log10()))
            .filter(|&u| in_range(u))
            .collect()
    };
    if decades.len() >= 3 {
        let every = decades.len().div_ceil(target.max(1)).max(1);
        let major: Vec<f64> = decades
            .iter()
            .filter(|k| (*k).rem_euclid(every as i64) == 0)
            .map(|&k| k as f64)
            .collect();
        let minor = if every == 1 {
            mults(&[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
        } else {
            decades
                .iter()
                .map(|&k| k as f64)
                .filter(|u| !major.contains(u))
                .collect()
        };
        return (major, minor);
    }
    let major = mults(&[1.0, 2.0, 5.0]);
    if major.len() >= 3 {
        return (major, mults(&[3.0, 4.0, 6.0, 7.0, 8.0, 9.0]));
    }
    // Within a factor of about 3, 1..9 times powers of ten can bunch at one end (8, 9, 10 for 8
    // to 16): evenly spaced values are used instead when they cover more of the axis.
    let digits = mults(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    let linear: Vec<f64> = linear_ticks(10f64.powf(lo), 10f64.powf(hi), target)
        .into_iter()
        .filter(|v| *v > 0.0)
        .map(f64::log10)
        .filter(|&u| in_range(u))
        .collect();
    let spread = |t: &[f64]| match (t.first(), t.last()) {
        (Some(a), Some(b)) => b - a,
        _ => -1.0,
    };
    if linear.len() >= 2 && spread(&linear) > spread(&digits) {
        (linear, vec![])
    } else {
        (digits, vec![])
    }
}

fn superscript(k: i64) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if k < 0 {
        s.push('⁻');
    }
    for d in k.unsigned_abs().to_string().bytes() {
        s.push(SUP[(d - b'0') as usize]);
    }
    s
}

/// Shortest decimal of `v` rounded to 6 significant digits; "m×10ᵏ" outside [1e-3, 1e5).
pub(crate) fn plain_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let k = a.log10().floor() as i64;
        let m = v / 10f64.powi(k as i32);
        let m = format!("{}", (m * 1e5).round() / 1e5);
        return if m == "1" {
            format!("10{}", superscript(k))
        } else {
            format!("{m}×10{}", superscript(k))
        };
    }
    let k = a.log10().floor() as i32;
    let scale = 10f64.powi(5 - k);
    format!("{}", (v * scale).round() / scale)
}

/// A linear tick label: zero as "0" (never "-0"), otherwise [`plain_number`] rounded to the step.
fn linear_label(u: f64, step: f64) -> String {
    if u.abs() < step * 1e-9 {
        return "0".into();
    }
    plain_number(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_multiples() {
        // Span 0..1 with ~5 ticks: step 0.2 (the 1-2-2.5-5 rule), so 0, 0.2, ..., 1.
        let t = linear_ticks(0.0, 1.0, 5);
        assert_eq!(t.len(), 6);
        assert_eq!(plain_number(t[3]), "0.6");
        // Span -10..1010 with ~5 ticks: step 200 gives 5.1 intervals, 250 gives 4.08; 200 is closer.
        assert_eq!(
            linear_ticks(-10.0, 1010.0, 5),
            vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
        );
        // Span 9..141 (the critical-sample-size example): 132/25 = 5.3 beats 132/50 = 2.6.
        assert_eq!(
            linear_ticks(9.0, 141.0, 5),
            vec![25.0, 50.0, 75.0, 100.0, 125.0]
        );
    }

    #[test]
    fn log_ticks_decades_and_short_ranges() {
        // 10^0.9 .. 10^3.1: decades 1..3 labelled, 2..9 times them minor.
        let (major, minor) = log_ticks(0.9, 3.1, 5);
        assert_eq!(major, vec![1.0, 2.0, 3.0]);
        assert!(minor.iter().any(|&u| (u - 200f64.log10()).abs() < 1e-12));
        // 10^-12 .. 10^12 with 5 targets: 25 decades, every 5th labelled.
        let (major, _) = log_ticks(-12.0, 12.0, 5);
        assert_eq!(major, vec![-10.0, -5.0, 0.0, 5.0, 10.0]);
        // 80 .. 1200 (log10 1.9 .. 3.08): only decades 100, 1000; 1-2-5 gives 100, 200, 500, 1000.
        let (major, _) = log_ticks(80f64.log10(), 1200f64.log10(), 5);
        let labels: Vec<f64> = major.iter().map(|u| 10f64.powf(*u).round()).collect();
        assert_eq!(labels, vec![100.0, 200.0, 500.0, 1000.0]);
        // 7.5 .. 17 (the smoke preset's T = 8, 16): evenly spaced labels across the whole range,
        // not 8, 9, 10 only.
        let (major, _) = log_ticks(7.5f64.log10(), 17f64.log10(), 5);
        let labels: Vec<f64> = major.iter().map(|u| 10f64.powf(*u).round()).collect();
        assert!(
            labels.len() >= 3 && *labels.last().unwrap() >= 14.0,
            "{labels:?}"
        );
    }

    #[test]
    fn labels_are_readable() {
        assert_eq!(plain_number(1000.0), "1000");
        assert_eq!(plain_number(0.01), "0.01");
        assert_eq!(plain_number(1e6), "10⁶");
        assert_eq!(plain_number(2e-7), "2×10⁻⁷");
        let mut ax = Axis {
            log: true,
            lo: 0.0,
            hi: 8.0,
            ticks: vec![],
            minor: vec![],
            powers: false,
        };
        assert_eq!(ax.label(6.0), "10⁶");
        assert_eq!(ax.label(2.0), "100");
        ax.powers = true;
        assert_eq!(ax.label(2.0), "10²");
        // An axis from 1 to 10^8 labels every decade as a power: axis() sets `powers`.
        assert!(axis(&[1.0, 1e8], true, 5).powers);
        assert!(!axis(&[1.0, 1e3], true, 5).powers);
    }
}
