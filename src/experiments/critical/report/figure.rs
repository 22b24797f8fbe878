//! The critical figure (also the extended one) and the stop-rule ablation figure.
//!
//! Encoding, the same in every preset so the figures read alike:
//! - one colour and one marker shape per model series (`SERIES_COLORS`, `SERIES_MARKERS`, by
//!   the series' position in the plan); its measured critical m are filled markers with their
//!   95% profile intervals, its T without an estimate open markers of the same colour and shape
//!   (censored: at the largest probe; success at every probe: at the smallest probe; no
//!   crossing: across the probed range), and its one drawn fit a dashed line of the same colour;
//! - the fit drawn per series is the one the decision rule of [`crate::stats::growth`] chooses,
//!   or, when it does not decide, the best held-out fit labelled with the BIC margin; every fit
//!   is in the table ([`super::CriticalReport::table`]) and the summary export;
//! - overlays (shapes rescaled to a measured value, not predictions) are black, which no series
//!   uses: the lower bound solid, the bound at constructed norms dashed, the bound at trained
//!   norms dashed with crosses (a marker no series uses).

use super::{
    AblationPoint, CriticalReport, GAP_TARGET, SeriesReport, TRow, bound_sample_size,
    constructed_radii, cp, fmt_end, rate,
};
use crate::config::ModelKind;
use crate::error::Result;
use crate::figure::{Figure, FigureSize, Marker, Series};
use crate::stats::growth::{Comparison, Decision, Fit};
use crate::stats::logistic::CrossingStatus;

/// Palette indices of the model series, in plan order (black, 6, is kept for the overlays).
pub const SERIES_COLORS: [usize; 7] = [0, 1, 2, 3, 4, 5, 7];
/// Marker shapes of the model series (circle, triangle, square); the cross is the overlays'.
pub const SERIES_MARKERS: [Marker; 3] = [Marker::Circle, Marker::Triangle, Marker::Square];
/// Palette index of every overlay.
pub const OVERLAY_COLOR: usize = 6;
/// Marker shape of the trained-norm overlay (a cross).
pub const OVERLAY_MARKER: Marker = Marker::Cross;

/// Colour and marker of the series at position `si`.
pub fn series_style(si: usize) -> (usize, Marker) {
    (
        SERIES_COLORS[si % SERIES_COLORS.len()],
        SERIES_MARKERS[si % SERIES_MARKERS.len()],
    )
}

/// The fit the figure draws for one series and its legend suffix: the decided law, or the best
/// held-out law when the rule does not decide.
pub fn drawn_fit(c: &Comparison) -> (&Fit, String) {
    let (model, note) = match c.decision() {
        Decision::Decided { model, delta_bic } => (
            model,
            format!(
                "decided: BIC margin {delta_bic:.1} over {}",
                c.runner_up_bic.label()
            ),
        ),
        Decision::Undecided { .. } => {
            let mut note = format!("undecided: BIC margin {:.1}", c.delta_bic);
            if c.winner != c.winner_bic {
                note += &format!("; BIC prefers {}", c.winner_bic.label());
            }
            (c.winner, note)
        }
    };
    // `compare` fits every law, so the chosen one is always present.
    let fit = c.fit(model).unwrap_or(&c.fits[0]);
    (fit, note)
}

/// A crossing short enough for a legend line: "75.4 [54.5, 113.6]", "> 119.7 (censored)".
fn crossing_short(c: &crate::stats::logistic::Crossing) -> String {
    let (lo, hi) = (c.interval.0.exp(), c.interval.1.exp());
    let st = c.status;
    match c.estimate {
        Some(e) if st == CrossingStatus::Separated => {
            format!(
                "{:.1} (separated: gap [{}, {}])",
                e.exp(),
                fmt_end(lo),
                fmt_end(hi)
            )
        }
        Some(e) => format!("{:.1} [{}, {}]", e.exp(), fmt_end(lo), fmt_end(hi)),
        None if st.is_censored() => format!("> {} (censored)", fmt_end(lo)),
        None if hi.is_finite() => format!("<= {} (success at every m)", fmt_end(hi)),
        None => "none (rate not increasing)".to_string(),
    }
}

fn fmt_ts(ts: &[usize]) -> String {
    ts.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Smallest and largest probed m of one row.
fn probed(r: &TRow) -> (f64, f64) {
    super::probed_range(&r.search)
}

impl CriticalReport {
    /// One series' pieces: measured points, open markers for T without an estimate, the fit.
    fn series_pieces(&self, si: usize, s: &SeriesReport) -> Result<Vec<Series>> {
        let (color, marker) = series_style(si);
        // A series' own cap (its probing) for its censored points and open interval ends.
        let m_max = self.plan.probing_of(&self.plan.series[si]).m_max;
        let cap = m_max as f64;
        let mut out = Vec::new();
        let status = |r: &TRow| r.search.crossing.status;
        let measured: Vec<(&TRow, f64)> = s
            .rows
            .iter()
            .filter_map(|r| r.search.critical_m().map(|m| (r, m)))
            .collect();
        if !measured.is_empty() {
            let x: Vec<f64> = measured
                .iter()
                .map(|(r, _)| r.search.context_len as f64)
                .collect();
            let y: Vec<f64> = measured.iter().map(|(_, m)| *m).collect();
            // Open interval ends are drawn at 1 and m_max, and said so only when there are any.
            let open = measured.iter().any(|(r, _)| {
                let (lo, hi) = r.search.interval_m();
                lo <= 1.0 || hi > cap
            });
            let lo: Vec<f64> = measured
                .iter()
                .map(|(r, m)| r.search.interval_m().0.max(1.0).min(*m))
                .collect();
            let hi: Vec<f64> = measured
                .iter()
                .map(|(r, m)| r.search.interval_m().1.min(cap).max(*m))
                .collect();
            let extrapolated: Vec<usize> = measured
                .iter()
                .filter(|(r, m)| {
                    let (a, b) = probed(r);
                    *m < a || *m > b
                })
                .map(|(r, _)| r.search.context_len)
                .collect();
            let separated: Vec<usize> = measured
                .iter()
                .filter(|(r, _)| status(r) == CrossingStatus::Separated)
                .map(|(r, _)| r.search.context_len)
                .collect();
            let mut name = format!("{}: critical m, 95% profile interval", s.name);
            if open {
                name += &format!(" (open ends drawn at 1 or m_max = {m_max})");
            }
            if !separated.is_empty() {
                name += &format!("; T = {}: separated, gap's middle", fmt_ts(&separated));
            }
            if !extrapolated.is_empty() {
                name += &format!("; T = {}: outside the probed m", fmt_ts(&extrapolated));
            }
            if s.fits.is_none() {
                name += "; no fit (< 4 T measured)";
            }
            out.push(
                Series::points(name, x, y)
                    .with_error_bars(lo, hi)
                    .with_color(color)
                    .with_marker(marker),
            );
        }
        // T without an estimate: open markers (a dashed points series) of the same colour/shape.
        let no_estimate = |keep: &dyn Fn(CrossingStatus) -> bool| -> Vec<&TRow> {
            s.rows
                .iter()
                .filter(|r| r.search.critical_m().is_none() && keep(status(r)))
                .collect()
        };
        let censored = no_estimate(&|st| st.is_censored());
        if !censored.is_empty() || !s.not_probed.is_empty() {
            let x: Vec<f64> = censored
                .iter()
                .map(|r| r.search.context_len as f64)
                .collect();
            let y: Vec<f64> = censored.iter().map(|r| probed(r).1).collect();
            let mut name = format!(
                "{}: censored, rate < 1/2 up to m_max = {} (open marker at the largest probe)",
                s.name, m_max
            );
            if !s.not_probed.is_empty() {
                name += &format!("; T = {} not probed", fmt_ts(&s.not_probed));
            }
            out.push(
                Series::points(name, x, y)
                    .dashed()
                    .with_color(color)
                    .with_marker(marker),
            );
        }
        let below = no_estimate(&|st| {
            matches!(st, CrossingStatus::AllSuccess | CrossingStatus::AboveLevel)
        });
        if !below.is_empty() {
            let x: Vec<f64> = below.iter().map(|r| r.search.context_len as f64).collect();
            let y: Vec<f64> = below.iter().map(|r| probed(r).0).collect();
            out.push(
                Series::points(
                    format!(
                        "{}: success rate >= 1/2 at every probe, critical m at or below the \
                         smallest probe (open marker there)",
                        s.name
                    ),
                    x,
                    y,
                )
                .dashed()
                .with_color(color)
                .with_marker(marker),
            );
        }
        let flat = no_estimate(&|st| st == CrossingStatus::NotIncreasing);
        if !flat.is_empty() {
            let x: Vec<f64> = flat.iter().map(|r| r.search.context_len as f64).collect();
            let y: Vec<f64> = flat
                .iter()
                .map(|r| {
                    let (a, b) = probed(r);
                    (a * b).sqrt()
                })
                .collect();
            let lo = flat.iter().map(|r| probed(r).0).collect();
            let hi = flat.iter().map(|r| probed(r).1).collect();
            out.push(
                Series::points(
                    format!(
                        "{}: no crossing, success rate not increasing in m (bar: the probed m)",
                        s.name
                    ),
                    x,
                    y,
                )
                .with_error_bars(lo, hi)
                .dashed()
                .with_color(color)
                .with_marker(marker),
            );
        }
        if let Some(c) = &s.fits {
            let (f, note) = drawn_fit(c);
            let ts: Vec<f64> = measured
                .iter()
                .map(|(r, _)| r.search.context_len as f64)
                .collect();
            let (t_lo, t_hi) = (
                ts.iter().copied().fold(f64::INFINITY, f64::min),
                ts.iter().copied().fold(0.0, f64::max),
            );
            // Over the T the fit was made on (no extrapolation), where it is positive (a log
            // axis cannot show the rest; the legend says so when that happens).
            let grid = crate::stats::log_grid_f64(t_lo, t_hi, 40)?;
            let (gx, gy): (Vec<f64>, Vec<f64>) = grid
                .iter()
                .map(|&t| (t, f.predict(t)))
                .filter(|&(_, v)| v > 0.0)
                .unzip();
            let cut = if gx.len() < grid.len() {
                ", drawn where > 0"
            } else {
                ""
            };
            let kind = match c.decision() {
                Decision::Decided { .. } => "fit",
                Decision::Undecided { .. } => "best held-out fit",
            };
            out.push(
                Series::line(
                    format!("{}: {kind} {} ({note}{cut})", s.name, f.model.label()),
                    gx,
                    gy,
                )
                .dashed()
                .with_color(color),
            );
        }
        Ok(out)
    }

    /// Rescaled overlays: the lower bound and the explicit bound at the constructed norms,
    /// anchored at the first series' first estimate, and the explicit bound at the theory head's
    /// trained norms, anchored at the theory head's own first estimate with trained norms.
    fn overlays(&self) -> Result<Vec<Series>> {
        let mut out = Vec::new();
        let ts = &self.plan.context_lens;
        let grid = crate::stats::log_grid_f64(ts[0] as f64, ts[ts.len() - 1] as f64, 40)?;
        let anchor = self.series.iter().find_map(|s| {
            s.rows.iter().find_map(|r| {
                r.search
                    .critical_m()
                    .map(|m| (s.name.as_str(), r.search.context_len as f64, m))
            })
        });
        let Some((who, t0, m0)) = anchor else {
            return Ok(out);
        };
        let s = self.plan.sparsity as f64;
        let lower = |t: f64| s * (t / s).log2();
        out.push(
            Series::line(
                format!(
                    "s log2(T/s) lower bound (VC dimension), shape only: rescaled to {who} at \
                     T = {t0}"
                ),
                grid.clone(),
                grid.iter().map(|&t| m0 * lower(t) / lower(t0)).collect(),
            )
            .with_color(OVERLAY_COLOR),
        );
        let construct = |t: f64| -> Result<Option<f64>> {
            let tu = t.round() as usize;
            let r = constructed_radii(tu, self.plan.sparsity);
            Ok(bound_sample_size(tu, tu + 3, &r, GAP_TARGET)?.map(|m| m as f64))
        };
        if let Some(base) = construct(t0)? {
            let mut yv = Vec::new();
            for &t in &grid {
                yv.push(construct(t)?.map_or(f64::NAN, |m| m0 * m / base));
            }
            // A bound that saturates somewhere is not drawn at all rather than in pieces.
            if yv.iter().all(|v| v.is_finite()) {
                out.push(
                    Series::line(
                        format!(
                            "explicit bound at constructed norms, shape only: rescaled to {who} \
                             at T = {t0}"
                        ),
                        grid.clone(),
                        yv,
                    )
                    .dashed()
                    .with_color(OVERLAY_COLOR),
                );
            }
        }
        if let Some(head) = self.series.iter().find(|s| s.model == ModelKind::ClsHead) {
            let mut pts = Vec::new();
            for r in &head.rows {
                if let (Some(rad), Some(m)) = (&r.trained_radii, r.search.critical_m()) {
                    let t = r.search.context_len;
                    // One-hot positions: width T + 3 (fixed-embedding layout, docs/experiments.md §1).
                    if let Some(b) = bound_sample_size(t, t + 3, rad, GAP_TARGET)? {
                        pts.push((t as f64, b as f64, m));
                    }
                }
            }
            if pts.len() >= 2 {
                let (t_h, base, m_h) = pts[0];
                let (x, yv): (Vec<f64>, Vec<f64>) =
                    pts.iter().map(|&(t, b, _)| (t, m_h * b / base)).unzip();
                out.push(
                    Series::line_points(
                        format!(
                            "explicit bound at the trained head norms, shape only: rescaled to \
                             {} at T = {t_h}",
                            head.name
                        ),
                        x,
                        yv,
                    )
                    .dashed()
                    .with_color(OVERLAY_COLOR)
                    .with_marker(OVERLAY_MARKER),
                );
            }
        }
        Ok(out)
    }

    /// The figure: critical m against T (log-log) per series with its intervals, the T without
    /// an estimate, the fit the decision rule chooses, and the rescaled overlays (module doc).
    pub fn figure(&self) -> Result<Figure> {
        let mut series = Vec::new();
        for (si, s) in self.series.iter().enumerate() {
            series.extend(self.series_pieces(si, s)?);
        }
        series.extend(self.overlays()?);
        if series.is_empty() {
            return Err(crate::Error::invalid(
                "critical figure",
                "no series",
                "at least one probed context length",
            ));
        }
        Ok(Figure {
            title: format!(
                "Critical sample size; {}-sparse AND (fixed training budget)",
                self.plan.sparsity
            ),
            x_label: "context length T (tokens)".into(),
            y_label: "critical sample size m (examples)".into(),
            x_log: true,
            y_log: true,
            size: FigureSize::DoubleColumn,
            series,
        })
    }

    /// The ablation figure: success rate against m at one T, fixed budget vs first-fit stop,
    /// Clopper-Pearson 95% intervals; `None` without an ablation. The fixed-budget arm takes the
    /// series' colour and marker from the critical figure; the first-fit arm is dashed with open
    /// markers in a colour no series of the plan uses, so coinciding points both show.
    pub fn ablation_figure(&self) -> Result<Option<Figure>> {
        let Some(a) = &self.ablation else {
            return Ok(None);
        };
        let steps = self.plan.series[0].train.steps;
        let x: Vec<f64> = a.points.iter().map(|p| p.num_samples as f64).collect();
        let median_steps = {
            let mut v: Vec<f64> = a
                .points
                .iter()
                .flat_map(|p| p.first_fit.steps.iter().copied())
                .collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let (c0, m0) = series_style(0);
        // A colour no series of the plan has, and a shape other than the fixed arm's.
        let (c1, m1) = (
            series_style(self.plan.series.len()).0,
            SERIES_MARKERS[1 % SERIES_MARKERS.len()],
        );
        type Get = fn(&AblationPoint) -> Vec<bool>;
        // The first-fit arm first, so the fixed arm's (smaller) markers sit on top of its
        // (larger) open triangles where the two rates coincide and both stay visible.
        let arms: [(String, _, Get, bool, usize, Marker); 2] = [
            (
                format!(
                    "first-fit stop (first step with training error 0; median {} of at most \
                     {steps} steps)",
                    median_steps.map_or("-".into(), |m| format!("{m:.0}"))
                ),
                &a.first_fit,
                |p| p.first_fit.successes.clone(),
                true,
                c1,
                m1,
            ),
            (
                format!("fixed budget ({steps} full-batch steps)"),
                &a.fixed,
                |p| p.fixed.successes.clone(),
                false,
                c0,
                m0,
            ),
        ];
        let mut series = Vec::new();
        for (name, crossing, get, dashed, color, marker) in arms {
            let (mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for p in &a.points {
                let s = get(p);
                let (l, h) = cp(&s)?;
                y.push(rate(&s));
                lo.push(l);
                hi.push(h);
            }
            let mut s = Series::line_points(
                format!(
                    "{name}: critical m {}; bars: 95% Clopper-Pearson",
                    crossing_short(crossing)
                ),
                x.clone(),
                y,
            )
            .with_error_bars(lo, hi)
            .with_color(color)
            .with_marker(marker);
            if dashed {
                s = s.dashed();
            }
            series.push(s);
        }
        series.push(
            Series::line(
                "success rate 1/2 (defines the critical m)",
                vec![x[0], x[x.len() - 1]],
                vec![0.5, 0.5],
            )
            .dashed()
            .with_color(OVERLAY_COLOR),
        );
        Ok(Some(Figure {
            title: format!(
                "Stop-rule ablation: {}, T = {}, {} trials per m, same seeds in both arms",
                a.series, a.ablation.context_len, a.ablation.trials
            ),
            x_label: "sample size m (examples)".into(),
            y_label: "success rate (population accuracy >= 0.99)".into(),
            x_log: true,
            y_log: false,
            size: FigureSize::DoubleColumn,
            series,
        }))
    }
}
