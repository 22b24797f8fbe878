//! The explicit constructions' norms and what the bounds predict at them (docs/constructions.md and docs/experiments.md §7,
//! "every bound vs T ... at the construction's norms").
//!
//! Pure evaluation: builds the explicit heads (docs/constructions.md) with [`crate::construct::build`] (one-hot codes),
//! measures their norms with [`crate::construct::Construction::norms`] and turns them into
//! predicted sample sizes with [`predicted_sample_size`] (rows of [`bounds::all_bounds`] picked by
//! [`BoundId`]; conventions GAMMA, TARGET_GAP, DELTA, CAP from [`crate::construct::standard`]).
//! No training, no randomness apart from one seeded truth table; rendered through `figure`.
//!
//! Three figures: the norms of the 3-sparse AND head against T, the sample size each bound
//! predicts at those norms against T, and the predicted sample size against the sparsity s for
//! symmetric targets and for truth tables.

use crate::bounds::{self, BoundId};
use crate::construct::standard::{
    CAP, DELTA, ETA0_SYMMETRIC, GAMMA, TARGET_GAP, bound_params, construction,
};
use crate::construct::{ConstructionNorms, Target, predicted_sample_size};
use crate::error::Result;
use crate::experiments::{GalleryEntry, Preset};
use crate::figure::{Figure, FigureSize, Series};
use crate::stats::log_grid;
use rand::{RngExt, SeedableRng};
use std::path::Path;

/// Sample size (`None` above [`CAP`]) at which bound `id`, at the norms `n` of a head of
/// sparsity `s` and context length `t`, reaches [`TARGET_GAP`].
fn samples_for(id: BoundId, n: &ConstructionNorms, t: usize, s: usize) -> Result<Option<f64>> {
    Ok(predicted_sample_size(n, t, id, &bound_params(s), TARGET_GAP, CAP)?.reached())
}

/// Status label of bound `id` at the figures' parameters (for legends).
fn status_of(id: BoundId) -> String {
    id.status(&bound_params(SPARSITY)).to_string()
}

/// One point of the T sweep (fig. a and b).
#[derive(Debug, Clone, PartialEq)]
pub struct ContextPoint {
    pub context_len: usize,
    pub score_scale: f64,
    pub norms: ConstructionNorms,
    /// Predicted m of each bound of [`SWEEP_BOUNDS`], in that order; `None` above the cap.
    pub predicted: Vec<Option<f64>>,
    /// VC dimension lower bound s floor(log2(T/s)) of s-sparse AND.
    pub vc_lower: f64,
}

/// The bounds of the T sweep with their legend names (the paper shape drawn dashed).
pub const SWEEP_BOUNDS: [(BoundId, &str); 4] = [
    (BoundId::Explicit, "explicit single-head (ours)"),
    (BoundId::PaperShape, "paper single-head shape"),
    (
        BoundId::SpectralFlat,
        "spectral on flattened input (BFT 2017 style)",
    ),
    (
        BoundId::ParameterCounting,
        "parameter counting VC ~ L P ln(T P)",
    ),
];

/// Sparsity of the T sweep.
pub const SPARSITY: usize = 3;

/// The T sweep of the s = 3 AND head.
pub fn context_sweep(grid: &[usize]) -> Result<Vec<ContextPoint>> {
    let s = SPARSITY;
    grid.iter()
        .map(|&t| {
            let c = construction(Target::And, s, t)?;
            let n = c.norms()?;
            Ok(ContextPoint {
                context_len: t,
                score_scale: c.score_scale,
                norms: n,
                predicted: SWEEP_BOUNDS
                    .iter()
                    .map(|&(id, _)| samples_for(id, &n, t, s))
                    .collect::<Result<_>>()?,
                vc_lower: bounds::vc_lower_sparse_and(t, s),
            })
        })
        .collect()
}

/// The targets of the sparsity sweep at sparsity `s`: (legend name, target).
fn sparsity_targets(s: usize) -> Vec<(&'static str, Target)> {
    let parity_table = (0..1usize << s).map(|p| p.count_ones() % 2 == 1).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s as u64);
    let random_table = (0..1usize << s).map(|_| rng.random::<bool>()).collect();
    vec![
        ("AND", Target::And),
        ("parity", Target::Parity),
        ("majority", Target::Majority),
        (
            "truth table: parity as a table (2^s - 1 label changes)",
            Target::TruthTable(parity_table),
        ),
        (
            "truth table: random (seed s)",
            Target::TruthTable(random_table),
        ),
    ]
}

/// Legend name, predicted m of the explicit bound and of the paper shape (`None` above [`CAP`]).
pub type SparsityRow = (&'static str, Option<f64>, Option<f64>);

/// Predicted m (explicit, paper shape) for each target of the sparsity sweep at `s`, `t`.
pub fn sparsity_point(s: usize, t: usize) -> Result<Vec<SparsityRow>> {
    sparsity_targets(s)
        .into_iter()
        .map(|(name, target)| {
            let n = construction(target, s, t)?.norms()?;
            Ok((
                name,
                samples_for(BoundId::Explicit, &n, t, s)?,
                samples_for(BoundId::PaperShape, &n, t, s)?,
            ))
        })
        .collect()
}

fn some_points(x: &[f64], y: &[Option<f64>]) -> (Vec<f64>, Vec<f64>) {
    x.iter()
        .zip(y)
        .filter_map(|(&x, y)| y.map(|y| (x, y)))
        .unzip()
}

/// Render the three figures into `out_dir`.
pub fn figures(preset: Preset, out_dir: &Path) -> Result<Vec<GalleryEntry>> {
    let (per_decade, t_max, s_max, t_fixed) = match preset {
        Preset::Smoke => (1, 1000, 3, 100),
        Preset::Default => (4, 100_000, 8, 1000),
        Preset::Paper => (8, 100_000, 8, 1000),
    };
    let grid = log_grid(8, t_max, per_decade);
    let pts = context_sweep(&grid)?;
    let x: Vec<f64> = pts.iter().map(|p| p.context_len as f64).collect();
    let col = |f: fn(&ContextPoint) -> f64| -> Vec<f64> { pts.iter().map(f).collect() };
    let s = SPARSITY;
    let cmd = format!(
        "attnbounds experiment constructions --preset {}",
        preset.name()
    );
    let mut entries = Vec::new();

    // a. Norms against T.
    let series = vec![
        Series::line_points(
            "||Theta||_F = sqrt(s) R (query-key)",
            x.clone(),
            col(|p| p.norms.theta_frobenius),
        )
        .with_color(0),
        Series::line(
            "sqrt(s) ln((T-s+1)(1-eta0)/(s eta0)) [closed form, explicit construction]",
            x.clone(),
            col(|p| {
                let (t, s) = (p.context_len as f64, SPARSITY as f64);
                s.sqrt() * ((t - s + 1.0) * (1.0 - ETA0_SYMMETRIC) / (s * ETA0_SYMMETRIC)).ln()
            }),
        )
        .dashed()
        .with_color(0),
        Series::line_points(
            "||W_V||_2 (spectral)",
            x.clone(),
            col(|p| p.norms.w_v_spectral),
        )
        .with_color(1),
        Series::line_points(
            "||W_V||_21 (sum of column norms)",
            x.clone(),
            col(|p| p.norms.w_v_21),
        )
        .with_color(2),
        Series::line_points("||w||_2", x.clone(), col(|p| p.norms.w_2)).with_color(3),
        Series::line_points("B_X = max_t ||x_t||_2", x.clone(), col(|p| p.norms.b_x)).with_color(4),
    ];
    let fig = Figure {
        title: format!(
            "Norms of the explicit {s}-sparse AND head vs context length (one-hot codes; eta0 = {ETA0_SYMMETRIC})"
        ),
        x_label: "context length T (tokens)".into(),
        y_label: "norm (dimensionless)".into(),
        x_log: true,
        y_log: false,
        size: FigureSize::DoubleColumn,
        series,
    };
    fig.write(out_dir, "construction_norms_vs_context_len")?;
    entries.push(GalleryEntry {
        stem: "construction_norms_vs_context_len".into(),
        description: format!(
            "Every norm the bounds need, measured on the explicit {s}-sparse AND head of docs/constructions.md \
             against T on a log axis: only the query-key norm ||Theta||_F grows, along its closed \
             form sqrt(s) ln((T-s+1)(1-eta0)/(s eta0)), i.e. like ln T; the value and read-out \
             norms and B_X stay flat."
        ),
        command: cmd.clone(),
    });

    // b. Predicted sample sizes against T.
    let mut series = Vec::new();
    for (i, (id, legend)) in SWEEP_BOUNDS.into_iter().enumerate() {
        let ys: Vec<Option<f64>> = pts.iter().map(|p| p.predicted[i]).collect();
        let (px, py) = some_points(&x, &ys);
        if px.len() >= 2 {
            let name = format!("{legend} [{}]", status_of(id));
            let ser = Series::line_points(name, px, py).with_color(i);
            series.push(if id == BoundId::PaperShape {
                ser.dashed()
            } else {
                ser
            });
        }
    }
    series.push(
        Series::line_points(
            "VC dimension of s-sparse AND >= s floor(log2(T/s)) [lower bound: m = Omega(VC)]",
            x.clone(),
            col(|p| p.vc_lower),
        )
        .dashed()
        .with_color(4),
    );
    let fig = Figure {
        title: format!(
            "Samples each bound needs for gap <= {TARGET_GAP} at the {s}-sparse AND head's norms \
             (gamma = {GAMMA}; delta = {DELTA}; one-hot codes)"
        ),
        x_label: "context length T (tokens)".into(),
        y_label: "predicted sample size m".into(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series,
    };
    fig.write(out_dir, "bounds_at_construction_norms_vs_context_len")?;
    entries.push(GalleryEntry {
        stem: "bounds_at_construction_norms_vs_context_len".into(),
        description: format!(
            "Sample size at which each bound's gap bound reaches {TARGET_GAP}, evaluated at the \
             measured norms of the explicit {s}-sparse AND head at each T (so the ln T of \
             ||Theta||_F enters), against T on log-log axes, beside the s floor(log2(T/s)) VC \
             lower bound; the parameter-counting and flattened-input baselines also grow with the \
             one-hot width d = T + 3."
        ),
        command: cmd.clone(),
    });

    // c. Predicted sample size against s.
    let ss: Vec<usize> = (1..=s_max).collect();
    let per_s: Vec<_> = ss
        .iter()
        .map(|&s| sparsity_point(s, t_fixed))
        .collect::<Result<_>>()?;
    let sx: Vec<f64> = ss.iter().map(|&s| s as f64).collect();
    let mut series = Vec::new();
    let names: Vec<&str> = per_s[0].iter().map(|r| r.0).collect();
    let (st_ex, st_pa) = (status_of(BoundId::Explicit), status_of(BoundId::PaperShape));
    for (i, name) in names.iter().enumerate() {
        let ex: Vec<Option<f64>> = per_s.iter().map(|r| r[i].1).collect();
        let pa: Vec<Option<f64>> = per_s.iter().map(|r| r[i].2).collect();
        let (px, py) = some_points(&sx, &ex);
        if px.len() >= 2 {
            series.push(
                Series::line_points(format!("{name}; explicit [{st_ex}]"), px, py).with_color(i),
            );
        }
        let (px, py) = some_points(&sx, &pa);
        if px.len() >= 2 {
            series.push(
                Series::line(format!("{name}; paper shape [{st_pa}]"), px, py)
                    .dashed()
                    .with_color(i),
            );
        }
    }
    let fig = Figure {
        title: format!(
            "Predicted sample size vs sparsity at the explicit heads' norms (T = {t_fixed}; gap <= \
             {TARGET_GAP}; gamma = {GAMMA}; symmetric eta0 = {ETA0_SYMMETRIC}; tables eta0 = 2^-s/4; m <= {CAP:.0e} drawn)"
        ),
        x_label: "sparsity s (hidden bits)".into(),
        y_label: "predicted sample size m".into(),
        x_log: false,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series,
    };
    fig.write(out_dir, "predicted_samples_vs_sparsity")?;
    let cap = format!("{CAP:.0e}");
    entries.push(GalleryEntry {
        stem: "predicted_samples_vs_sparsity".into(),
        description: format!(
            "Sample size the explicit bound (solid) and the paper's shape (dashed) predict at the \
             norms of the explicit heads (docs/constructions.md) against s at T = {t_fixed}: polynomial in s for symmetric \
             targets (AND, parity, majority), exponential (2^O(s)) through the truth-table route; \
             points above m = {cap} (the largest sample size the bounds evaluate) are not drawn."
        ),
        command: cmd,
    });
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{Radii, Setting};
    use crate::construct::standard::and_norms;

    #[test]
    fn theta_norm_is_sqrt_s_times_the_score_scale() {
        // One-hot: w_k = R sum_{i in I} e_i and w_q = e_cls, so ||Theta||_F = R sqrt(s).
        let c = construction(Target::And, 3, 1000).unwrap();
        let n = c.norms().unwrap();
        assert!((n.theta_frobenius - c.score_scale * 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn sample_size_for_row_meets_the_target() {
        let n = and_norms(3, 100).unwrap();
        let m = samples_for(BoundId::SpectralFlat, &n, 100, 3)
            .unwrap()
            .unwrap();
        let gap = |m: f64| {
            let setting = Setting {
                num_samples: m as usize,
                context_len: 100,
                width: n.width,
                value_dim: n.value_dim,
                heads: 1,
                layers: 1,
            };
            let radii = Radii::single_head(crate::construct::radii(&n));
            let rows = bounds::all_bounds(&setting, &radii, &bound_params(3)).unwrap();
            bounds::row(&rows, BoundId::SpectralFlat)
                .unwrap()
                .gap
                .unwrap()
        };
        assert!(gap(m) <= TARGET_GAP);
        assert!(gap(m / 1.01) > TARGET_GAP);
    }

    /// (x, y) of the CSV series whose name starts with `prefix`, in file order.
    fn csv_series(dir: &Path, stem: &str, prefix: &str) -> Vec<(f64, f64)> {
        let text = std::fs::read_to_string(dir.join(format!("{stem}.csv"))).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("series_id,x,y,lower,upper,series"));
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[5].starts_with(prefix))
            .map(|f| (f[1].parse().unwrap(), f[2].parse().unwrap()))
            .collect()
    }

    #[test]
    fn smoke_figures_are_written_with_the_expected_shape() {
        let dir = tempfile::tempdir().unwrap();
        let entries = figures(Preset::Smoke, dir.path()).unwrap();
        let stems: Vec<&str> = entries.iter().map(|e| e.stem.as_str()).collect();
        assert_eq!(
            stems,
            [
                "construction_norms_vs_context_len",
                "bounds_at_construction_norms_vs_context_len",
                "predicted_samples_vs_sparsity"
            ]
        );
        for e in &entries {
            for ext in ["svg", "png", "csv", "tex"] {
                assert!(dir.path().join(format!("{}.{ext}", e.stem)).is_file());
            }
            assert!(e.command.contains("experiment constructions"));
        }
        // Smoke grid: log_grid(8, 1000, 1) = 8, 40, 200, 1000 (3 steps of 10^(log10(125)/3)).
        let theta = csv_series(dir.path(), &entries[0].stem, "||Theta||_F");
        let ts: Vec<f64> = theta.iter().map(|p| p.0).collect();
        assert_eq!(ts, [8.0, 40.0, 200.0, 1000.0]);
        // R = ln((T-s+1)(1-eta0)/(s eta0)) increases strictly with T.
        assert!(theta.windows(2).all(|w| w[1].1 > w[0].1), "{theta:?}");
        // The value-side norms do not depend on T by more than a few percent.
        let wv = csv_series(dir.path(), &entries[0].stem, "||W_V||_2 (");
        assert!(
            wv.iter().all(|p| (p.1 / wv[0].1 - 1.0).abs() < 0.05),
            "{wv:?}"
        );
        // Every T: the information-theoretic lower bound is below the explicit bound's m.
        let ex = csv_series(dir.path(), &entries[1].stem, "explicit");
        let lower = csv_series(dir.path(), &entries[1].stem, "VC dimension");
        assert_eq!(ex.len(), ts.len());
        assert_eq!(lower.len(), ts.len());
        for (e, l) in ex.iter().zip(&lower) {
            assert_eq!(e.0, l.0);
            assert!(
                l.1 > 0.0 && l.1 < e.1,
                "T = {}: lower {} explicit {}",
                e.0,
                l.1,
                e.1
            );
        }
        // Sparsity figure: AND's explicit prediction grows with s (norms grow with s).
        let and = csv_series(dir.path(), &entries[2].stem, "AND; explicit");
        assert_eq!(and.len(), 3);
        assert!(and.windows(2).all(|w| w[1].1 > w[0].1), "{and:?}");
    }
}
