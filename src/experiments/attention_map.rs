//! \[CLS\] attention over positions (docs/experiments.md §7): which variables a trained model "created".
//!
//! One hidden set S of an s-sparse AND is drawn from the plan's seed and shared by both models:
//! the theory's \[CLS\] head on the fixed embedding (docs/experiments.md §1) and the one-block \[CLS\] Transformer
//! (docs/experiments.md §2), each trained by the shared trainer ([`crate::train::train_loop`]). For every trial
//! the \[CLS\] attention row (positions 0..T-1, then \[CLS\] itself) is averaged over a fresh test
//! sample drawn before training, at initialization and after training; the Transformer's rows
//! are also averaged over its heads. Each trial stores `attn_init_NNN` and `attn_NNN`
//! (NNN = 000..T, the last being \[CLS\]'s attention to itself), the attention mass on S before
//! and after (`mass_s_init`, `mass_s`), the hidden positions (`hidden_0`..), and the errors.
//! Trials run through [`run_sweep`], so a warm rerun replays the store without training.
//!
//! Never selects anything on the test sample: the attention sample and the population sample
//! are only measured.

use crate::config::{CellConfig, ModelKind, TaskName, TrainConfig};
use crate::error::{Error, Result, check};
use crate::experiments::{
    Cell, Gallery, GalleryEntry, Preset, SweepOptions, SweepSummary, experiment_command, run_sweep,
    write_gallery_figure,
};
use crate::figure::{Figure, FigureSize, Series};
use crate::metrics::{Indexed, Metric};
use crate::model::TokenBatch;
use crate::results::{Metrics, ResultsDb};
use crate::tasks::Task;
use crate::train::{Batches, TrainedModel, init_model, population_of};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Experiment name stored with every trial.
pub const EXPERIMENT: &str = "attention-map";
/// File stem of the figure.
pub const STEM: &str = "cls_attention_over_positions";

/// The stored cell of one model: the training cell, the seed of the shared hidden set and the
/// size of the fresh sample the attention is averaged over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttentionCell {
    pub cell: CellConfig,
    /// Seeds the draw of the hidden set S (the same for every model and trial).
    pub task_seed: u64,
    pub attention_samples: usize,
}

/// One model of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPlan {
    pub name: &'static str,
    pub model: ModelKind,
    pub num_samples: usize,
    pub train: TrainConfig,
}

/// Everything that determines the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionPlan {
    pub sparsity: usize,
    pub context_len: usize,
    pub models: Vec<ModelPlan>,
    /// Trials per model (fresh sample and initialization each; S is shared); profiles are
    /// averaged over trials.
    pub trials: usize,
    pub seed: u64,
    pub attention_samples: usize,
}

/// Full-batch training, stop rules checked every 10 steps, 5000 fresh population samples.
fn full_batch(num_samples: usize, steps: usize, learning_rate: f64) -> TrainConfig {
    TrainConfig {
        steps,
        learning_rate,
        batch_size: num_samples,
        eval_every: 10,
        population_samples: 5000,
        ..TrainConfig::default()
    }
}

fn head_plan(num_samples: usize, steps: usize) -> ModelPlan {
    ModelPlan {
        name: "[CLS] head (theory)",
        model: ModelKind::ClsHead,
        num_samples,
        train: TrainConfig {
            value_dim: 4,
            ..full_batch(num_samples, steps, 0.02)
        },
    }
}

fn transformer_plan(num_samples: usize, steps: usize, width: usize, heads: usize) -> ModelPlan {
    ModelPlan {
        name: "1-block Transformer",
        model: ModelKind::Transformer,
        num_samples,
        train: TrainConfig {
            width,
            value_dim: width / heads,
            heads,
            mlp_width: 2 * width,
            ..full_batch(num_samples, steps, 0.01)
        },
    }
}

impl AttentionPlan {
    /// Smoke: T = 12 (exact population errors), seconds. Default: T = 64, < 30 s cold on 2
    /// cores. Paper: T = 256 with more trials.
    pub fn preset(preset: Preset) -> AttentionPlan {
        match preset {
            Preset::Smoke => AttentionPlan {
                sparsity: 3,
                context_len: 12,
                models: vec![head_plan(256, 300), transformer_plan(256, 300, 8, 2)],
                trials: 2,
                seed: 7,
                attention_samples: 500,
            },
            Preset::Default => AttentionPlan {
                sparsity: 3,
                context_len: 64,
                models: vec![head_plan(1024, 600), transformer_plan(512, 600, 16, 2)],
                trials: 4,
                seed: 2022,
                attention_samples: 1000,
            },
            Preset::Paper => AttentionPlan {
                sparsity: 3,
                context_len: 256,
                models: vec![head_plan(4096, 1500), transformer_plan(2048, 1500, 32, 4)],
                trials: 8,
                seed: 2022,
                attention_samples: 4000,
            },
        }
    }

    pub fn validate(&self) -> Result<()> {
        check::at_least("sparsity", self.sparsity, 1)?;
        check::at_least("context_len", self.context_len, self.sparsity)?;
        check::at_least("trials", self.trials, 1)?;
        check::at_least("attention_samples", self.attention_samples, 1)?;
        if self.models.is_empty() {
            return Err(Error::invalid("models", "[]", "a non-empty list"));
        }
        self.cells().iter().try_for_each(|c| c.cell.validate())
    }

    /// The stored cells, one per model, in plan order.
    pub fn cells(&self) -> Vec<AttentionCell> {
        (self.models.iter())
            .map(|m| AttentionCell {
                cell: CellConfig {
                    task: TaskName::And,
                    truth_table: None,
                    sparsity: self.sparsity,
                    context_len: self.context_len,
                    num_samples: m.num_samples,
                    model: m.model,
                    train: m.train.clone(),
                    seed: self.seed,
                },
                task_seed: self.seed,
                attention_samples: self.attention_samples,
            })
            .collect()
    }

    /// The shared hidden task (its support is S).
    pub fn task(&self) -> Result<Task> {
        shared_task(&self.cells()[0])
    }
}

fn shared_task(c: &AttentionCell) -> Result<Task> {
    let mut rng = ChaCha8Rng::seed_from_u64(c.task_seed);
    Task::new(
        c.cell.task_kind()?,
        c.cell.context_len,
        c.cell.sparsity,
        &mut rng,
    )
}

/// Mean \[CLS\] attention row (positions 0..T-1, then \[CLS\] itself) over the sequences of
/// `batch`; for a Transformer also averaged over the heads of its one block.
pub fn mean_attention(model: &TrainedModel, batch: &TokenBatch) -> Result<Vec<f64>> {
    let n = batch.num_samples();
    check::at_least("attention samples", n, 1)?;
    let t1 = batch.context_len + 1;
    let mut acc = vec![0.0f64; t1];
    let mut add = |row: &[f32], w: f64| {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += w * f64::from(v);
        }
    };
    match model {
        TrainedModel::ClsHead(m) => {
            let cache = m.head.forward_tokens(&m.embedding, batch)?;
            (0..n).for_each(|i| add(cache.attention(i), 1.0 / n as f64));
        }
        TrainedModel::Transformer(tf) => {
            let heads = tf.blocks.first().map_or(0, |b| b.heads.len());
            check::at_least("heads", heads, 1)?;
            let cache = tf.forward_cls(batch)?;
            let w = 1.0 / (n * heads) as f64;
            for h in 0..heads {
                (0..n).for_each(|i| add(cache.attention(h, i), w));
            }
        }
        TrainedModel::Protocol(_) => {
            return Err(crate::error::Error::invalid(
                "model",
                "paper_protocol",
                "cls_head or transformer (the attention-map figure)",
            ));
        }
    }
    check::all_finite("mean [CLS] attention", &acc)?;
    Ok(acc)
}

/// One trial: S from `task_seed`; from `seed`, in order, the training sample, the initial
/// weights, the minibatch order and the attention sample; train with [`crate::train::train_loop`]; measure.
pub fn run_trial(c: &AttentionCell, seed: u64) -> Result<Metrics> {
    c.cell.validate()?;
    let task = shared_task(c)?;
    let tc = &c.cell.train;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = task.sample(c.cell.num_samples, &mut rng)?;
    let mut model = init_model(&c.cell, &mut rng)?;
    let order_rng = ChaCha8Rng::seed_from_u64(rng.random::<u64>());
    let probe = task.sample(c.attention_samples, &mut rng)?;
    let probe = TokenBatch::new(probe.context_len(), probe.bits().to_vec())?;
    let init = mean_attention(&model, &probe)?;
    let batches = Batches::Sample {
        data: &data,
        order_rng,
    };
    let run = model.train(batches, tc)?;
    let trained = mean_attention(&model, &probe)?;
    let batch = TokenBatch::new(data.context_len(), data.bits().to_vec())?;
    let preds = model.predict(&batch)?;
    let wrong = (preds.iter().zip(data.labels()))
        .filter(|&(&f, &y)| f * f32::from(y) <= 0.0)
        .count();
    let pop = population_of(&model, &task, tc.population_samples, &mut rng)?;

    let mut m = Metrics::new();
    for (t, (&a, &b)) in init.iter().zip(&trained).enumerate() {
        m.insert(Indexed::AttnInit.key(t), a);
        m.insert(Indexed::Attn.key(t), b);
    }
    for (j, &t) in task.support().iter().enumerate() {
        m.insert(Indexed::Hidden.key(j), t as f64);
    }
    let mass = |p: &[f64]| task.support().iter().map(|&t| p[t]).sum::<f64>();
    for (k, v) in [
        (Metric::MassSInit, mass(&init)),
        (Metric::MassS, mass(&trained)),
        (Metric::PopulationError, pop.estimate),
        (Metric::PopulationLower, pop.lower),
        (Metric::PopulationUpper, pop.upper),
        (Metric::PopulationExact, f64::from(u8::from(pop.exact))),
        (Metric::TrainError, wrong as f64 / data.len() as f64),
        (Metric::Steps, run.steps as f64),
        (Metric::StopReason, run.stop.code()),
    ] {
        k.put(&mut m, v);
    }
    Ok(m)
}

/// One model's profiles, averaged over its trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub model: ModelKind,
    /// Mean \[CLS\] attention at initialization: T + 1 entries (positions, then \[CLS\]).
    pub init: Vec<f64>,
    /// The same after training.
    pub trained: Vec<f64>,
    pub mass_s_init: f64,
    pub mass_s: f64,
    /// Mean over trials.
    pub population_error: f64,
    pub train_error: f64,
    pub trials: usize,
}

/// The experiment's result.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionReport {
    pub plan: AttentionPlan,
    /// The hidden set S (sorted positions).
    pub hidden: Vec<usize>,
    pub profiles: Vec<Profile>,
    pub wall_s: f64,
    /// Trials trained (not replayed) by this call.
    pub trained: usize,
}

fn indexed(rec: &crate::results::TrialRecord, family: Indexed, i: usize) -> Result<f64> {
    let name = family.key(i);
    (rec.metrics.get(&name).copied())
        .ok_or_else(|| Error::invalid("stored metrics", name, "a metric stored by the trial"))
}

/// Runs the missing trials of the plan (those of the store's shard).
pub fn sweep(plan: &AttentionPlan, db: &mut ResultsDb, quiet: bool) -> Result<SweepSummary> {
    plan.validate()?;
    let cells = (plan.cells().into_iter())
        .map(Cell::new)
        .collect::<Result<Vec<_>>>()?;
    let mut opts = SweepOptions::new(EXPERIMENT, plan.trials, plan.seed);
    opts.quiet = quiet;
    let summary = run_sweep(db, &cells, &opts, |c, _, seed| run_trial(&c.config, seed))?;
    if let Some(f) = summary.failed.first() {
        return Err(f.error.clone());
    }
    Ok(summary)
}

/// Runs (or replays from `db`) every trial of the plan and averages the profiles.
pub fn run(plan: &AttentionPlan, db: &mut ResultsDb, quiet: bool) -> Result<AttentionReport> {
    let clock = Instant::now();
    let summary = sweep(plan, db, quiet)?;
    let cells = (plan.cells().into_iter())
        .map(Cell::new)
        .collect::<Result<Vec<_>>>()?;
    let t1 = plan.context_len + 1;
    let mut profiles = Vec::new();
    for (mp, cell) in plan.models.iter().zip(&cells) {
        let mut p = Profile {
            name: mp.name.to_string(),
            model: mp.model,
            init: vec![0.0; t1],
            trained: vec![0.0; t1],
            mass_s_init: 0.0,
            mass_s: 0.0,
            population_error: 0.0,
            train_error: 0.0,
            trials: plan.trials,
        };
        let w = 1.0 / plan.trials as f64;
        for trial in 0..plan.trials {
            let rec = db.get(&cell.hash, trial)?.ok_or_else(|| {
                Error::io(
                    db.path(),
                    format!("trial {trial} of cell {} missing", cell.hash),
                )
            })?;
            for t in 0..t1 {
                p.init[t] += w * indexed(&rec, Indexed::AttnInit, t)?;
                p.trained[t] += w * indexed(&rec, Indexed::Attn, t)?;
            }
            p.mass_s_init += w * Metric::MassSInit.require(&rec.metrics)?;
            p.mass_s += w * Metric::MassS.require(&rec.metrics)?;
            p.population_error += w * Metric::PopulationError.require(&rec.metrics)?;
            p.train_error += w * Metric::TrainError.require(&rec.metrics)?;
        }
        if !quiet {
            eprintln!(
                "{}: attention mass on S {:.3} at init, {:.3} trained; test error {:.4}",
                p.name, p.mass_s_init, p.mass_s, p.population_error
            );
        }
        profiles.push(p);
    }
    Ok(AttentionReport {
        hidden: plan.task()?.support().to_vec(),
        plan: plan.clone(),
        profiles,
        wall_s: clock.elapsed().as_secs_f64(),
        trained: summary.completed,
    })
}

impl AttentionReport {
    /// A plain-text table: one row per model.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{}-sparse AND, T = {}, hidden set S = {:?}; uniform attention 1/(T+1) = {:.4}\n\
             model                          m      mass on S (init)  mass on S (trained)  train err  test err\n",
            self.plan.sparsity,
            self.plan.context_len,
            self.hidden,
            1.0 / (self.plan.context_len + 1) as f64
        );
        for (p, mp) in self.profiles.iter().zip(&self.plan.models) {
            s.push_str(&format!(
                "{:<30} {:>6} {:>17.4} {:>20.4} {:>10.4} {:>9.4}\n",
                p.name, mp.num_samples, p.mass_s_init, p.mass_s, p.train_error, p.population_error
            ));
        }
        s
    }

    /// The figure: mean \[CLS\] attention against position.
    pub fn figure(&self) -> Figure {
        let t = self.plan.context_len;
        let xs: Vec<f64> = (0..t).map(|i| i as f64).collect();
        let mut series = Vec::new();
        for (i, p) in self.profiles.iter().enumerate() {
            series.push(
                Series::line(
                    format!("{} trained", p.name),
                    xs.clone(),
                    p.trained[..t].to_vec(),
                )
                .with_color(i),
            );
        }
        for (i, p) in self.profiles.iter().enumerate() {
            series.push(
                Series::line(
                    format!("{} at initialization", p.name),
                    xs.clone(),
                    p.init[..t].to_vec(),
                )
                .dashed()
                .with_color(i),
            );
        }
        let top = |pos: usize| {
            (self.profiles.iter())
                .map(|p| p.trained[pos])
                .fold(0.0, f64::max)
        };
        series.push(
            Series::points(
                "hidden set S",
                self.hidden.iter().map(|&h| h as f64).collect(),
                self.hidden.iter().map(|&h| top(h)).collect(),
            )
            .with_color(2),
        );
        let u = 1.0 / (t + 1) as f64;
        series.push(
            Series::line(
                "uniform attention 1/(T+1)",
                vec![0.0, (t - 1) as f64],
                vec![u, u],
            )
            .dashed()
            .with_color(6),
        );
        let per_model: Vec<String> = (self.profiles.iter().zip(&self.plan.models))
            .map(|(p, mp)| {
                format!(
                    "{}: m = {}; test error {:.3}",
                    p.name, mp.num_samples, p.population_error
                )
            })
            .collect();
        Figure {
            title: format!(
                "[CLS] attention over positions; {}-sparse AND; T = {t}; s = {}; {}",
                self.plan.sparsity,
                self.plan.sparsity,
                per_model.join("; ")
            ),
            x_label: "position t".into(),
            y_label: "mean [CLS] attention weight a_t".into(),
            x_log: false,
            y_log: false,
            size: FigureSize::DoubleColumn,
            series,
        }
    }
}

/// Writes the figure as [`STEM`]`.*` and returns its gallery entry.
pub fn write_figure(report: &AttentionReport, preset: Preset, out: &Path) -> Result<GalleryEntry> {
    let description = "Mean [CLS] attention weight on each position for 3-sparse AND, before \
                       (dashed) and after training, for the theory's head and a 1-block \
                       Transformer; the hidden set S is marked, uniform attention 1/(T+1) for \
                       reference.";
    let command = experiment_command("attention-map", preset);
    write_gallery_figure(&report.figure(), out, STEM, description, command, false)
}

/// Runs (or replays from `db`) the preset and writes its figure; for the `figures` main job.
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let report = run(&AttentionPlan::preset(preset), db, quiet)?;
    Ok(vec![write_figure(&report, preset, out_dir)?])
}

#[cfg(test)]
mod tests;
