//! Sparse parity from i.i.d. samples (docs/experiments.md §6): loss curves when every step sees fresh samples
//! and when every step reuses one fixed sample.
//!
//! s-sparse parity is statistically easy (O(s log T) samples suffice) but gradient methods see
//! almost no signal until they align with the hidden set, so the loss sits near ln 2 for a long
//! plateau and then drops abruptly. Each trial trains the one-block `[CLS]` Transformer with the
//! shared trainer ([`crate::train::train_loop`]: Adam on the logistic loss, exactly `steps`
//! steps, [`StopRule::MaxSteps`]): regime `fresh` draws a new batch of `batch_size` every step
//! ([`Batches::Fresh`]: online training, infinite data), regime `fixed` draws one sample of
//! `fixed_samples` examples once and reuses it every step (full batch on a finite sample). The per-step training loss is
//! stored subsampled to [`CURVE_POINTS`] points as metrics `loss_000`.. (mean over each window),
//! the population error at the end as `population_error`, and the first step whose windowed
//! loss is below half of ln 2 as `drop_step` (steps + 1 if never).

use crate::config::{CellConfig, ModelKind, StopRule, TaskName, TrainConfig};
use crate::error::Result;
use crate::experiments::{
    Cell, Gallery, GalleryEntry, Preset, SweepOptions, experiment_command, run_sweep,
    write_gallery_figure,
};
use crate::figure::{Figure, FigureSize, Series};
use crate::metrics::{Indexed, Metric, Metrics};
use crate::results::ResultsDb;
use crate::tasks::Task;
use crate::train::{Batches, init_model, population_of};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt::Write as _;
use std::path::Path;

/// Points stored per loss curve.
pub const CURVE_POINTS: usize = 100;
/// Experiment name stored with every trial.
pub const EXPERIMENT: &str = "sparse-parity";

/// The two data regimes; a cell tells them apart by `num_samples` (see [`ParityPlan::cell`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    Fresh,
    Fixed,
}

impl Regime {
    pub fn name(self) -> &'static str {
        match self {
            Regime::Fresh => "fresh samples every step",
            Regime::Fixed => "one fixed sample",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParityPlan {
    pub context_len: usize,
    pub sparsity: usize,
    pub train: TrainConfig,
    pub trials: usize,
    pub seed: u64,
    /// Size of the one fixed sample of regime `Fixed` (trained on full-batch).
    pub fixed_samples: usize,
}

impl ParityPlan {
    pub fn preset(preset: Preset) -> ParityPlan {
        let (context_len, steps, trials, width, fixed_samples) = match preset {
            Preset::Smoke => (8, 200, 2, 8, 16),
            Preset::Default => (12, 4000, 3, 32, 512),
            Preset::Paper => (30, 30000, 5, 64, 2048),
        };
        ParityPlan {
            context_len,
            sparsity: 3,
            train: TrainConfig {
                steps,
                learning_rate: 0.01,
                batch_size: 64,
                width,
                value_dim: width / 4,
                heads: 4,
                mlp_width: 2 * width,
                population_samples: 4000,
                stop: StopRule::MaxSteps,
                ..TrainConfig::default()
            },
            trials,
            seed: 56,
            fixed_samples,
        }
    }

    /// The cell of a regime: `num_samples` is the fixed sample's size for `Fixed` (trained
    /// full batch: `batch_size = fixed_samples`) and, for `Fresh`, the number of examples seen
    /// (`steps * batch_size`, drawn batch by batch; no sample of that size is ever drawn).
    pub fn cell(&self, regime: Regime) -> CellConfig {
        let b = self.train.batch_size;
        let train = match regime {
            Regime::Fresh => self.train.clone(),
            Regime::Fixed => TrainConfig {
                batch_size: self.fixed_samples,
                ..self.train.clone()
            },
        };
        CellConfig {
            task: TaskName::Parity,
            truth_table: None,
            sparsity: self.sparsity,
            context_len: self.context_len,
            num_samples: match regime {
                Regime::Fresh => self.train.steps * b,
                Regime::Fixed => self.fixed_samples,
            },
            model: ModelKind::Transformer,
            train,
            seed: self.seed,
        }
    }
}

/// One trial: train under `regime`, return the subsampled loss curve and final errors. From
/// one ChaCha8 stream, in order: the hidden set, the initial weights, the training sample
/// (`Fixed`) or every fresh batch (`Fresh`), and the population sample.
pub fn run_trial(cell: &CellConfig, regime: Regime, seed: u64) -> Result<Metrics> {
    cell.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let task = Task::new(cell.task_kind()?, cell.context_len, cell.sparsity, &mut rng)?;
    let mut model = init_model(cell, &mut rng)?;
    let steps = cell.train.steps;
    let fixed;
    let batches = match regime {
        Regime::Fixed => {
            fixed = task.sample(cell.num_samples, &mut rng)?;
            // Full batch: the order generator is never drawn from, so a copy of the stream serves.
            Batches::Sample {
                data: &fixed,
                order_rng: rng.clone(),
            }
        }
        Regime::Fresh => Batches::Fresh {
            task: &task,
            rng: &mut rng,
        },
    };
    let run = model.train(batches, &cell.train)?;
    let curve = subsample(&run.step_losses, CURVE_POINTS);
    let half = 0.5 * std::f64::consts::LN_2;
    let window = steps.div_ceil(CURVE_POINTS.min(steps));
    let drop = curve
        .iter()
        .position(|&l| l < half)
        .map_or(steps + 1, |i| i * window);
    let pop = population_of(&model, &task, cell.train.population_samples, &mut rng)?;
    let mut m = Metrics::new();
    for (i, l) in curve.iter().enumerate() {
        m.insert(Indexed::LossWindow.key(i), *l);
    }
    Metric::DropStep.put(&mut m, drop as f64);
    Metric::PopulationError.put(&mut m, pop.estimate);
    Ok(m)
}

/// Means over `points` consecutive windows of equal length (the last may be shorter).
pub fn subsample(xs: &[f64], points: usize) -> Vec<f64> {
    if xs.is_empty() || points == 0 {
        return Vec::new();
    }
    let w = xs.len().div_ceil(points.min(xs.len()));
    xs.chunks(w)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// One trial's loss curve (window means), the step of the drop and the population error.
pub type TrialCurve = (Vec<f64>, f64, f64);

/// Curves of every trial of both regimes.
#[derive(Debug, Clone, PartialEq)]
pub struct ParityReport {
    pub plan: ParityPlan,
    /// (regime, per-trial (curve, drop_step, population_error)).
    pub runs: Vec<(Regime, Vec<TrialCurve>)>,
}

/// Runs the missing trials of both regimes (those of the store's shard); returns how many ran.
pub fn sweep(plan: &ParityPlan, db: &mut ResultsDb, quiet: bool) -> Result<usize> {
    plan.train.validate()?;
    let mut completed = 0;
    for regime in [Regime::Fresh, Regime::Fixed] {
        let cell = Cell::new(plan.cell(regime))?;
        let mut opts = SweepOptions::new(EXPERIMENT, plan.trials, plan.seed);
        opts.quiet = quiet;
        let summary = run_sweep(db, std::slice::from_ref(&cell), &opts, |c, _, seed| {
            run_trial(&c.config, regime, seed)
        })?;
        if let Some(f) = summary.failed.first() {
            return Err(f.error.clone());
        }
        completed += summary.completed;
    }
    Ok(completed)
}

/// Runs (or replays from `db`) both regimes.
pub fn run(plan: &ParityPlan, db: &mut ResultsDb, quiet: bool) -> Result<ParityReport> {
    sweep(plan, db, quiet)?;
    let mut runs = Vec::new();
    for regime in [Regime::Fresh, Regime::Fixed] {
        let cell = Cell::new(plan.cell(regime))?;
        let mut trials = Vec::new();
        for t in 0..plan.trials {
            if let Some(rec) = db.get(&cell.hash, t)? {
                let m = &rec.metrics;
                trials.push((
                    Indexed::LossWindow.values(m),
                    Metric::DropStep.require(m)?,
                    Metric::PopulationError.require(m)?,
                ));
            }
        }
        runs.push((regime, trials));
    }
    Ok(ParityReport {
        plan: plan.clone(),
        runs,
    })
}

impl ParityReport {
    pub fn table(&self) -> String {
        let p = &self.plan;
        let mut out = format!(
            "{}-sparse parity, T = {}, batch {}, {} steps, Adam lr {}; drop step = first step whose \
             windowed loss < ln(2)/2\n",
            p.sparsity, p.context_len, p.train.batch_size, p.train.steps, p.train.learning_rate
        );
        for (regime, trials) in &self.runs {
            for (i, (curve, drop, err)) in trials.iter().enumerate() {
                let first = curve.first().copied().unwrap_or(f64::NAN);
                let last = curve.last().copied().unwrap_or(f64::NAN);
                let drop = if *drop > p.train.steps as f64 {
                    "never".to_string()
                } else {
                    format!("{drop:.0}")
                };
                let _ = writeln!(
                    out,
                    "{:<26} trial {i}: loss {first:.3} -> {last:.3}, drop step {drop:>6}, population error {err:.3}",
                    regime.name()
                );
            }
        }
        out
    }

    pub fn figure(&self) -> Figure {
        let steps = self.plan.train.steps;
        let mut series = Vec::new();
        for (ri, (regime, trials)) in self.runs.iter().enumerate() {
            for (i, (curve, _, _)) in trials.iter().enumerate() {
                let w = steps.div_ceil(curve.len().max(1));
                let x: Vec<f64> = (0..curve.len()).map(|j| ((j * w) + w / 2) as f64).collect();
                let mut s = Series::line(format!("{}; trial {i}", regime.name()), x, curve.clone())
                    .with_color(ri);
                if *regime == Regime::Fixed {
                    s = s.dashed();
                }
                series.push(s);
            }
        }
        Figure {
            title: format!(
                "{}-sparse parity; T = {}",
                self.plan.sparsity, self.plan.context_len
            ),
            x_label: "training step".into(),
            y_label: "training logistic loss (nats)".into(),
            x_log: false,
            y_log: false,
            size: FigureSize::DoubleColumn,
            series,
        }
    }
}

pub fn write_figure(report: &ParityReport, preset: Preset, out: &Path) -> Result<GalleryEntry> {
    let description = "Training loss of a one-block Transformer on 3-sparse parity, fresh samples \
                       every step (solid) vs one fixed sample (dashed): plateaus near ln 2, then \
                       abrupt drops.";
    let command = experiment_command("sparse-parity", preset);
    let stem = "sparse_parity_loss";
    write_gallery_figure(&report.figure(), out, stem, description, command, false)
}

/// Runs (or replays) the preset and writes its figure; for the `figures` main job.
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let report = run(&ParityPlan::preset(preset), db, quiet)?;
    Ok(vec![write_figure(&report, preset, out_dir)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsample_means_windows() {
        // 10 values 0..9 into 4 windows of ceil(10/4) = 3: means 1, 4, 7, 9 (by hand).
        let xs: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(subsample(&xs, 4), vec![1.0, 4.0, 7.0, 9.0]);
        assert_eq!(subsample(&xs, 100).len(), 10);
    }

    /// The shared trainer reproduces the pre-unification parity trainer bit for bit. Expected
    /// values: the first window means (steps 0..40) of trial 0 of each regime of the default
    /// preset in `figures/sparse_parity_loss.csv` as generated at commit 7c2e520 by the old
    /// trainer (`critical::train::adam_step`). Those cells were hashed with `batch_size = 64` in
    /// both regimes and the default stop rule and population size, so their trial seeds are
    /// recomputed from that old config; the old trial drew, in order, the hidden set, the
    /// weights and a sample of `num_samples` (used by `Fixed`, discarded by `Fresh`), then the
    /// fresh batches. The first 40 steps do not depend on the total. Entries: the mean loss of
    /// the 40 steps for Fresh, Fixed, and Fixed through `run_trial`.
    const OLD_CURVE_MEANS: [f64; 3] = [0.6963394892831483, 0.6868508308571524, 0.6868508308571524];

    /// Pinned bit for bit on the per-sample gather kernel (the reference, in whose f32
    /// summation order the old curves were computed).
    #[test]
    fn shared_trainer_reproduces_the_old_parity_curves() {
        let got =
            crate::model::with_mix_kernel(crate::model::MixKernel::Gather, parity_curve_means);
        assert_eq!(got, OLD_CURVE_MEANS);
    }

    /// The training kernel (bit-matrix) on the same 40 steps: its per-step gradients differ from
    /// the reference's by f32 rounding (relative ~1e-6, model::kernel_tests), and Adam, which
    /// divides each gradient entry by its own scale, turns rounding differences of near-zero
    /// entries into step differences of order lr, so the curves are not bounded by rounding
    /// alone. The check is agreement to five significant digits (1e-5 on a loss of ~0.69);
    /// measured (--nocapture, at this commit): 2.4e-10 (Fresh) and 9.5e-7 (Fixed).
    #[test]
    fn bit_kernel_follows_the_old_parity_curves() {
        let got = crate::model::with_mix_kernel(crate::model::MixKernel::Bits, parity_curve_means);
        for (g, want) in got.iter().zip(OLD_CURVE_MEANS) {
            println!("bit kernel: {g} vs {want} (difference {:.1e})", g - want);
            assert!((g - want).abs() < 1e-5, "{g} vs {want}");
        }
    }

    /// The three means of [`OLD_CURVE_MEANS`], recomputed with the seeds and draws described
    /// there.
    fn parity_curve_means() -> [f64; 3] {
        let mut out = [0.0; 3];
        let plan = ParityPlan::preset(Preset::Default);
        let old_train = TrainConfig {
            population_samples: 20_000,
            stop: StopRule::Target,
            ..plan.train.clone()
        };
        for (slot, regime) in [(0, Regime::Fresh), (1, Regime::Fixed)] {
            let old = CellConfig {
                train: old_train.clone(),
                ..plan.cell(regime)
            };
            let (_, hash) = crate::config::canonical_hash(&old).unwrap();
            let seed = crate::experiments::trial_seed(plan.seed, &hash, 0);
            let mut cell = plan.cell(regime);
            cell.train.steps = 40;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let task = Task::new(cell.task_kind().unwrap(), 12, 3, &mut rng).unwrap();
            let mut model = init_model(&cell, &mut rng).unwrap();
            let sample = task.sample(cell.num_samples, &mut rng).unwrap();
            let batches = match regime {
                Regime::Fixed => Batches::Sample {
                    data: &sample,
                    order_rng: rng.clone(),
                },
                Regime::Fresh => Batches::Fresh {
                    task: &task,
                    rng: &mut rng,
                },
            };
            let losses = model.train(batches, &cell.train).unwrap().step_losses;
            assert_eq!(losses.len(), 40);
            out[slot] = losses.iter().sum::<f64>() / 40.0;
        }
        // run_trial draws the same way for Fixed, so its curve starts the same.
        let old = CellConfig {
            train: old_train,
            ..plan.cell(Regime::Fixed)
        };
        let seed = crate::experiments::trial_seed(plan.seed, &Cell::new(old).unwrap().hash, 0);
        let mut cell = plan.cell(Regime::Fixed);
        cell.train.steps = 40;
        let curve = Indexed::LossWindow.values(&run_trial(&cell, Regime::Fixed, seed).unwrap());
        out[2] = curve.iter().sum::<f64>() / 40.0;
        out
    }

    #[test]
    fn fixed_sample_is_memorised() {
        // With 200 full-batch steps on 16 examples the training loss must fall well below ln 2
        // (a 1-block Transformer can memorise 16 distinct sequences of length 8).
        let plan = ParityPlan::preset(Preset::Smoke);
        let m = run_trial(&plan.cell(Regime::Fixed), Regime::Fixed, 3).unwrap();
        let first = m[&Indexed::LossWindow.key(0)];
        let last = m[&Indexed::LossWindow.key(CURVE_POINTS - 1)];
        assert!((first - std::f64::consts::LN_2).abs() < 0.3, "{first}");
        assert!(last < 0.2, "{first} -> {last}");
    }
}
