//! Monte Carlo generalization gaps against the post-hoc bounds (docs/experiments.md §4).
//!
//! Each trial of a cell (task, `context_len`, `num_samples`, model, training config) trains one
//! model with [`crate::train::train_cell`] and stores, next to its training error, population
//! error, gap, margins and norms, the bounds evaluated **post hoc** on its trained norms:
//! the norms are rounded up to the geometric radius grid of [`bounds::post_hoc_grid`] (paying
//! the grid index in `delta`, so the bound is valid although the weights were chosen after
//! seeing the sample), then
//! - `bound_explicit` = `2/gamma Rad + 3 sqrt(ln(2/delta_J) / (2m))` with our explicit
//!   single-head Rademacher bound (rigorous), **not** capped at 1 so its shape stays visible
//!   (`bound_explicit_capped` is the capped value);
//! - `bound_paper` = the same with the paper's covering shape (c0 = 1, kappa = 2, a shape with
//!   a free constant, not a rigorous number);
//! - `bound_explicit_shape`, `bound_paper_shape` = `2/gamma 12 sqrt(C/m) + confidence` with
//!   `ln N ~ C/eps^2` the closed form of each: Dudley's leading term without the cap at the range
//!   `b = B_w L_sigma B_V B_X` (`head_range`). At the norms training reaches and the sample sizes
//!   of the presets the rigorous Rademacher bounds saturate at `b` (the trivial bound), so only
//!   the shapes show how the bounds move with m and T; they are what the figures rescale.
//!
//! The bounds bound `P(y f <= 0) - ` (empirical gamma-ramp loss), stored as `gap_ramp`; since
//! the ramp loss is at least the training error, `gap_ramp <= gap`. A trial with
//! `gap_ramp > bound_explicit` is counted as a violation and reported (allowed with probability
//! delta per trial, so a rate well above delta would be a bug or a disproof).
//! Bounds are computed for the \[CLS\] head class only (a single head); Transformer trials
//! store the measurements and norms without a bound.
//!
//! Trials run through [`crate::experiments::run_sweep`] (resumable, parallel over trials);
//! summaries read the store, so rerunning a preset reuses every stored trial.

mod plots;
pub mod stats;

pub use stats::{Summary, summarize};

use crate::bounds::{self, BoundParams, HeadRadii, Setting};
use crate::config::{CellConfig, ModelKind, SweepConfig};
use crate::error::{Error, Result};
use crate::experiments::{Gallery, Preset, SweepOptions, SweepSummary, cells_of, run_sweep};
use crate::metrics::{Metric, Metrics};
use crate::results::ResultsDb;
use crate::train::{TrainReport, TrainedModel, train_cell};
use std::path::Path;

/// Level of every interval: 95 %.
pub const ALPHA: f64 = 0.05;
/// `delta` of the bounds.
pub const DELTA: f64 = 0.05;

const PRESETS: [(Preset, &str, &str); 3] = [
    (
        Preset::Smoke,
        "gap/smoke",
        include_str!("../../../presets/gap/smoke.toml"),
    ),
    (
        Preset::Default,
        "gap/default",
        include_str!("../../../presets/gap/default.toml"),
    ),
    (
        Preset::Paper,
        "gap/paper",
        include_str!("../../../presets/gap/paper.toml"),
    ),
];

/// The sweep of a preset (`presets/gap/<name>.toml`).
pub fn preset_config(preset: Preset) -> Result<SweepConfig> {
    let (_, source, text) = PRESETS
        .iter()
        .find(|(p, _, _)| *p == preset)
        .ok_or_else(|| Error::invalid("preset", preset.name(), "smoke, default or paper"))?;
    SweepConfig::from_toml(text, &format!("preset {source}"))
}

/// One trial: train, measure, and (for the \[CLS\] head) the post-hoc bounds.
pub fn trial_metrics(cell: &CellConfig, seed: u64) -> Result<Metrics> {
    let trained = train_cell(cell, seed)?;
    let mut metrics = trained.report.metrics();
    if let TrainedModel::ClsHead(m) = &trained.model {
        let setting = Setting {
            num_samples: cell.num_samples,
            context_len: cell.context_len,
            width: m.head.width(),
            value_dim: m.head.value_dim(),
            heads: 1,
            layers: 1,
        };
        let geometry = embedding_geometry(&m.embedding)?;
        metrics.extend(bound_metrics_with(
            &setting,
            &trained.report,
            cell,
            Some(geometry),
        )?);
    }
    Ok(metrics)
}

/// The geometry (I34, I35) of a fixed embedding: every row `X~` can hold (each token at each
/// position, and \[CLS\]), fixed before the data (`docs/derivations.md` section 12.8).
pub fn embedding_geometry<S: crate::tensor::Real>(
    emb: &crate::model::Embedding<S>,
) -> Result<bounds::FixedEmbedding> {
    let cls: Vec<f64> = emb.cls.iter().map(|x| x.as_f64()).collect();
    let t_len = emb.context_len();
    // Row 0 is [CLS], then tok[b] + pos[t] for b-major (b, t): streamed, never all in memory.
    bounds::FixedEmbedding::from_row_fn(&cls, 1 + emb.vocab() * t_len, |i, out| {
        if i == 0 {
            out.copy_from_slice(&cls);
        } else {
            let (b, t) = ((i - 1) / t_len, (i - 1) % t_len);
            (out.iter_mut()
                .zip(emb.tok.row(b).iter().zip(emb.pos.row(t))))
            .for_each(|(o, (x, p))| *o = x.as_f64() + p.as_f64());
        }
    })
}

/// Post-hoc bounds for a trained \[CLS\] head (module doc) on the cls_head's fixed embedding
/// `Embedding::fixed_bits(T, OneHot)` (what `train` builds for `model = "cls_head"`).
pub fn bound_metrics(
    setting: &Setting,
    report: &TrainReport,
    cell: &CellConfig,
) -> Result<Metrics> {
    let emb = crate::model::Embedding::<f64>::fixed_bits(
        cell.context_len,
        crate::model::Positional::OneHot,
    )?;
    bound_metrics_with(setting, report, cell, Some(embedding_geometry(&emb)?))
}

/// [`bound_metrics`] with the embedding's geometry given (`None`: the score stage uses `B_X`
/// only, as before (I34)).
pub fn bound_metrics_with(
    setting: &Setting,
    report: &TrainReport,
    cell: &CellConfig,
    embedding: Option<bounds::FixedEmbedding>,
) -> Result<Metrics> {
    let n = &report.norms;
    // The single-head radii: each norm maxed over every head of every layer. A norm of exactly
    // 0 (a dead head) is below the grid's smallest radius anyway.
    let pos = |x: f64| x.max(1e-300);
    let trained = HeadRadii {
        b_x: pos(n.b_x),
        b_qk: pos(n.max_over_heads(|h| h.theta_fro)),
        b_v: pos(n.max_over_heads(|h| h.w_v_spectral)),
        b_v21: pos(n.max_over_heads(|h| h.w_v_21)),
        b_w: pos(n.w_l2),
    };
    let params = BoundParams {
        gamma: cell.train.gamma,
        delta: DELTA,
        sparsity: cell.sparsity,
        l_sigma: cell.train.head_activation.lipschitz(),
        // The theory's head reads the fixed bit embedding: every input row has the same norm,
        // so B_X is fixed before the data (docs/derivations.md section 12.4, (I32)).
        b_x_fixed: true,
        // ... and it is a fixed table read by the one [CLS] query (section 12.8, (I34), (I35)).
        embedding,
        ..BoundParams::default()
    };
    let ph = bounds::post_hoc_grid(&trained, params.r_min, params.delta)?;
    let m = setting.num_samples;
    let confidence = 3.0 * (ph.ln_two_over_delta / (2.0 * m as f64)).sqrt();
    // Ours (tightened, section 12) and round 1 (before the tightenings), both post hoc.
    let new = bounds::explicit_post_hoc(setting, &trained, &params, bounds::Tightening::ALL)?;
    let old = bounds::explicit_post_hoc(setting, &trained, &params, bounds::Tightening::ROUND_1)?;
    let rad_explicit = new.rademacher;
    // The paper's shape with the same radii; validated once so the closure cannot fail.
    bounds::paper_log_covering(setting, &ph.radii, &params, params.eps)?;
    let paper_ln_n =
        |eps: f64| bounds::paper_log_covering(setting, &ph.radii, &params, eps).unwrap_or(f64::MAX);
    let range = bounds::head_range(&ph.radii, &params);
    let rad_paper = bounds::dudley_numeric(paper_ln_n, range, m)?.value;
    let explicit = new.gap_uncapped;
    // Shapes: the leading term 12 sqrt(C/m) of Dudley's closed form (I21) for ln N = C/eps^2,
    // without the cap at the range b, so the m- and T-dependence stays visible where the
    // rigorous value has saturated at b. Not bounds when they exceed b.
    let c_explicit = new.closed_form_c;
    let c_paper = bounds::paper_log_covering(setting, &ph.radii, &params, 1.0)?;
    let shape_at = |c: f64, conf: f64| 2.0 / params.gamma * 12.0 * (c / m as f64).sqrt() + conf;
    let shape = |c: f64| shape_at(c, confidence);
    let mut out = Metrics::new();
    for (k, v) in [
        (Metric::HeadRange, range),
        (Metric::RademacherExplicit, rad_explicit),
        (Metric::RademacherPaper, rad_paper),
        (Metric::PosthocLnTwoOverDelta, ph.ln_two_over_delta),
        (Metric::BoundExplicit, explicit),
        (Metric::BoundExplicitCapped, explicit.min(1.0)),
        (
            Metric::BoundPaper,
            2.0 / params.gamma * rad_paper + confidence,
        ),
        (Metric::ExplicitC, c_explicit),
        (Metric::PaperC, c_paper),
        (
            Metric::BoundExplicitShape,
            shape_at(c_explicit, new.confidence),
        ),
        (Metric::BoundExplicitRound1, old.gap_uncapped),
        (
            Metric::BoundExplicitRound1Shape,
            shape_at(old.closed_form_c, old.confidence),
        ),
        (Metric::BoundPaperShape, shape(c_paper)),
    ] {
        k.put(&mut out, crate::error::check::finite(k.name(), v)?);
    }
    Ok(out)
}

/// Everything summarised for one cell, from the stored trials `0..trials`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub context_len: usize,
    pub num_samples: usize,
    pub model: ModelKind,
    pub train_error: Summary,
    pub population_error: Summary,
    pub gap: Summary,
    pub gap_ramp: Summary,
    pub margin_min: Summary,
    pub theta_fro: Summary,
    pub theta_21: Summary,
    pub w_v_spectral: Summary,
    pub w_v_21: Summary,
    pub w_l2: Summary,
    /// Largest input-token norm of the trained embedding.
    pub b_x: Summary,
    /// \[CLS\] head only.
    pub bound_explicit: Option<Summary>,
    pub bound_paper: Option<Summary>,
    pub bound_explicit_shape: Option<Summary>,
    pub bound_paper_shape: Option<Summary>,
    /// Round-1 explicit bound and shape (absent in stores written before they existed).
    pub bound_explicit_round1: Option<Summary>,
    pub bound_explicit_round1_shape: Option<Summary>,
    /// Trials with `gap_ramp > bound_explicit`.
    pub violations: usize,
}

/// Per-cell summaries of the stored trials of `config` (cells with no stored trial skipped).
pub fn summarize_cells(config: &SweepConfig, db: &ResultsDb) -> Result<Vec<CellSummary>> {
    let mut out = Vec::new();
    for cell in cells_of(config)? {
        let mut trials = Vec::new();
        for t in 0..config.trials {
            if let Some(rec) = db.get(&cell.hash, t)? {
                trials.push(rec.metrics);
            }
        }
        if trials.is_empty() {
            continue;
        }
        let col = |k: Metric| -> Result<Vec<f64>> { trials.iter().map(|m| k.require(m)).collect() };
        let s = |k: Metric| summarize(&col(k)?, ALPHA);
        let has_bound = trials
            .iter()
            .all(|m| Metric::BoundExplicit.get(m).is_some());
        let violations = if has_bound {
            let (g, b) = (col(Metric::GapRamp)?, col(Metric::BoundExplicit)?);
            g.iter().zip(&b).filter(|(g, b)| g > b).count()
        } else {
            0
        };
        let bound = |k: Metric| has_bound.then(|| s(k)).transpose();
        let optional = |k: Metric| {
            let all = trials.iter().all(|m| k.get(m).is_some());
            all.then(|| s(k)).transpose()
        };
        out.push(CellSummary {
            context_len: cell.config.context_len,
            num_samples: cell.config.num_samples,
            model: cell.config.model,
            train_error: s(Metric::TrainError)?,
            population_error: s(Metric::PopulationError)?,
            gap: s(Metric::Gap)?,
            gap_ramp: s(Metric::GapRamp)?,
            margin_min: s(Metric::MarginMin)?,
            theta_fro: s(Metric::ThetaFro)?,
            theta_21: s(Metric::Theta21)?,
            w_v_spectral: s(Metric::WVSpectral)?,
            w_v_21: s(Metric::WV21)?,
            w_l2: s(Metric::WL2)?,
            b_x: s(Metric::BX)?,
            bound_explicit: bound(Metric::BoundExplicit)?,
            bound_paper: bound(Metric::BoundPaper)?,
            bound_explicit_shape: bound(Metric::BoundExplicitShape)?,
            bound_paper_shape: bound(Metric::BoundPaperShape)?,
            bound_explicit_round1: optional(Metric::BoundExplicitRound1)?,
            bound_explicit_round1_shape: optional(Metric::BoundExplicitRound1Shape)?,
            violations,
        });
    }
    Ok(out)
}

/// What [`run`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRun {
    pub sweep: SweepSummary,
    pub cells: Vec<CellSummary>,
}

/// Runs the missing trials of `config` into `db` (on the current rayon pool) and summarises
/// every stored trial of its cells.
pub fn run(config: &SweepConfig, db: &mut ResultsDb, quiet: bool) -> Result<GapRun> {
    let cells = cells_of(config)?;
    let mut opts = SweepOptions::from_config(config);
    opts.quiet = quiet;
    let sweep = run_sweep(db, &cells, &opts, |cell, _, seed| {
        trial_metrics(&cell.config, seed)
    })?;
    Ok(GapRun {
        sweep,
        cells: summarize_cells(config, db)?,
    })
}

/// Aligned text table: one row per cell, means with the t interval, the bootstrap interval,
/// the skew flag (see [`stats`]), and the bounds.
pub fn format_table(cells: &[CellSummary]) -> String {
    let mut s = format!(
        "{:>11} {:>11} {:>3} {:>9} {:>9} {:>26} {:>21} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "context_len",
        "num_samples",
        "n",
        "train_err",
        "pop_err",
        "gap mean [t 95%]",
        "gap [bootstrap 95%]",
        "skewed",
        "bnd_expl",
        "bnd_paper",
        "shape_expl",
        "shape_papr",
        "violations"
    );
    let opt = |b: &Option<Summary>| b.map_or("-".to_string(), |b| format!("{:.3e}", b.mean));
    for c in cells {
        s += &format!(
            "{:>11} {:>11} {:>3} {:>9.4} {:>9.4} {:>26} {:>21} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            c.context_len,
            c.num_samples,
            c.gap.n,
            c.train_error.mean,
            c.population_error.mean,
            format!(
                "{:.4} [{:.4}, {:.4}]",
                c.gap.mean, c.gap.t_lower, c.gap.t_upper
            ),
            format!("[{:.4}, {:.4}]", c.gap.boot_lower, c.gap.boot_upper),
            if c.gap.skewed() { "yes" } else { "no" },
            opt(&c.bound_explicit),
            opt(&c.bound_paper),
            opt(&c.bound_explicit_shape),
            opt(&c.bound_paper_shape),
            if c.bound_explicit.is_some() {
                c.violations.to_string()
            } else {
                "-".into()
            },
        );
    }
    s
}

/// Runs `preset` (reusing stored trials) on the current rayon pool and renders its figures
/// into `out_dir`. Fails if any trial failed (its error is named), so a figure never silently
/// averages fewer trials than the preset asks for.
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let config = preset_config(preset)?;
    let run = run(&config, db, quiet)?;
    if let Some(f) = run.sweep.failed.first() {
        return Err(Error::invalid(
            format!("gap trial {} of cell {}", f.trial, f.cell_hash),
            f.error.to_string(),
            "a trial that trains and measures without error",
        ));
    }
    let command = format!("attnbounds experiment gap --preset {}", preset.name());
    plots::render(&config, &run.cells, out_dir, &command, quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_smoke_is_small() {
        for p in [Preset::Smoke, Preset::Default, Preset::Paper] {
            let c = preset_config(p).unwrap();
            assert!(c.name.starts_with("gap-"));
        }
        let smoke = preset_config(Preset::Smoke).unwrap();
        assert!(smoke.context_len.iter().all(|&t| t <= 8));
    }
}
