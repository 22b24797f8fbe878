//! Aggregation of the critical-sample-size probes: per-T table, fits, overlays, figures.
//!
//! Overlays are shapes, not predictions of the absolute sample size: each is rescaled so that it
//! equals the measured critical m of the first series at the smallest T (labelled "rescaled").
//! - lower bound s log2(T/s) (VC dimension of s-sparse conjunctions, docs/derivations.md);
//! - the sample size at which our explicit bound's gap (`bounds::explicit_gap`) falls below
//!   [`GAP_TARGET`], at the **constructed** norms (docs/constructions.md: B_QK = R(T) =
//!   ln((T-s+1)(1-eta0)/(s eta0)), eta0 = 0.1/s, other radii fixed, see [`constructed_radii`])
//!   and at the **trained** norms of the theory head (median over the trials of the probe at or
//!   just above the critical m).
//!
//! The growth fits ([`crate::stats::growth`]) use the critical m of every T with a crossing
//! (fitted, or the gap's middle under separation); censored T are left out and listed.

use super::{
    Ablation, AblationPoint, CONFIDENCE, CriticalPlan, SearchResult, crossing_of, run_ablation,
    search_one,
};
use crate::bounds::{BoundParams, HeadRadii, SampleSize, Setting, explicit_gap, sample_size};
use crate::config::ModelKind;
use crate::error::Result;
use crate::experiments::{Gallery, GalleryEntry, Preset, experiment_command, write_gallery_figure};
use crate::figure::{Figure, FigureSize, Series};
use crate::metrics::Metric;
use crate::results::ResultsDb;
use crate::stats::clopper_pearson;
use crate::stats::growth::{Comparison, Decision, compare};
use crate::stats::logistic::{Crossing, CrossingStatus};
use std::fmt::Write as _;
use std::path::Path;

/// Gap level at which the bound-predicted sample size is read off (its value only moves the
/// curve up or down, which the rescaling removes).
pub const GAP_TARGET: f64 = 0.1;

/// One row of the per-T table.
#[derive(Debug, Clone, PartialEq)]
pub struct TRow {
    pub search: SearchResult,
    /// Median trained radii of the theory head at the critical probe (None for other models).
    pub trained_radii: Option<HeadRadii>,
}

/// One model series across T.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesReport {
    pub name: String,
    pub model: ModelKind,
    pub rows: Vec<TRow>,
    /// Context lengths skipped after the series was censored at a smaller T
    /// (`CriticalPlan::stop_after_censored`); empty otherwise.
    pub not_probed: Vec<usize>,
    /// None with fewer than 4 context lengths with a crossing.
    pub fits: Option<Comparison>,
}

/// The stop-rule ablation, aggregated.
#[derive(Debug, Clone, PartialEq)]
pub struct AblationReport {
    pub ablation: Ablation,
    pub series: String,
    pub points: Vec<AblationPoint>,
    /// Logistic crossings (ln m) of the fixed budget and of the first-fit stop.
    pub fixed: Crossing,
    pub first_fit: Crossing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CriticalReport {
    pub plan: CriticalPlan,
    pub series: Vec<SeriesReport>,
    pub ablation: Option<AblationReport>,
    pub wall_s: f64,
}

/// Runs (or replays) every probe of the plan and the ablation, and aggregates.
/// Needs the whole sweep: a store of a partial shard is refused (run [`super::sweep`] there).
pub fn run(plan: &CriticalPlan, db: &mut ResultsDb, quiet: bool) -> Result<CriticalReport> {
    plan.validate()?;
    if !db.shard().is_whole() {
        let allowed =
            "the whole sweep (0/1); a shard runs critical::sweep, the merged store reports";
        return Err(crate::Error::invalid("shard", db.shard(), allowed));
    }
    let clock = std::time::Instant::now();
    let mut series = Vec::new();
    for s in &plan.series {
        let mut rows: Vec<TRow> = Vec::new();
        let mut not_probed = Vec::new();
        // A series with its own probing is measured at its subset of the plan's T only.
        for t in plan.probing_of(s).context_lens {
            if plan.stop_after_censored
                && rows
                    .iter()
                    .any(|r| r.search.crossing.status == CrossingStatus::NoSuccess)
            {
                not_probed.push(t);
                continue;
            }
            let search = search_one(plan, s, t, db, quiet)?;
            let trained_radii = match s.model {
                ModelKind::ClsHead => trained_radii(db, &search)?,
                ModelKind::Transformer | ModelKind::PaperProtocol => None,
            };
            if !quiet {
                let (lo, hi) = search.interval_m();
                eprintln!(
                    "{}: T = {t}: critical m {} [{}, {}] ({}; {} probes, {} trained, {:.1} s)",
                    s.name,
                    search
                        .critical_m()
                        .map_or("-".into(), |m| format!("{m:.1}")),
                    fmt_end(lo),
                    fmt_end(hi),
                    search.crossing.status.label(),
                    search.probes.len(),
                    search.trained,
                    search.wall_s
                );
            }
            rows.push(TRow {
                search,
                trained_radii,
            });
        }
        let (t, m): (Vec<f64>, Vec<f64>) = rows
            .iter()
            .filter_map(|r| {
                r.search
                    .critical_m()
                    .map(|c| (r.search.context_len as f64, c))
            })
            .unzip();
        // Three points leave one residual degree of freedom: too few to compare laws honestly.
        let fits = if t.len() >= 4 {
            Some(compare(&t, &m)?)
        } else {
            None
        };
        series.push(SeriesReport {
            name: s.name.to_string(),
            model: s.model,
            rows,
            not_probed,
            fits,
        });
    }
    let ablation = match &plan.ablation {
        None => None,
        Some(a) => {
            let points = run_ablation(plan, a, db, quiet)?;
            let arm = |ff: bool| {
                let probes: Vec<super::Probe> = points
                    .iter()
                    .map(|p| super::Probe {
                        num_samples: p.num_samples,
                        successes: if ff {
                            p.first_fit.successes.clone()
                        } else {
                            p.fixed.successes.clone()
                        },
                    })
                    .collect();
                crossing_of(&probes)
            };
            Some(AblationReport {
                ablation: a.clone(),
                series: plan.series[0].name.to_string(),
                fixed: arm(false)?,
                first_fit: arm(true)?,
                points,
            })
        }
    };
    Ok(CriticalReport {
        plan: plan.clone(),
        series,
        ablation,
        wall_s: clock.elapsed().as_secs_f64(),
    })
}

/// Smallest and largest probed m.
fn probed_range(search: &SearchResult) -> (f64, f64) {
    let ms = search.probes.iter().map(|p| p.num_samples as f64);
    (
        ms.clone().fold(f64::INFINITY, f64::min),
        ms.fold(0.0, f64::max),
    )
}

fn fmt_end(v: f64) -> String {
    if v.is_infinite() {
        "inf".into()
    } else if v <= 0.0 {
        "0".into()
    } else {
        format!("{v:.1}")
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| v[v.len() / 2])
}

/// Median trained radii over the trials of the smallest probe at or above the critical m
/// (theory head only).
fn trained_radii(db: &ResultsDb, search: &SearchResult) -> Result<Option<HeadRadii>> {
    let Some(crit) = search.critical_m() else {
        return Ok(None);
    };
    let Some(i) = search
        .probes
        .iter()
        .enumerate()
        .filter(|(_, p)| p.num_samples as f64 >= crit)
        .min_by_key(|(_, p)| p.num_samples)
        .map(|(i, _)| i)
    else {
        return Ok(None);
    };
    // The head's radii (bounds::HeadRadii) as train::TrainReport::metrics names them.
    let keys = [
        Metric::BX,
        Metric::ThetaFro,
        Metric::WVSpectral,
        Metric::WV21,
        Metric::WL2,
    ];
    let mut cols: [Vec<f64>; 5] = Default::default();
    for trial in 0..search.probes[i].successes.len() {
        if let Some(rec) = db.get(&search.cell_hashes[i], trial)? {
            for (c, key) in keys.iter().enumerate() {
                cols[c].push(key.require(&rec.metrics)?);
            }
        }
    }
    let [bx, bqk, bv, bv21, bw] = cols.map(median);
    Ok(match (bx, bqk, bv, bv21, bw) {
        (Some(b_x), Some(b_qk), Some(b_v), Some(b_v21), Some(b_w)) => Some(HeadRadii {
            b_x,
            b_qk,
            b_v,
            b_v21,
            b_w,
        }),
        _ => None,
    })
}

/// Radii of the explicit construction (docs/constructions.md) for symmetric s-sparse functions at context length T:
/// one-hot bit + unit positional code (B_X = sqrt 2), B_QK = R(T) with eta0 = 0.1/s, values read
/// the bit (B_V = B_V^{2,1} = 1), read-out of norm 1. Width d = T + 3 (one-hot positions).
pub fn constructed_radii(context_len: usize, sparsity: usize) -> HeadRadii {
    let (t, s) = (context_len as f64, sparsity as f64);
    let eta0 = 0.1 / s;
    let r = ((t - s + 1.0) * (1.0 - eta0) / (s * eta0)).ln();
    HeadRadii {
        b_x: 2f64.sqrt(),
        b_qk: r.max(1e-12),
        b_v: 1.0,
        b_v21: 1.0,
        b_w: 1.0,
    }
}

/// Smallest m with `explicit_gap <= target`, by the one search `bounds::sample_size` (cap
/// 2^50); `None` if not reached below the cap (the bound saturates).
pub fn bound_sample_size(
    context_len: usize,
    width: usize,
    radii: &HeadRadii,
    target: f64,
) -> Result<Option<usize>> {
    let params = BoundParams::default();
    let gap_at = |m: usize| {
        let setting = Setting {
            num_samples: m,
            context_len,
            width,
            value_dim: 1,
            heads: 1,
            layers: 1,
        };
        explicit_gap(&setting, radii, &params)
    };
    Ok(match sample_size(target, 1 << 50, gap_at)? {
        SampleSize::Reached(m) => Some(m),
        SampleSize::NotReachedBelowCap { .. } => None,
    })
}

/// Clopper-Pearson interval of one cell's successes at the experiment's confidence.
fn cp(successes: &[bool]) -> Result<(f64, f64)> {
    let k = successes.iter().filter(|&&b| b).count() as u64;
    clopper_pearson(k, successes.len() as u64, 1.0 - CONFIDENCE)
}

fn rate(successes: &[bool]) -> f64 {
    successes.iter().filter(|&&b| b).count() as f64 / successes.len().max(1) as f64
}

fn crossing_text(c: &Crossing) -> String {
    let (lo, hi) = (c.interval.0.exp(), c.interval.1.exp());
    match c.estimate {
        Some(e) => format!(
            "{:.1} [{}, {}] ({})",
            e.exp(),
            fmt_end(lo),
            fmt_end(hi),
            c.status.label()
        ),
        None => format!(
            "- [{}, {}] ({})",
            fmt_end(lo),
            fmt_end(hi),
            c.status.label()
        ),
    }
}

impl CriticalReport {
    /// The per-T table, the fit comparison and the ablation, as printed by the CLI.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "success = population accuracy >= 0.99 (point estimate); critical m = where the \
             success rate crosses 1/2, logistic fit in ln m (MLE), 95% profile-likelihood \
             interval; every series trains for a fixed budget (stop = max_steps)"
        );
        for (si, s) in self.series.iter().enumerate() {
            let steps = self.plan.series[si].train.steps;
            let trials = self.plan.probing_of(&self.plan.series[si]).trials;
            let _ = writeln!(out, "\n== {} ({steps} full-batch steps) ==", s.name);
            let _ = writeln!(
                out,
                "{:>11} {:>10} {:>21} {:>8} {:>11} {:>7} {:>7} {:>8} {:>10}",
                "context_len",
                "critical_m",
                "95% profile",
                "hi/lo",
                "first_probed",
                "probes",
                "trials",
                "wall_s",
                "train_frac"
            );
            for r in &s.rows {
                let (lo, hi) = r.search.interval_m();
                let crit = r.search.critical_m().map_or_else(
                    || r.search.crossing.status.label().to_string(),
                    |m| format!("{m:.1}"),
                );
                let ratio = if lo > 0.0 && hi.is_finite() {
                    format!("{:.2}", hi / lo)
                } else {
                    "open".into()
                };
                let threads = rayon::current_num_threads() as f64;
                let frac = if r.search.trained > 0 && r.search.wall_s > 0.0 {
                    format!("{:.2}", r.search.train_s / (r.search.wall_s * threads))
                } else {
                    "replayed".into()
                };
                let _ = writeln!(
                    out,
                    "{:>11} {:>10} {:>21} {:>8} {:>11} {:>7} {:>7} {:>8.1} {:>10}",
                    r.search.context_len,
                    crit,
                    format!("[{}, {}]", fmt_end(lo), fmt_end(hi)),
                    ratio,
                    r.search
                        .first_probed
                        .map_or("> max".into(), |m| m.to_string()),
                    r.search.probes.len(),
                    trials,
                    r.search.wall_s,
                    frac
                );
                if let Some(m) = r.search.critical_m() {
                    let (a, b) = probed_range(&r.search);
                    if m < a || m > b {
                        let _ = writeln!(
                            out,
                            "{:>11} extrapolated: the crossing lies outside the probed m \
                             [{a}, {b}]",
                            ""
                        );
                    }
                }
                if r.search.crossing.status == CrossingStatus::Separated {
                    let _ = writeln!(
                        out,
                        "{:>11} separated: no failure above / success below the gap; the \
                         point is the gap's middle",
                        ""
                    );
                }
            }
            let _ = writeln!(
                out,
                "probes (m: successes/trials): {}",
                s.rows
                    .iter()
                    .map(|r| format!(
                        "T={} {}",
                        r.search.context_len,
                        r.search
                            .probes
                            .iter()
                            .map(|p| format!(
                                "{}:{}/{}",
                                p.num_samples,
                                p.count(),
                                p.successes.len()
                            ))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            if !s.not_probed.is_empty() {
                let _ = writeln!(
                    out,
                    "not probed (censored at a smaller T; stop_after_censored): T = {:?}",
                    s.not_probed
                );
            }
            match &s.fits {
                None => {
                    let _ = writeln!(out, "fits: need >= 4 context lengths with a crossing");
                }
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "{:>14} {:>10} {:>10} {:>10} {:>9} {:>9}",
                        "model", "a", "b", "LOO RMSE", "AIC", "BIC"
                    );
                    for f in &c.fits {
                        let _ = writeln!(
                            out,
                            "{:>14} {:>10.3} {:>10.4} {:>10.2} {:>9.2} {:>9.2}",
                            f.model.label(),
                            f.a,
                            f.b,
                            f.loo_rmse,
                            f.aic,
                            f.bic
                        );
                    }
                    let _ = writeln!(
                        out,
                        "best by leave-one-out error: {} (runner-up's LOO RMSE {:.2}x); by BIC: \
                         {} (margin {:.2})",
                        c.winner.label(),
                        c.loo_ratio,
                        c.winner_bic.label(),
                        c.delta_bic
                    );
                    let _ = match c.decision() {
                        Decision::Decided { model, delta_bic } => writeln!(
                            out,
                            "decision: {} (BIC margin {delta_bic:.2} >= {}, and best held-out)",
                            model.label(),
                            crate::stats::growth::DECISIVE_DELTA_BIC
                        ),
                        Decision::Undecided { reason } => {
                            writeln!(out, "decision: the data cannot decide ({reason})")
                        }
                    };
                }
            }
        }
        if let Some(a) = &self.ablation {
            let _ = writeln!(
                out,
                "\n== stop-rule ablation: {}, T = {}, {} trials per m, same seeds ==",
                a.series, a.ablation.context_len, a.ablation.trials
            );
            let _ = writeln!(
                out,
                "{:>7} {:>22} {:>22} {:>16}",
                "m", "fixed budget (95% CP)", "first fit (95% CP)", "first-fit steps"
            );
            for p in &a.points {
                let (fl, fh) = cp(&p.fixed.successes).unwrap_or((0.0, 1.0));
                let (gl, gh) = cp(&p.first_fit.successes).unwrap_or((0.0, 1.0));
                let med = median(p.first_fit.steps.clone()).unwrap_or(0.0);
                let _ = writeln!(
                    out,
                    "{:>7} {:>22} {:>22} {:>16}",
                    p.num_samples,
                    format!("{:.2} [{fl:.2}, {fh:.2}]", rate(&p.fixed.successes)),
                    format!("{:.2} [{gl:.2}, {gh:.2}]", rate(&p.first_fit.successes)),
                    format!("median {med:.0}")
                );
            }
            let _ = writeln!(
                out,
                "critical m: fixed budget {}; first fit {}",
                crossing_text(&a.fixed),
                crossing_text(&a.first_fit)
            );
        }
        out
    }

    /// The figure: critical m against T (log-log), profile intervals, fits, rescaled overlays.
    pub fn figure(&self) -> Result<Figure> {
        let mut series = Vec::new();
        let mut anchor: Option<(f64, f64)> = None;
        let grid = {
            let ts = &self.plan.context_lens;
            crate::stats::log_grid_f64(ts[0] as f64, ts[ts.len() - 1] as f64, 40)?
        };
        // Palette: series 0, 1, 5; growth laws 2, 3, 4, 7; overlays black (6).
        let series_color = |si: usize| [0usize, 1, 5].get(si).copied().unwrap_or(si);
        for (si, s) in self.series.iter().enumerate() {
            let color = series_color(si);
            // A series' own cap (its probing) for its censored points and open interval ends.
            let m_max = self.plan.probing_of(&self.plan.series[si]).m_max;
            let cap = m_max as f64;
            // Censored context lengths stay visible: drawn at m_max, never as a measured value.
            let censored: Vec<f64> = s
                .rows
                .iter()
                .filter(|r| r.search.critical_m().is_none())
                .map(|r| r.search.context_len as f64)
                .collect();
            if !censored.is_empty() {
                let n = censored.len();
                series.push(
                    Series::points(
                        format!(
                            "{}: no crossing up to m_max = {} (censored; drawn at m_max){}",
                            s.name,
                            m_max,
                            if s.not_probed.is_empty() {
                                String::new()
                            } else {
                                "; larger T not probed".to_string()
                            }
                        ),
                        censored,
                        vec![cap; n],
                    )
                    .with_color(color),
                );
            }
            let rows: Vec<(&TRow, f64)> = s
                .rows
                .iter()
                .filter_map(|r| r.search.critical_m().map(|m| (r, m)))
                .collect();
            if rows.is_empty() {
                continue;
            }
            let x: Vec<f64> = rows
                .iter()
                .map(|(r, _)| r.search.context_len as f64)
                .collect();
            let y: Vec<f64> = rows.iter().map(|(_, m)| *m).collect();
            anchor.get_or_insert((x[0], y[0]));
            // Open interval ends: the upper drawn at m_max, the lower at 1 (both named).
            let lo: Vec<f64> = rows
                .iter()
                .map(|(r, m)| r.search.interval_m().0.max(1.0).min(*m))
                .collect();
            let hi: Vec<f64> = rows
                .iter()
                .map(|(r, m)| r.search.interval_m().1.min(cap).max(*m))
                .collect();
            series.push(
                Series::points(
                    format!(
                        "{} (95% profile interval; open ends drawn at 1 or m_max)",
                        s.name
                    ),
                    x,
                    y,
                )
                .with_error_bars(lo, hi)
                .with_color(color),
            );
            if let Some(c) = &s.fits {
                for (fi, f) in c.fits.iter().enumerate() {
                    // A fit is drawn where it is positive (a log axis cannot show the rest).
                    let (gx, gy): (Vec<f64>, Vec<f64>) = grid
                        .iter()
                        .map(|&t| (t, f.predict(t)))
                        .filter(|&(_, v)| v > 0.0)
                        .unzip();
                    if gx.len() < 2 {
                        continue;
                    }
                    series.push(
                        Series::line(format!("{}: fit {}", s.name, f.model.label()), gx, gy)
                            .dashed()
                            .with_color([2usize, 3, 4, 7][fi % 4]),
                    );
                }
            }
        }
        if let Some((t0, m0)) = anchor {
            let s = self.plan.sparsity as f64;
            let lower = |t: f64| s * (t / s).log2();
            let yv: Vec<f64> = grid.iter().map(|&t| m0 * lower(t) / lower(t0)).collect();
            series.push(
                Series::line(
                    format!("s log2(T/s) lower bound (rescaled to the measured m at T = {t0})"),
                    grid.clone(),
                    yv,
                )
                .with_color(6),
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
                if yv.iter().all(|v| v.is_finite()) {
                    series.push(
                        Series::line(
                            format!(
                                "explicit bound at constructed norms (rescaled to the measured \
                                 m at T = {t0})"
                            ),
                            grid.clone(),
                            yv,
                        )
                        .dashed()
                        .with_color(6),
                    );
                }
            }
            // Trained norms: the theory head's, at each measured T.
            if let Some(head) = self.series.iter().find(|s| s.model == ModelKind::ClsHead) {
                let mut pts = Vec::new();
                for r in &head.rows {
                    if let Some(rad) = &r.trained_radii {
                        let t = r.search.context_len;
                        let width = t + 3; // one-hot positions (fixed-embedding layout, docs/experiments.md §1)
                        if let Some(m) = bound_sample_size(t, width, rad, GAP_TARGET)? {
                            pts.push((t as f64, m as f64));
                        }
                    }
                }
                if pts.len() >= 2 {
                    let base = pts[0].1;
                    let (x, yv): (Vec<f64>, Vec<f64>) =
                        pts.iter().map(|&(t, m)| (t, m0 * m / base)).unzip();
                    series.push(
                        Series::line_points(
                            format!(
                                "explicit bound at trained head norms (rescaled to the measured \
                                 m at T = {t0})"
                            ),
                            x,
                            yv,
                        )
                        .dashed()
                        .with_color(5),
                    );
                }
            }
        }
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

    /// The ablation figure: success rate against m at one T, first-fit stop vs fixed budget,
    /// Clopper-Pearson 95% intervals; `None` without an ablation.
    pub fn ablation_figure(&self) -> Result<Option<Figure>> {
        let Some(a) = &self.ablation else {
            return Ok(None);
        };
        let x: Vec<f64> = a.points.iter().map(|p| p.num_samples as f64).collect();
        let mut series = Vec::new();
        for (ci, (name, crossing, get)) in [
            (
                format!("fixed budget ({} steps)", self.plan.series[0].train.steps),
                &a.fixed,
                (|p: &AblationPoint| p.fixed.successes.clone()) as fn(&AblationPoint) -> Vec<bool>,
            ),
            (
                "first fit of the training sample".to_string(),
                &a.first_fit,
                |p: &AblationPoint| p.first_fit.successes.clone(),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let (mut y, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
            for p in &a.points {
                let s = get(p);
                let (l, h) = cp(&s)?;
                y.push(rate(&s));
                lo.push(l);
                hi.push(h);
            }
            series.push(
                Series::line_points(
                    format!(
                        "{name}: critical m {} (95% Clopper-Pearson per point)",
                        crossing_text(crossing)
                    ),
                    x.clone(),
                    y,
                )
                .with_error_bars(lo, hi)
                .with_color(ci),
            );
        }
        series.push(
            Series::line(
                "success rate 1/2 (defines the critical m)",
                vec![x[0], x[x.len() - 1]],
                vec![0.5, 0.5],
            )
            .dashed()
            .with_color(6),
        );
        Ok(Some(Figure {
            title: format!(
                "Stop-rule ablation: {}, T = {}, {} trials per m, same seeds",
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

/// Writes the figure as `critical_sample_size.*` and returns its gallery entry.
pub fn write_figure(report: &CriticalReport, preset: Preset, out: &Path) -> Result<GalleryEntry> {
    let description = "Critical sample size of 3-sparse AND against context length T (log-log), \
                       each series trained for a fixed budget; critical m from a logistic fit of \
                       the success rate in ln m with 95% profile-likelihood intervals; ln T / \
                       ln^2 T / sqrt T / T fits and rescaled bound overlays.";
    let command = experiment_command("critical-sample-size", preset);
    let stem = "critical_sample_size";
    write_gallery_figure(&report.figure()?, out, stem, description, command, false)
}

/// Writes the extended plan's figure as `critical_sample_size_extended.*`.
pub fn write_extended_figure(
    report: &CriticalReport,
    preset: Preset,
    out: &Path,
) -> Result<GalleryEntry> {
    let description = "Critical sample size of 3-sparse AND beyond the paper's range of T \
                       (log-log), same protocol as critical_sample_size.";
    let command = experiment_command("critical-sample-size-extended", preset);
    let stem = "critical_sample_size_extended";
    write_gallery_figure(&report.figure()?, out, stem, description, command, false)
}

/// Writes the ablation figure as `critical_stop_ablation.*`; `None` without an ablation.
pub fn write_ablation_figure(
    report: &CriticalReport,
    preset: Preset,
    out: &Path,
) -> Result<Option<GalleryEntry>> {
    let Some(fig) = report.ablation_figure()? else {
        return Ok(None);
    };
    let description = "Stop-rule ablation: success rate against m at one T for the 1-block \
                       Transformer, stopped at the first fit of the training sample vs trained \
                       for the fixed budget, same trial seeds, Clopper-Pearson intervals.";
    let command = experiment_command("critical-sample-size", preset);
    let stem = "critical_stop_ablation";
    Ok(Some(write_gallery_figure(
        &fig,
        out,
        stem,
        description,
        command,
        false,
    )?))
}

/// Runs (or replays from `db`) the preset and writes its figures; for the `figures` main job.
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let report = run(&CriticalPlan::preset(preset), db, quiet)?;
    let mut out = vec![write_figure(&report, preset, out_dir)?];
    out.extend(write_ablation_figure(&report, preset, out_dir)?);
    Ok(out)
}
