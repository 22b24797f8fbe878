//! docs/experiments.md §5: empirical capacity of the bounded-norm \[CLS\] head class held against the bounds.
//!
//! Cells sweep the context length T (at fixed m) and the sample size m (at fixed T), at fixed
//! norm radii. One trial of a cell draws the sample S (from the cell's `sample_seed`, so S is a
//! property of the cell), estimates the head class's empirical Rademacher complexity from below
//! (`capacity::head_rademacher`), computes the flattened linear class's exactly, optionally
//! packs sampled members, and evaluates every bound (`bounds::all_bounds`) at the same radii
//! and sample. [`run`] stores trials through `run_sweep`, then checks every stored lower
//! estimate against the rigorous bounds: any excess fails the run with `Error::Violation`.

use crate::bounds::{self, BoundId, BoundParams, Radii, Setting};
use crate::capacity::{
    self, AscentOptions, BitSample, HeadBall, check_rigorous, check_shape, greedy_packing,
};
use crate::error::{Error, Result};
use crate::experiments::{
    Cell, Gallery, Preset, SweepOptions, SweepSummary, run_sweep, write_gallery_figure,
};
use crate::figure::{Figure, FigureSize, Series};
use crate::metrics::{AtEps, Metric, Metrics};
use crate::model::Activation;
use crate::results::ResultsDb;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Experiment name in the results store.
pub const EXPERIMENT: &str = "capacity";

/// Packing settings of a cell: members sampled and the separations `2 eps` tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackingConfig {
    pub random: usize,
    pub adversarial: usize,
    pub eps: Vec<f64>,
}

/// One configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityCell {
    /// Which sweep the cell belongs to: "context_len" or "num_samples".
    pub axis: String,
    pub context_len: usize,
    pub num_samples: usize,
    /// Dimension of the random-sign positional codes (width d = pos_dim + 3).
    pub pos_dim: usize,
    /// Max row norm of the inputs.
    pub b_x: f64,
    pub ball: HeadBall,
    pub ascent: AscentOptions,
    /// Seeds the sample S (fixed per cell; sign draws and restarts use the trial seed).
    pub sample_seed: u64,
    pub packing: Option<PackingConfig>,
}

/// Positional dimension `max(8, ceil(4 ln T))`: near-orthogonal codes (docs/constructions.md).
pub fn pos_dim(context_len: usize) -> usize {
    ((4.0 * (context_len as f64).ln()).ceil() as usize).max(8)
}

/// The cells of a preset.
pub fn cells(preset: Preset) -> Result<Vec<Cell<CapacityCell>>> {
    let (ts, m_fixed, ms, t_fixed, b_qks, ascent, packing): (
        Vec<usize>,
        usize,
        Vec<usize>,
        usize,
        Vec<f64>,
        AscentOptions,
        PackingConfig,
    ) = match preset {
        Preset::Smoke => (
            vec![10, 100],
            16,
            vec![8, 32],
            10,
            vec![4.0],
            ascent(4, 1, 20),
            PackingConfig {
                random: 30,
                adversarial: 2,
                eps: vec![0.02, 0.1],
            },
        ),
        Preset::Default => (
            vec![10, 32, 100, 316, 1000, 3162, 10_000],
            100,
            vec![25, 50, 100, 200, 400, 800],
            100,
            vec![2.0, 8.0],
            ascent(10, 2, 50),
            PackingConfig {
                random: 200,
                adversarial: 8,
                eps: vec![0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
            },
        ),
        Preset::Paper => (
            vec![10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000],
            200,
            vec![25, 50, 100, 200, 400, 800, 1600, 3200],
            100,
            vec![1.0, 4.0, 16.0],
            ascent(30, 4, 120),
            PackingConfig {
                random: 1000,
                adversarial: 40,
                eps: vec![0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
            },
        ),
    };
    let mut out = Vec::new();
    for &b_qk in &b_qks {
        let ball = HeadBall::new(b_qk, 1.0, 1.0)?;
        let cell = |axis: &str, t: usize, m: usize, pack: bool| CapacityCell {
            axis: axis.to_string(),
            context_len: t,
            num_samples: m,
            pos_dim: pos_dim(t),
            b_x: 1.0,
            ball,
            ascent,
            sample_seed: 1000 + t as u64 * 7919 + m as u64,
            packing: pack.then(|| packing.clone()),
        };
        for &t in &ts {
            out.push(Cell::new(cell("context_len", t, m_fixed, true))?);
        }
        for &m in &ms {
            out.push(Cell::new(cell("num_samples", t_fixed, m, false))?);
        }
    }
    Ok(out)
}

fn ascent(draws: usize, restarts: usize, steps: usize) -> AscentOptions {
    AscentOptions {
        draws,
        restarts,
        steps,
        lr: 0.05,
        rank: 4,
        value_dim: 4,
        activation: Activation::Relu,
    }
}

/// Bound rows used, by id, with the metric each is stored under.
const BOUND_ROWS: [(BoundId, Metric); 5] = [
    (BoundId::Explicit, Metric::RademacherBoundExplicit),
    (BoundId::PaperShape, Metric::RademacherBoundPaperShape),
    (BoundId::SpectralFlat, Metric::RademacherBoundBftFlat),
    (BoundId::MaureyStyle, Metric::RademacherBoundMaurey),
    (
        BoundId::ParameterCounting,
        Metric::RademacherBoundParamCount,
    ),
];

/// One trial: every metric of one configuration.
pub fn trial(cell: &CapacityCell, seed: u64) -> Result<Metrics> {
    let mut sample_rng = ChaCha8Rng::seed_from_u64(cell.sample_seed);
    let sample = BitSample::random(
        cell.context_len,
        cell.num_samples,
        cell.pos_dim,
        cell.b_x,
        &mut sample_rng,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut metrics = Metrics::new();
    let mut put_key = |k: String, v: f64| -> Result<()> {
        let v = crate::error::check::finite(&k, v)?;
        metrics.insert(k, v);
        Ok(())
    };
    let mut put = |k: Metric, v: f64| put_key(k.name().to_string(), v);
    let est = capacity::head_rademacher(&sample, &cell.ball, &cell.ascent, &mut rng)?;
    put(Metric::RademacherLowerMean, est.mean)?;
    put(Metric::RademacherLowerCiLower, est.lower)?;
    put(Metric::RademacherLowerCiUpper, est.upper)?;
    put(Metric::Draws, est.draws as f64)?;
    put(Metric::Restarts, est.restarts as f64)?;
    // Same budget style: ||w||_2 <= b_w b_v, the product of the head's read-out radii.
    let budget = cell.ball.b_w * cell.ball.b_v_fro;
    let lin = capacity::linear_flat_rademacher(&sample, budget, cell.ascent.draws, &mut rng)?;
    put(Metric::LinearFlatExactMean, lin.mean)?;
    put(Metric::LinearFlatExactCiLower, lin.lower)?;
    put(Metric::LinearFlatExactCiUpper, lin.upper)?;
    put(Metric::BX, sample.b_x)?;
    put(Metric::Width, sample.width() as f64)?;

    let setting = Setting {
        num_samples: cell.num_samples,
        context_len: cell.context_len,
        width: sample.width(),
        value_dim: cell.ascent.value_dim,
        heads: 1,
        layers: 1,
    };
    let radii = cell.ball.radii(sample.b_x, cell.ascent.value_dim)?;
    let params = BoundParams::default();
    let rows = bounds::all_bounds(&setting, &Radii::single_head(radii), &params)?;
    for (id, key) in BOUND_ROWS {
        let rad = bounds::row(&rows, id)?.rademacher.ok_or_else(|| {
            Error::invalid("bound row", id.name(), "a row with a Rademacher bound")
        })?;
        put(key, rad)?;
    }
    put(Metric::HeadRange, bounds::head_range(&radii, &params))?;
    // Uncapped scales 12 sqrt(C/m) of the Dudley bound for ln N = C/eps^2 (the leading term of
    // bounds::dudley_closed_form before its cap at the range): here the T-dependence is visible
    // even where the bounds themselves are capped (vacuous).
    let m = cell.num_samples as f64;
    let c_explicit = bounds::explicit_closed_form(&setting, &radii, &params, params.eps)?;
    let c_paper = bounds::paper_log_covering(&setting, &radii, &params, 1.0)?;
    put(Metric::ExplicitC, c_explicit)?;
    put(Metric::PaperC, c_paper)?;
    put(
        Metric::ExplicitUncappedScale,
        12.0 * (c_explicit / m).sqrt(),
    )?;
    put(Metric::PaperUncappedScale, 12.0 * (c_paper / m).sqrt())?;

    if let Some(p) = &cell.packing {
        let members = capacity::head_members(
            &sample,
            &cell.ball,
            p.random,
            p.adversarial,
            &cell.ascent,
            &mut rng,
        )?;
        put(Metric::PackingMembers, members.len() as f64)?;
        for &eps in &p.eps {
            let kept = greedy_packing(&members, 2.0 * eps)?;
            put_key(AtEps::PackingLn2Eps.key(eps), (kept.len() as f64).ln())?;
            put_key(
                AtEps::CoverExplicitLnEps.key(eps),
                bounds::explicit_log_covering(&setting, &radii, &params, eps)?.min(f64::MAX),
            )?;
            put_key(
                AtEps::CoverPaperLnEps.key(eps),
                bounds::paper_log_covering(&setting, &radii, &params, eps)?.min(f64::MAX),
            )?;
        }
    }
    Ok(metrics)
}

/// A stored trial, parsed.
#[derive(Debug, Clone)]
pub struct Row {
    pub cell: CapacityCell,
    pub metrics: Metrics,
}

impl Row {
    pub fn get(&self, key: Metric) -> Result<f64> {
        key.require(&self.metrics)
    }

    /// A metric of an eps-indexed family at `eps`.
    pub fn at_eps(&self, family: AtEps, eps: f64) -> Result<f64> {
        let key = family.key(eps);
        (self.metrics.get(&key).copied())
            .ok_or_else(|| Error::invalid("metric", key, "a metric stored by the capacity trial"))
    }
    fn config(&self) -> String {
        format!(
            "context_len = {}, num_samples = {}, b_qk = {}, b_v = {}, b_w = {}, b_x = {}",
            self.cell.context_len,
            self.cell.num_samples,
            self.cell.ball.b_qk,
            self.cell.ball.b_v_fro,
            self.cell.ball.b_w,
            self.cell.b_x
        )
    }
}

/// The stored rows of the preset's cells, in cell order.
pub fn rows(preset: Preset, db: &ResultsDb) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    for cell in cells(preset)? {
        if let Some(rec) = db.get(&cell.hash, 0)? {
            out.push(Row {
                cell: cell.config,
                metrics: rec.metrics,
            });
        }
    }
    Ok(out)
}

/// Lower estimates vs the rigorous bounds (violations) and the paper shape (warnings only).
pub fn check_rows(rows: &[Row]) -> Result<Vec<capacity::Warning>> {
    let mut warnings = Vec::new();
    for r in rows {
        let cfg = r.config();
        let lower = r.get(Metric::RademacherLowerMean)?;
        check_rigorous(
            "explicit Rademacher bound (docs/derivations.md section 3, Dudley section 6)",
            lower,
            r.get(Metric::RademacherBoundExplicit)?,
            &cfg,
        )?;
        warnings.extend(check_shape(
            "paper shape Rademacher (c0 = 1)",
            lower,
            r.get(Metric::RademacherBoundPaperShape)?,
            &cfg,
        ));
        if let Some(p) = &r.cell.packing {
            for &eps in &p.eps {
                let pack = r.at_eps(AtEps::PackingLn2Eps, eps)?;
                let cfg = format!("{cfg}, eps = {eps}");
                check_rigorous(
                    "explicit covering bound ln N(eps) >= ln M(2 eps) (docs/derivations.md section 3)",
                    pack,
                    r.at_eps(AtEps::CoverExplicitLnEps, eps)?,
                    &cfg,
                )?;
                warnings.extend(check_shape(
                    "paper shape ln N(eps) (c0 = 1)",
                    pack,
                    r.at_eps(AtEps::CoverPaperLnEps, eps)?,
                    &cfg,
                ));
            }
        }
    }
    Ok(warnings)
}

/// What [`run`] did.
#[derive(Debug)]
pub struct RunReport {
    pub summary: SweepSummary,
    pub rows: Vec<Row>,
    pub warnings: Vec<capacity::Warning>,
}

/// Runs the preset's missing trials (those of the store's shard) into `db`; a failed trial is an
/// error.
pub fn sweep(preset: Preset, db: &mut ResultsDb, quiet: bool) -> Result<SweepSummary> {
    let cells = cells(preset)?;
    let mut opts = SweepOptions::new(EXPERIMENT, 1, 20_221_005);
    opts.quiet = quiet;
    let summary = run_sweep(db, &cells, &opts, |cell, _, seed| trial(&cell.config, seed))?;
    if let Some(f) = summary.failed.first() {
        return Err(f.error.clone());
    }
    Ok(summary)
}

/// Runs the preset's missing trials into `db`, then checks every stored row. A failed trial or a
/// violation is an error (the stored rows stay in the store for inspection).
pub fn run(preset: Preset, db: &mut ResultsDb, quiet: bool) -> Result<RunReport> {
    let summary = sweep(preset, db, quiet)?;
    let rows = rows(preset, db)?;
    let warnings = check_rows(&rows)?;
    Ok(RunReport {
        summary,
        rows,
        warnings,
    })
}

const LOWER: &str = "empirical Rademacher (lower estimate)";
const EXPLICIT: &str = "explicit bound (docs/derivations.md §3)";
const PAPER: &str = "paper shape; c0 = 1";
const LINEAR: &str =
    "contrast: flattened linear class ||w||_2 <= b (exact; not bounded by the head bounds)";
const BFT: &str = "spectral flattened baseline (BFT 2017 style)";

fn axis_rows<'a>(rows: &'a [Row], axis: &str, b_qk: f64) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.cell.axis == axis && r.cell.ball.b_qk == b_qk)
        .collect()
}

fn series_of(rows: &[&Row], x: &dyn Fn(&Row) -> f64, key: Metric) -> Result<(Vec<f64>, Vec<f64>)> {
    let xs = rows.iter().map(|r| x(r)).collect();
    let ys = rows.iter().map(|r| r.get(key)).collect::<Result<_>>()?;
    Ok((xs, ys))
}

fn rademacher_figure(rows: &[Row], axis: &str, b_qks: &[f64]) -> Result<Figure> {
    let x: &dyn Fn(&Row) -> f64 = if axis == "context_len" {
        &|r: &Row| r.cell.context_len as f64
    } else {
        &|r: &Row| r.cell.num_samples as f64
    };
    let mut series = Vec::new();
    for (c, &b_qk) in b_qks.iter().enumerate() {
        let rs = axis_rows(rows, axis, b_qk);
        let (xs, ys) = series_of(&rs, x, Metric::RademacherLowerMean)?;
        let (_, lo) = series_of(&rs, x, Metric::RademacherLowerCiLower)?;
        let (_, hi) = series_of(&rs, x, Metric::RademacherLowerCiUpper)?;
        // A t interval may reach below 0; on a log axis show its positive part only.
        let lo = lo.iter().zip(&ys).map(|(l, y)| l.max(y * 1e-3)).collect();
        series.push(
            Series::line_points(format!("{LOWER}; B_QK = {b_qk}"), xs, ys)
                .with_error_bars(lo, hi)
                .with_color(c),
        );
        if c == b_qks.len() - 1 {
            let (xs, ys) = series_of(&rs, x, Metric::RademacherBoundExplicit)?;
            series.push(Series::line(EXPLICIT, xs, ys).with_color(4));
            let (xs, ys) = series_of(&rs, x, Metric::ExplicitUncappedScale)?;
            series.push(
                Series::line(format!("{EXPLICIT} uncapped scale 12 sqrt(C/m)"), xs, ys)
                    .dashed()
                    .with_color(4),
            );
            let (xs, ys) = series_of(&rs, x, Metric::PaperUncappedScale)?;
            series.push(
                Series::line(format!("{PAPER} uncapped scale 12 sqrt(C/m)"), xs, ys)
                    .dashed()
                    .with_color(5),
            );
            let (xs, ys) = series_of(&rs, x, Metric::RademacherBoundPaperShape)?;
            series.push(Series::line(format!("{PAPER}; B_QK = {b_qk}"), xs, ys).with_color(5));
            let (xs, ys) = series_of(&rs, x, Metric::RademacherBoundBftFlat)?;
            series.push(Series::line(BFT, xs, ys).dashed().with_color(6));
            let (xs, ys) = series_of(&rs, x, Metric::LinearFlatExactMean)?;
            series.push(Series::line_points(LINEAR, xs, ys).with_color(3));
        }
    }
    let (name, label) = if axis == "context_len" {
        ("context length T", "context length T (tokens)")
    } else {
        ("sample size m", "number of samples m")
    };
    Ok(Figure {
        title: format!("Empirical Rademacher vs {name} (bounds capped at the range b)"),
        x_label: label.to_string(),
        y_label: "Rademacher complexity Rad_S (output units)".to_string(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series,
    })
}

fn packing_figure(row: &Row) -> Result<Figure> {
    let p = row
        .cell
        .packing
        .as_ref()
        .ok_or_else(|| Error::invalid("packing", "none", "a cell with packing"))?;
    let x: Vec<f64> = p.eps.iter().map(|e| 1.0 / (e * e)).collect();
    let get = |family: AtEps| -> Result<Vec<f64>> {
        p.eps.iter().map(|&e| row.at_eps(family, e)).collect()
    };
    let cap = row.get(Metric::PackingMembers)?.ln();
    Ok(Figure {
        title: format!(
            "Packing lower estimate vs covering bound (T = {}; m = {}; B_QK = {})",
            row.cell.context_len, row.cell.num_samples, row.cell.ball.b_qk
        ),
        x_label: "1 / eps^2".to_string(),
        y_label: "ln N_inf(F; eps; S) (nats)".to_string(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series: vec![
            Series::line_points(
                "greedy packing ln M(2 eps) (lower estimate)",
                x.clone(),
                get(AtEps::PackingLn2Eps)?,
            )
            .with_color(0),
            Series::line(
                "ln of members sampled (ceiling of the packing)",
                x.clone(),
                vec![cap; x.len()],
            )
            .dashed()
            .with_color(7),
            Series::line(
                "explicit covering bound (docs/derivations.md §3)",
                x.clone(),
                get(AtEps::CoverExplicitLnEps)?,
            )
            .with_color(4),
            Series::line("paper shape; c0 = 1", x, get(AtEps::CoverPaperLnEps)?)
                .dashed()
                .with_color(5),
        ],
    })
}

/// Runs the preset (missing trials only) and writes the three figures into `out_dir`.
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let report = run(preset, db, quiet)?;
    let b_qks: Vec<f64> = {
        let mut v: Vec<f64> = report.rows.iter().map(|r| r.cell.ball.b_qk).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v
    };
    let command = format!("attnbounds experiment capacity --preset {}", preset.name());
    let mut out = Vec::new();
    let figs = [
        (
            "capacity_rademacher_vs_context_len",
            rademacher_figure(&report.rows, "context_len", &b_qks)?,
            "Empirical Rademacher complexity of the bounded-norm [CLS] head (a lower estimate by projected ascent) against T, beside the explicit bound, the paper shape and the exactly computed flattened linear class, which grows like sqrt(T).",
        ),
        (
            "capacity_rademacher_vs_num_samples",
            rademacher_figure(&report.rows, "num_samples", &b_qks)?,
            "The same lower estimates and bounds against the sample size m at fixed T.",
        ),
    ];
    let pack_row = report
        .rows
        .iter()
        .filter(|r| r.cell.packing.is_some())
        .min_by_key(|r| {
            r.cell.context_len.abs_diff(100) * 10
                + (r.cell.ball.b_qk != b_qks[b_qks.len() - 1]) as usize
        })
        .ok_or_else(|| Error::invalid("packing rows", 0, "at least one cell with packing"))?;
    let packing = packing_figure(pack_row)?;
    for (stem, fig, description) in figs.into_iter().chain(std::iter::once((
        "capacity_packing",
        packing,
        "Greedy packing numbers of sampled head-class members at separation 2 eps (a lower estimate of the covering number, capped by the number of members sampled) against 1/eps^2, beside the explicit covering bound and the paper shape.",
    ))) {
        let entry = write_gallery_figure(&fig, out_dir, stem, description, command.clone(), quiet)?;
        out.push(entry);
    }
    Ok(out)
}
