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
use crate::metrics::Metric;
use crate::results::ResultsDb;
use crate::stats::clopper_pearson;
use crate::stats::growth::{Comparison, compare};
use crate::stats::logistic::{Crossing, CrossingStatus};
use std::fmt::Write as _;
use std::path::Path;

mod export;
mod figure;
#[cfg(test)]
mod tests;

pub use figure::{drawn_fit, series_style};

/// Suffixes of the table files written beside a critical figure `<stem>` (`report::export`).
pub const TABLE_FILES: [&str; 3] = ["_points.csv", "_fits.csv", "_summary.json"];

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

/// One end of an interval in m: an open end (ln m at -inf or +inf: not reached within the
/// profile's range) is printed as "open", never as 0 or inf.
fn fmt_end(v: f64) -> String {
    if v.is_infinite() || v <= 0.0 {
        "open".into()
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

/// A crossing in words and numbers: "75.4 [54.5, 113.6] (fitted)", "> 119.7 (censored: ...)".
fn crossing_text(c: &Crossing) -> String {
    let (lo, hi) = (c.interval.0.exp(), c.interval.1.exp());
    match (c.estimate, c.status) {
        (Some(e), CrossingStatus::Separated) => format!(
            "{:.1} [{}, {}] (separated: the gap's middle, interval the gap)",
            e.exp(),
            fmt_end(lo),
            fmt_end(hi)
        ),
        (Some(e), st) => format!(
            "{:.1} [{}, {}] ({})",
            e.exp(),
            fmt_end(lo),
            fmt_end(hi),
            st.label()
        ),
        (None, st) if st.is_censored() => format!("> {} ({})", fmt_end(lo), st.label()),
        (None, st) if hi.is_finite() => format!("<= {} ({})", fmt_end(hi), st.label()),
        (None, st) => format!("none ({})", st.label()),
    }
}

/// Status column of one row: the crossing's status, and whether the estimate lies outside the
/// probed m.
fn row_status(r: &TRow) -> String {
    let st = r.search.crossing.status;
    let mut out = match st {
        CrossingStatus::Separated => "separated (gap's middle)".to_string(),
        _ => st.label().to_string(),
    };
    if let Some(m) = r.search.critical_m() {
        let (a, b) = probed_range(&r.search);
        if m < a || m > b {
            out += &format!("; outside the probed m [{a}, {b}]");
        }
    }
    out
}

impl CriticalReport {
    /// The per-T table, the fit comparison and the ablation, as printed by the CLI: per series
    /// and T the critical m with its 95% interval and status; per series every fit with its
    /// held-out (leave-one-out) error and BIC, the margin and the decision in one sentence.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "success = population accuracy >= 0.99 (point estimate); critical m = where the \
             success rate crosses 1/2, logistic fit in ln m (MLE), 95% profile-likelihood \
             interval; every series trains for a fixed budget (stop = max_steps)\n\
             decision rule (stats::growth): a law is decided when it has the smallest BIC, the \
             smallest leave-one-out error and a BIC margin >= {} over every other law",
            crate::stats::growth::DECISIVE_DELTA_BIC
        );
        let threads = rayon::current_num_threads() as f64;
        for (si, s) in self.series.iter().enumerate() {
            let steps = self.plan.series[si].train.steps;
            let trials = self.plan.probing_of(&self.plan.series[si]).trials;
            let _ = writeln!(out, "\n== {} ({steps} full-batch steps) ==", s.name);
            let _ = writeln!(
                out,
                "{:>11} {:>10} {:>21} {:>6} {:>12} {:>6} {:>6} {:>8} {:>10}  status",
                "context_len",
                "critical_m",
                "95% interval",
                "hi/lo",
                "first_probed",
                "probes",
                "trials",
                "wall_s",
                "train_frac"
            );
            for r in &s.rows {
                let (lo, hi) = r.search.interval_m();
                let crit = r
                    .search
                    .critical_m()
                    .map_or_else(|| "-".to_string(), |m| format!("{m:.1}"));
                let ratio = if lo > 0.0 && hi.is_finite() {
                    format!("{:.2}", hi / lo)
                } else {
                    "open".into()
                };
                let frac = if r.search.trained > 0 && r.search.wall_s > 0.0 {
                    format!("{:.2}", r.search.train_s / (r.search.wall_s * threads))
                } else {
                    "replayed".into()
                };
                let _ = writeln!(
                    out,
                    "{:>11} {:>10} {:>21} {:>6} {:>12} {:>6} {:>6} {:>8.1} {:>10}  {}",
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
                    frac,
                    row_status(r)
                );
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
            let left_out: Vec<String> = s
                .rows
                .iter()
                .filter(|r| r.search.critical_m().is_none())
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.search.context_len,
                        r.search.crossing.status.label()
                    )
                })
                .collect();
            let n = s.rows.len() - left_out.len();
            let _ = writeln!(
                out,
                "fits of critical m against T: {n} T with an estimate{}",
                if left_out.is_empty() {
                    String::new()
                } else {
                    format!("; left out: T = {}", left_out.join(", "))
                }
            );
            match &s.fits {
                None => {
                    let _ = writeln!(
                        out,
                        "decision: undecided because a fit needs >= 4 T with an estimate \
                         (have {n})"
                    );
                }
                Some(c) => {
                    let best_bic = c.fits.iter().map(|f| f.bic).fold(f64::INFINITY, f64::min);
                    let _ = writeln!(
                        out,
                        "{:>14} {:>10} {:>10} {:>10} {:>9} {:>9} {:>11}",
                        "model", "a", "b", "LOO RMSE", "AIC", "BIC", "BIC - best"
                    );
                    for f in &c.fits {
                        let _ = writeln!(
                            out,
                            "{:>14} {:>10.3} {:>10.4} {:>10.2} {:>9.2} {:>9.2} {:>11.2}",
                            f.model.label(),
                            f.a,
                            f.b,
                            f.loo_rmse,
                            f.aic,
                            f.bic,
                            f.bic - best_bic
                        );
                    }
                    let _ = writeln!(
                        out,
                        "best held-out (LOO): {} (runner-up's LOO RMSE {:.2}x); best BIC: {} \
                         (margin {:.2} over {})",
                        c.winner.label(),
                        c.loo_ratio,
                        c.winner_bic.label(),
                        c.delta_bic,
                        c.runner_up_bic.label()
                    );
                    let _ = writeln!(out, "decision: {}", c.decision_sentence());
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
}

/// Writes the figure as `critical_sample_size.*` and the table as
/// `critical_sample_size_{points,fits}.csv` and `_summary.json` (`report::export`); returns the
/// figure's gallery entry.
pub fn write_figure(report: &CriticalReport, preset: Preset, out: &Path) -> Result<GalleryEntry> {
    let description = "Critical sample size of 3-sparse AND against context length T (log-log), \
                       each series trained for a fixed budget, one colour and marker per series: \
                       critical m from a logistic fit of the success rate in ln m with 95% \
                       profile-likelihood intervals, censored T as open markers, and the one \
                       growth fit the decision rule chooses (or the best held-out fit, labelled \
                       undecided with its BIC margin) in the series' colour; every fit is in \
                       critical_sample_size_fits.csv. Black: the s log2(T/s) lower bound and the \
                       explicit bound at constructed and trained norms, rescaled shapes.";
    let command = experiment_command("critical-sample-size", preset);
    let stem = "critical_sample_size";
    let entry = write_gallery_figure(&report.figure()?, out, stem, description, command, false)?;
    report.write_summary(out, stem)?;
    Ok(entry)
}

/// Writes the extended plan's figure as `critical_sample_size_extended.*` and its table files.
pub fn write_extended_figure(
    report: &CriticalReport,
    preset: Preset,
    out: &Path,
) -> Result<GalleryEntry> {
    let description = "Critical sample size of 3-sparse AND beyond the paper's range of T \
                       (log-log), same protocol as critical_sample_size.";
    let command = experiment_command("critical-sample-size-extended", preset);
    let stem = "critical_sample_size_extended";
    let entry = write_gallery_figure(&report.figure()?, out, stem, description, command, false)?;
    report.write_summary(out, stem)?;
    Ok(entry)
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
                       Transformer, trained for the fixed budget (solid) vs stopped at the first \
                       step that fits the training sample (dashed, open markers), same trial \
                       seeds, 95% Clopper-Pearson intervals, each arm's critical m in the legend.";
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
