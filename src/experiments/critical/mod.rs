//! The paper's experiment (docs/experiments.md §3): critical sample size of 3-sparse AND against T.
//!
//! A trial succeeds when its population accuracy (point estimate by
//! [`crate::train::population_of`]: exact for T <= 20, else [`POPULATION_SAMPLES`] fresh samples)
//! is at least 99%. One trial is [`crate::train::train_cell`]: full-batch Adam on the logistic
//! loss for a **fixed budget** of `train.steps` steps ([`StopRule::MaxSteps`]) in every series
//! of every preset; the first-fit stop of earlier versions is kept only as the ablation
//! ([`Ablation`], [`run_ablation`]).
//!
//! For every context length T and model series (a series with its own [`Probing`] at its
//! subset of the plan's T, with its own trial count) the **critical m** is where the success rate
//! crosses 1/2, read from a logistic fit of the success counts in ln m
//! ([`crate::stats::logistic::level_crossing`]: MLE, profile-likelihood 95% interval,
//! separation reported as a status, never NaN). The probed m come from [`probe_schedule`]:
//! doubling from `m0` until the rate reaches 1/2 (halving down when `m0` already does), then
//! `inner_points` geometric points inside the final factor-2 bracket, and optionally one probe
//! above it. Each probed (T, m) cell runs its trials through [`crate::experiments::run_sweep`],
//! so results are stored and resumable; the schedule is a deterministic function of stored
//! outcomes, so a rerun replays the same probes without training. Fits of the critical m
//! against T live in [`crate::stats::growth`]; tables and figures in [`report`].
//!
//! Never selects anything on the test sample: training and stopping see the training sample
//! alone.

pub mod report;

use crate::config::{
    CellConfig, ModelKind, OptimizerName, RadiusRule, StopRule, TaskName, TrainConfig,
};
use crate::error::{Error, Result, check};
use crate::experiments::{Cell, Preset, SweepOptions, run_sweep};
use crate::metrics::{Metric, Metrics};
use crate::model::Activation;
use crate::results::ResultsDb;
use crate::stats::logistic::{BinomialPoint, Crossing, level_crossing};
use std::time::Instant;

pub use report::{
    AblationReport, CriticalReport, SeriesReport, TRow, figures, run, write_ablation_figure,
    write_extended_figure, write_figure,
};

/// Accuracy a trial must reach to count as a success.
pub const SUCCESS_ACCURACY: f64 = 0.99;
/// Success rate at which a sample size counts as sufficient (the level of the logistic crossing).
pub const SUCCESS_RATE: f64 = 0.5;
/// Confidence of the profile-likelihood intervals of the critical m.
pub const CONFIDENCE: f64 = 0.95;
/// Experiment name stored with every trial.
pub const EXPERIMENT: &str = "critical-sample-size";
/// Fresh test sample size of the population error for T > 20 (`train.population_samples`).
pub const POPULATION_SAMPLES: usize = 2000;
/// The paper-protocol series (docs/experiments.md §8) in the paper and extended presets, at its
/// own probing ([`protocol_probing`]).
pub const INCLUDE_PROTOCOL_SERIES: bool = true;
/// Trials per probe of the paper-protocol series in the paper and extended presets.
pub const PROTOCOL_TRIALS: usize = 10;
/// Largest m probed for the paper-protocol series (censored above it).
pub const PROTOCOL_M_MAX: usize = 1024;

/// One model series of the experiment. `train.batch_size` is replaced by m in every probed
/// cell (full batch, see [`CriticalPlan::cell`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSeries {
    pub name: &'static str,
    pub model: ModelKind,
    pub train: TrainConfig,
    /// The series' own probing; `None`: the plan's ([`CriticalPlan::probing_of`]).
    pub probing: Option<Probing>,
}

impl ModelSeries {
    /// The series probed by `probing` instead of the plan's.
    pub fn with_probing(self, probing: Probing) -> ModelSeries {
        ModelSeries {
            probing: Some(probing),
            ..self
        }
    }
}

/// Where and how hard one series is probed: at which context lengths, with how many trials per
/// probe, and the probe schedule's cap and extra points ([`probe_schedule`]). A costly series
/// (the paper protocol) is measured at a subset of the plan's T with fewer trials; the stored
/// cells do not depend on any of this (trials are indexed inside a cell), so the cells of the
/// other series keep their hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct Probing {
    /// A non-empty subset of the plan's `context_lens`, in the plan's order.
    pub context_lens: Vec<usize>,
    pub trials: usize,
    pub m_max: usize,
    pub inner_points: usize,
    pub probe_above: bool,
}

/// Full-batch Adam on the logistic loss for exactly `steps` steps, population error by the
/// shared rule.
pub fn fixed_budget(steps: usize, learning_rate: f64) -> TrainConfig {
    TrainConfig {
        steps,
        learning_rate,
        population_samples: POPULATION_SAMPLES,
        stop: StopRule::MaxSteps,
        ..TrainConfig::default()
    }
}

/// The first-fit variant of a series' training (stops at the first step whose training error is
/// 0, checked every step, at most `train.steps`): the ablation's comparison arm.
pub fn first_fit_of(train: &TrainConfig) -> TrainConfig {
    TrainConfig {
        stop: StopRule::FirstFit,
        eval_every: 1,
        ..train.clone()
    }
}

/// The 1-block Transformer series (width d, H heads of width d / H, MLP 2d).
pub fn transformer(steps: usize, width: usize, heads: usize) -> ModelSeries {
    ModelSeries {
        name: "1-block Transformer",
        model: ModelKind::Transformer,
        train: TrainConfig {
            width,
            value_dim: width / heads,
            heads,
            mlp_width: 2 * width,
            ..fixed_budget(steps, 0.01)
        },
        probing: None,
    }
}

/// Learning rate of the theory head's Adam.
pub const THEORY_HEAD_LEARNING_RATE: f64 = 0.02;
/// Value dimension k of the theory head.
pub const THEORY_HEAD_VALUE_DIM: usize = 4;
/// The norm ball's radii, fixed before training: this multiple of the explicit one-hot head's
/// norms at the cell's T (`train.radius_rule = "construction:8"`, docs/experiments.md §2,
/// "Radius rule"). Chosen on separate runs at T = 100, 300, 1000 (c = 1, 2, 4 fail at some of
/// them; the trained ||Theta||_F sits on the radius from T = 300 up).
pub const THEORY_HEAD_RADIUS_MULTIPLE: f64 = 8.0;

/// The bounded-norm \[CLS\] head on the fixed one-hot embedding (d = T + 3, so `width` and
/// `mlp_width` are not read): tanh (ReLU with k = 4 failed at every radius tried), kept in the
/// ball of [`THEORY_HEAD_RADIUS_MULTIPLE`] after every step.
pub fn theory_head(steps: usize) -> ModelSeries {
    ModelSeries {
        name: "bounded-norm head (theory)",
        model: ModelKind::ClsHead,
        train: TrainConfig {
            value_dim: THEORY_HEAD_VALUE_DIM,
            head_activation: Activation::Tanh,
            radius_rule: RadiusRule::Construction {
                multiple: THEORY_HEAD_RADIUS_MULTIPLE,
            },
            ..fixed_budget(steps, THEORY_HEAD_LEARNING_RATE)
        },
        probing: None,
    }
}

/// The paper-protocol series (docs/experiments.md §8): pre-LN block, d = 64, 16 heads, MLP 64,
/// dropout 0.1, weight decay 1e-4, Adam lr 1e-3, 1000 full-batch steps.
pub fn paper_protocol() -> ModelSeries {
    ModelSeries {
        name: "paper protocol (pre-LN, d = 64, 16 heads)",
        model: ModelKind::PaperProtocol,
        train: TrainConfig {
            width: 64,
            heads: 16,
            value_dim: 4,
            mlp_width: 64,
            dropout: 0.1,
            weight_decay: 1e-4,
            optimizer: OptimizerName::Adam,
            ..fixed_budget(1000, 1e-3)
        },
        probing: None,
    }
}

/// The paper-protocol series' probing: [`PROTOCOL_TRIALS`] trials per probe up to
/// [`PROTOCOL_M_MAX`], one inner point per bracket and no probe above it, at `context_lens`:
/// what fits the paper preset's time budget at the measured per-trial cost
/// (docs/experiments.md §3).
pub fn protocol_probing(context_lens: Vec<usize>) -> Probing {
    Probing {
        context_lens,
        trials: PROTOCOL_TRIALS,
        m_max: PROTOCOL_M_MAX,
        inner_points: 1,
        probe_above: false,
    }
}

/// The stop-rule ablation: success rate against m at one T for the first series, with the
/// series' fixed budget and with the first-fit stop, on the same trial seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Ablation {
    pub context_len: usize,
    pub sample_sizes: Vec<usize>,
    pub trials: usize,
}

/// Everything that determines the experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPlan {
    pub sparsity: usize,
    pub context_lens: Vec<usize>,
    pub series: Vec<ModelSeries>,
    /// First m probed.
    pub m0: usize,
    /// Give up (censored: "> m_max") beyond this m.
    pub m_max: usize,
    pub trials: usize,
    pub seed: u64,
    /// Geometric probes strictly inside the final factor-2 bracket.
    pub inner_points: usize,
    /// Also probe 2 hi (the upper end of the bracket doubled) when it is <= `m_max`.
    pub probe_above: bool,
    /// Once a series is censored (no success up to `m_max`) at some T, do not probe its larger
    /// T: they are listed as not probed, never reported as measured.
    pub stop_after_censored: bool,
    pub ablation: Option<Ablation>,
}

fn log_ts(lo: f64, hi: f64, n: usize) -> Vec<usize> {
    // A fixed list written out by the presets would do as well; a log grid keeps them even.
    let mut v: Vec<usize> = (0..n)
        .map(|i| (lo * (hi / lo).powf(i as f64 / (n - 1).max(1) as f64)).round() as usize)
        .collect();
    v.dedup();
    v
}

impl CriticalPlan {
    /// The presets (docs/experiments.md §3 gives their wall times): smoke (seconds), default
    /// (the main job: a few minutes on 2 cores), paper (16 T from 100 to 1100, as in the paper's
    /// figure); the extended range (T to 1e4) is [`CriticalPlan::extended`].
    pub fn preset(preset: Preset) -> CriticalPlan {
        match preset {
            Preset::Smoke => CriticalPlan {
                sparsity: 3,
                context_lens: vec![8, 16],
                // The protocol's model and optimiser for 60 steps at one T, 2 trials, m <= 32:
                // exercises a series with its own probing end to end (T = 8: its exact
                // population error is cheap; at T = 16 the series took 2.7 s alone).
                series: vec![
                    transformer(60, 8, 2),
                    theory_head(60),
                    ModelSeries {
                        train: TrainConfig {
                            steps: 60,
                            ..paper_protocol().train
                        },
                        ..paper_protocol()
                    }
                    .with_probing(Probing {
                        context_lens: vec![8],
                        trials: 2,
                        m_max: 32,
                        inner_points: 1,
                        probe_above: false,
                    }),
                ],
                m0: 8,
                m_max: 128,
                trials: 3,
                seed: 1,
                inner_points: 1,
                probe_above: false,
                stop_after_censored: false,
                ablation: Some(Ablation {
                    context_len: 16,
                    sample_sizes: vec![16, 32],
                    trials: 3,
                }),
            },
            // Measured 53 s on 2 shared cores at 6 trials and 1 inner point (the ablation
            // included); 8 trials and 2 inner points stay well inside the 3-minute budget.
            Preset::Default => CriticalPlan {
                sparsity: 3,
                context_lens: vec![16, 32, 64, 128],
                series: vec![transformer(300, 16, 2), theory_head(300)],
                m0: 16,
                m_max: 512,
                trials: 8,
                seed: 2022,
                inner_points: 2,
                probe_above: false,
                stop_after_censored: true,
                ablation: Some(Ablation {
                    context_len: 100,
                    sample_sizes: vec![16, 32, 64, 128],
                    trials: 10,
                }),
            },
            Preset::Paper => CriticalPlan {
                sparsity: 3,
                context_lens: log_ts(100.0, 1100.0, 16),
                // The protocol at every third T: 100, 162, 261, 422, 681, 1100.
                series: Self::full_series(vec![100, 162, 261, 422, 681, 1100]),
                m0: 32,
                m_max: 4096,
                trials: 20,
                seed: 2022,
                inner_points: 3,
                probe_above: true,
                stop_after_censored: true,
                ablation: Some(Ablation {
                    context_len: 100,
                    sample_sizes: vec![24, 32, 48, 64, 96, 128, 192],
                    trials: 20,
                }),
            },
        }
    }

    /// The paper and extended presets' series; the paper protocol at `protocol_ts` only.
    fn full_series(protocol_ts: Vec<usize>) -> Vec<ModelSeries> {
        let mut v = vec![transformer(1000, 32, 4), theory_head(1000)];
        if INCLUDE_PROTOCOL_SERIES {
            v.push(paper_protocol().with_probing(protocol_probing(protocol_ts)));
        }
        v
    }

    /// Beyond the paper's range, no ablation: at `Paper`, 12 T from 100 to 1e4 (log grid), the
    /// paper preset's series and budget, 12 trials per probe (the paper protocol at its own
    /// probing and at T = 100, 231, 534, 1233 only: its cost per trial at T = 1e4 would
    /// exceed the preset's budget alone); at `Default`, the default plan's T grid continued to
    /// 1024; at `Smoke`, T = 8, 16, 32. `attnbounds experiment critical-sample-size-extended
    /// --preset paper`.
    pub fn extended(preset: Preset) -> CriticalPlan {
        let base = CriticalPlan {
            ablation: None,
            ..CriticalPlan::preset(preset)
        };
        match preset {
            Preset::Smoke => CriticalPlan {
                context_lens: vec![8, 16, 32],
                ..base
            },
            Preset::Default => CriticalPlan {
                context_lens: vec![16, 32, 64, 128, 256, 512, 1024],
                ..base
            },
            Preset::Paper => CriticalPlan {
                context_lens: log_ts(100.0, 10_000.0, 12),
                series: Self::full_series(vec![100, 231, 534, 1233]),
                trials: 12,
                inner_points: 2,
                ..base
            },
        }
    }

    pub fn validate(&self) -> Result<()> {
        check::at_least("sparsity", self.sparsity, 1)?;
        check::at_least("trials", self.trials, 1)?;
        check::at_least("m0", self.m0, 2)?;
        check::at_least("m_max", self.m_max, self.m0)?;
        if self.series.is_empty() || self.context_lens.is_empty() {
            return Err(Error::invalid(
                "series/context_lens",
                "[]",
                "non-empty lists",
            ));
        }
        if let Some(a) = &self.ablation {
            check::at_least("ablation.trials", a.trials, 1)?;
            check::at_least("ablation.sample_sizes", a.sample_sizes.len(), 1)?;
            check::at_least("ablation.context_len", a.context_len, self.sparsity)?;
            for &m in &a.sample_sizes {
                check::at_least("ablation.sample_sizes", m, 1)?;
            }
        }
        self.context_lens
            .iter()
            .try_for_each(|&t| check::at_least("context_len", t, self.sparsity).map(|_| ()))?;
        for s in &self.series {
            let Some(p) = &s.probing else { continue };
            check::at_least("series.probing.trials", p.trials, 1)?;
            check::at_least("series.probing.m_max", p.m_max, self.m0)?;
            let in_order: Vec<usize> = (self.context_lens.iter())
                .copied()
                .filter(|t| p.context_lens.contains(t))
                .collect();
            if p.context_lens.is_empty() || in_order != p.context_lens {
                return Err(Error::invalid(
                    "series.probing.context_lens",
                    format!("{:?} ({})", p.context_lens, s.name),
                    format!(
                        "a non-empty subset of the plan's context_lens {:?}, in its order",
                        self.context_lens
                    ),
                ));
            }
        }
        Ok(())
    }

    /// How `series` is probed: its own [`Probing`], else the plan's context lengths, trials and
    /// schedule.
    pub fn probing_of(&self, series: &ModelSeries) -> Probing {
        series.probing.clone().unwrap_or_else(|| Probing {
            context_lens: self.context_lens.clone(),
            trials: self.trials,
            m_max: self.m_max,
            inner_points: self.inner_points,
            probe_above: self.probe_above,
        })
    }

    /// The stored cell of one probe: the series' training config at batch size m (full batch).
    pub fn cell(&self, series: &ModelSeries, context_len: usize, m: usize) -> CellConfig {
        self.cell_with(&series.train, series.model, context_len, m)
    }

    fn cell_with(
        &self,
        train: &TrainConfig,
        model: ModelKind,
        context_len: usize,
        m: usize,
    ) -> CellConfig {
        CellConfig {
            task: TaskName::And,
            truth_table: None,
            sparsity: self.sparsity,
            context_len,
            num_samples: m,
            model,
            train: TrainConfig {
                batch_size: m,
                ..train.clone()
            },
            seed: self.seed,
        }
    }
}

/// One probed sample size and the success of each of its trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub num_samples: usize,
    pub successes: Vec<bool>,
}

impl Probe {
    pub fn rate(&self) -> f64 {
        rate(&self.successes)
    }

    pub fn count(&self) -> u64 {
        self.successes.iter().filter(|&&b| b).count() as u64
    }
}

fn rate(s: &[bool]) -> f64 {
    s.iter().filter(|&&b| b).count() as f64 / s.len().max(1) as f64
}

/// The smallest probed m whose rate is at least [`SUCCESS_RATE`]; `None` when none is.
pub fn critical_of(probes: &[(usize, f64)]) -> Option<usize> {
    probes
        .iter()
        .filter(|(_, r)| *r >= SUCCESS_RATE)
        .map(|(m, _)| *m)
        .min()
}

/// The probes of one (series, T), in order, from `probe(m)` (the per-trial successes at m):
/// 1. doubling from `m0` while the rate is below 1/2 (giving up above `m_max`: censored), or,
///    when `m0` already reaches 1/2, halving while it does (down to m = 2);
/// 2. `inner` geometric points strictly inside the final bracket [lo, hi = 2 lo] (rounded,
///    deduplicated, never re-probing an m);
/// 3. with `above`, 2 hi when it is <= `m_max` and not yet probed.
///
/// Returns every probe in order of probing.
pub fn probe_schedule(
    m0: usize,
    m_max: usize,
    inner: usize,
    above: bool,
    mut probe: impl FnMut(usize) -> Result<Vec<bool>>,
) -> Result<Vec<Probe>> {
    check::at_least("m0", m0, 2)?;
    let mut probes: Vec<Probe> = Vec::new();
    let mut run = |m: usize, probes: &mut Vec<Probe>| -> Result<bool> {
        if let Some(p) = probes.iter().find(|p| p.num_samples == m) {
            return Ok(p.rate() >= SUCCESS_RATE);
        }
        let successes = probe(m)?;
        let ok = rate(&successes) >= SUCCESS_RATE;
        probes.push(Probe {
            num_samples: m,
            successes,
        });
        Ok(ok)
    };
    let (lo, hi) = if run(m0, &mut probes)? {
        let mut hi = m0;
        loop {
            let lo = hi / 2;
            if lo < 2 {
                break (None, hi);
            }
            if !run(lo, &mut probes)? {
                break (Some(lo), hi);
            }
            hi = lo;
        }
    } else {
        let mut lo = m0;
        loop {
            let hi = 2 * lo;
            if hi > m_max {
                return Ok(probes); // censored
            }
            if run(hi, &mut probes)? {
                break (Some(lo), hi);
            }
            lo = hi;
        }
    };
    if let Some(lo) = lo {
        for j in 1..=inner {
            let f = j as f64 / (inner + 1) as f64;
            let m = (lo as f64 * (hi as f64 / lo as f64).powf(f)).round() as usize;
            if m > lo && m < hi {
                run(m, &mut probes)?;
            }
        }
    }
    if above && 2 * hi <= m_max {
        run(2 * hi, &mut probes)?;
    }
    Ok(probes)
}

/// The logistic crossing of the probes' success counts at rate 1/2, in ln m (see
/// [`crate::stats::logistic`]); `Crossing::estimate` and `interval` are in ln m.
pub fn crossing_of(probes: &[Probe]) -> Result<Crossing> {
    let points: Vec<BinomialPoint> = probes
        .iter()
        .map(|p| BinomialPoint {
            x: (p.num_samples as f64).ln(),
            successes: p.count(),
            trials: p.successes.len() as u64,
        })
        .collect();
    level_crossing(&points, SUCCESS_RATE, CONFIDENCE)
}

/// One trial: [`crate::train::train_cell`] and every metric it measures (norms included, which
/// the report reads as the trained radii of the theory head).
pub fn run_trial(cell: &CellConfig, seed: u64) -> Result<Metrics> {
    Ok(crate::train::train_cell(cell, seed)?.report.metrics())
}

/// What the probes found for one (series, T).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub context_len: usize,
    pub probes: Vec<Probe>,
    /// Hashes of the probed cells, in probe order.
    pub cell_hashes: Vec<String>,
    /// The logistic crossing at rate 1/2, in ln m.
    pub crossing: Crossing,
    /// The smallest probed m with rate >= 1/2 (the earlier protocol's answer, for comparison).
    pub first_probed: Option<usize>,
    /// Wall time of the probes for this T.
    pub wall_s: f64,
    /// Wall seconds of the trials trained by this call (their stored `duration_s`), summed.
    pub train_s: f64,
    /// Trials trained (not replayed from the store) by this call.
    pub trained: usize,
}

impl SearchResult {
    /// The critical m (exp of the crossing's estimate); `None` when there is no crossing.
    pub fn critical_m(&self) -> Option<f64> {
        self.crossing.estimate.map(f64::exp)
    }

    /// The 95% interval of the critical m; an open end is 0 or +inf.
    pub fn interval_m(&self) -> (f64, f64) {
        (
            self.crossing.interval.0.exp(),
            self.crossing.interval.1.exp(),
        )
    }
}

/// What one stored cell's trials gave.
#[derive(Debug, Clone, PartialEq)]
pub struct CellOutcome {
    pub hash: String,
    pub successes: Vec<bool>,
    /// The trials' `Metric::Steps`, in trial order.
    pub steps: Vec<f64>,
    /// Summed `duration_s` of the trials trained by this call.
    pub train_s: f64,
    pub trained: usize,
}

/// Runs (or replays) `trials` trials of `config` and reads their successes back from the
/// store. `seed_hash` derives the trial seeds from another cell's hash (paired comparison).
pub fn run_cell(
    config: CellConfig,
    trials: usize,
    base_seed: u64,
    seed_hash: Option<String>,
    db: &mut ResultsDb,
    quiet: bool,
) -> Result<CellOutcome> {
    let mut opts = SweepOptions::new(EXPERIMENT, trials, base_seed);
    opts.quiet = quiet;
    // The probed cells depend on earlier probes: the shard owns whole (series, T) units
    // ([`unit_key`]), chosen by the caller, so no cell filter here.
    opts.by_cell = false;
    opts.seed_hash = seed_hash;
    let cell = Cell::new(config)?;
    let summary = run_sweep(db, std::slice::from_ref(&cell), &opts, |c, _, seed| {
        run_trial(&c.config, seed)
    })?;
    if let Some(f) = summary.failed.first() {
        return Err(f.error.clone());
    }
    let mut out = CellOutcome {
        hash: cell.hash.clone(),
        successes: Vec::with_capacity(trials),
        steps: Vec::with_capacity(trials),
        train_s: 0.0,
        trained: summary.completed,
    };
    for trial in 0..trials {
        let rec = db.get(&cell.hash, trial)?.ok_or_else(|| {
            Error::io(
                db.path(),
                format!("trial {trial} of cell {} missing", cell.hash),
            )
        })?;
        let err = Metric::PopulationError.require(&rec.metrics)?;
        if summary.completed > 0 {
            out.train_s += rec.duration_s;
        }
        out.successes.push(1.0 - err >= SUCCESS_ACCURACY);
        out.steps.push(Metric::Steps.require(&rec.metrics)?);
    }
    Ok(out)
}

/// Runs (or replays from `db`) the probes for one series and T.
pub fn search_one(
    plan: &CriticalPlan,
    series: &ModelSeries,
    context_len: usize,
    db: &mut ResultsDb,
    quiet: bool,
) -> Result<SearchResult> {
    let clock = Instant::now();
    let probing = plan.probing_of(series);
    let (mut train_s, mut trained, mut hashes) = (0.0, 0usize, Vec::new());
    let probes = probe_schedule(
        plan.m0,
        probing.m_max,
        probing.inner_points,
        probing.probe_above,
        |m| {
            let cell = plan.cell(series, context_len, m);
            let out = run_cell(cell, probing.trials, plan.seed, None, db, quiet)?;
            train_s += out.train_s;
            trained += out.trained;
            hashes.push(out.hash);
            Ok(out.successes)
        },
    )?;
    let rates: Vec<(usize, f64)> = probes.iter().map(|p| (p.num_samples, p.rate())).collect();
    Ok(SearchResult {
        context_len,
        crossing: crossing_of(&probes)?,
        first_probed: critical_of(&rates),
        probes,
        cell_hashes: hashes,
        wall_s: clock.elapsed().as_secs_f64(),
        train_s,
        trained,
    })
}

/// One arm of the ablation at one m.
#[derive(Debug, Clone, PartialEq)]
pub struct AblationPoint {
    pub num_samples: usize,
    pub fixed: CellOutcome,
    pub first_fit: CellOutcome,
}

/// Runs (or replays) the stop-rule ablation of the plan's first series: at every m of
/// `ablation.sample_sizes`, the fixed-budget cell and its first-fit twin, the twin's trials
/// seeded from the fixed cell's hash (same data, same initialisation).
pub fn run_ablation(
    plan: &CriticalPlan,
    ablation: &Ablation,
    db: &mut ResultsDb,
    quiet: bool,
) -> Result<Vec<AblationPoint>> {
    let series = &plan.series[0];
    let ff = first_fit_of(&series.train);
    let mut out = Vec::new();
    for &m in &ablation.sample_sizes {
        let fixed_cfg = plan.cell_with(&series.train, series.model, ablation.context_len, m);
        let fixed = run_cell(fixed_cfg, ablation.trials, plan.seed, None, db, quiet)?;
        let ff_cfg = plan.cell_with(&ff, series.model, ablation.context_len, m);
        let first_fit = run_cell(
            ff_cfg,
            ablation.trials,
            plan.seed,
            Some(fixed.hash.clone()),
            db,
            quiet,
        )?;
        out.push(AblationPoint {
            num_samples: m,
            fixed,
            first_fit,
        });
    }
    Ok(out)
}

/// The shard key of the ablation: the unit of the first series at the ablation's T, so that a
/// fixed-budget cell shared with that unit's probes is trained by one shard only.
pub fn ablation_key(plan: &CriticalPlan, ablation: &Ablation) -> String {
    unit_key(&plan.series[0], ablation.context_len)
}

/// The key by which shards divide the searches: one independent unit per (series, T).
pub fn unit_key(series: &ModelSeries, context_len: usize) -> String {
    format!("{EXPERIMENT}/{}/T={context_len}", series.name)
}

/// The sweep stage of a sharded run: the searches of every (series, T) that the store's shard
/// owns ([`unit_key`]), each searched to the end whatever the other units found (so
/// `stop_after_censored` is not applied; the merged replay simply leaves unused units unread).
/// Returns the number of trials trained.
pub fn sweep(plan: &CriticalPlan, db: &mut ResultsDb, quiet: bool) -> Result<usize> {
    plan.validate()?;
    let mut trained = 0;
    for s in &plan.series {
        for t in plan.probing_of(s).context_lens {
            if db.shard().owns(&unit_key(s, t)) {
                trained += search_one(plan, s, t, db, quiet)?.trained;
            }
        }
    }
    if let Some(a) = &plan.ablation
        && db.shard().owns(&ablation_key(plan, a))
    {
        for p in run_ablation(plan, a, db, quiet)? {
            trained += p.fixed.trained + p.first_fit.trained;
        }
    }
    Ok(trained)
}

#[cfg(test)]
mod tests;
