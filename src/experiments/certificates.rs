//! Certificates beside the norm bounds (docs/certificates.md, docs/experiments.md): each trial
//! trains a model on s-sparse AND with a fixed budget (`StopRule::MaxSteps`), measures its test
//! error with an exact Clopper-Pearson interval, and computes at the same weights
//! - the junta certificate (`certify::certify_junta`: of the TRAINED model's test error),
//! - the PAC-Bayes certificate (`certify::pac_bayes`: of the STOCHASTIC predictor Q),
//! - the best norm bound (for the theory's \[CLS\] head: training ramp loss plus the explicit
//!   post-hoc gap bound of the gap experiment, `gap::bound_metrics`). No norm bound of the
//!   registry covers the one-block Transformer ([`NO_NORM_BOUND_TRANSFORMER`] says why); its
//!   table row, JSON and figure captions say so instead of printing a number.
//!
//! Trials run through the resumable sweep into the results store (experiment
//! [`EXPERIMENT`]); two series of cells: T varying at fixed m, and m varying at fixed T.

use crate::certify::pac_bayes::{PacBayesParams, certify_pac_bayes, cls_model, initial_model};
use crate::certify::{JuntaParams, Route, certify_junta};
use crate::config::{CellConfig, ModelKind, StopRule, TaskName, TrainConfig};
use crate::error::{Error, Result};
use crate::experiments::{
    Cell, Gallery, GalleryEntry, Preset, SweepOptions, experiment_command, run_sweep,
    write_gallery_figure,
};
use crate::figure::{Figure, FigureSize, Marker, Series};
use crate::metrics::{Metric, Metrics};
use crate::results::ResultsDb;
use crate::train::{TrainedModel, train_cell};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Experiment name stored with every trial.
pub const EXPERIMENT: &str = "certificates";
/// Confidence of every certificate.
pub const DELTA: f64 = 0.05;

/// The cells of a preset: both model classes over T at fixed m and over m at fixed T.
#[derive(Debug, Clone, PartialEq)]
pub struct CertPlan {
    pub sparsity: usize,
    pub models: Vec<ModelKind>,
    /// T of the `vs_context_len` series, at `num_samples`.
    pub context_lens: Vec<usize>,
    pub num_samples: usize,
    /// m of the `vs_num_samples` series, at `fixed_context_len`.
    pub num_samples_list: Vec<usize>,
    pub fixed_context_len: usize,
    pub trials: usize,
    pub seed: u64,
    /// Weight draws per sigma of the PAC-Bayes Monte Carlo.
    pub n_draws: usize,
    /// Fresh unlabeled inputs of the junta certificate's sampled route.
    pub fresh_samples: usize,
    pub steps: usize,
}

impl CertPlan {
    pub fn preset(preset: Preset) -> CertPlan {
        match preset {
            Preset::Smoke => CertPlan {
                sparsity: 3,
                models: vec![ModelKind::ClsHead],
                context_lens: vec![10, 30],
                num_samples: 100,
                num_samples_list: vec![50, 100],
                fixed_context_len: 30,
                trials: 1,
                seed: 15,
                n_draws: 10,
                fresh_samples: 2000,
                steps: 200,
            },
            Preset::Default => CertPlan {
                sparsity: 3,
                models: vec![ModelKind::ClsHead, ModelKind::Transformer],
                // T = 1e4 costs about 50 s of the main job (both models, measured with the
                // ignored test `t1e4_cells`: 41 s and 9 s); m = 1000 is a paper cell.
                context_lens: vec![10, 100, 1000, 10_000],
                num_samples: 300,
                num_samples_list: vec![100, 300],
                fixed_context_len: 100,
                trials: 1,
                seed: 15,
                n_draws: 30,
                fresh_samples: 10_000,
                steps: 400,
            },
            Preset::Paper => CertPlan {
                sparsity: 3,
                models: vec![ModelKind::ClsHead, ModelKind::Transformer],
                context_lens: vec![10, 30, 100, 300, 1000, 3000, 10000],
                num_samples: 300,
                num_samples_list: vec![50, 100, 200, 300, 600, 1000, 3000],
                fixed_context_len: 1000,
                trials: 5,
                seed: 15,
                n_draws: 100,
                fresh_samples: 50_000,
                steps: 1000,
            },
        }
    }

    /// The training configuration of a model class (fields the class does not read keep
    /// their defaults, so the cell hash depends on what the trial reads).
    pub fn train(&self, model: ModelKind) -> TrainConfig {
        let base = TrainConfig {
            steps: self.steps,
            learning_rate: 0.02,
            batch_size: 64,
            value_dim: 4,
            population_samples: 20_000,
            stop: StopRule::MaxSteps,
            ..TrainConfig::default()
        };
        match model {
            ModelKind::ClsHead => base,
            // Never certified (`certify::pac_bayes::cls_model` refuses it); the protocol's own
            // defaults so that a cell of it validates and the refusal is the one reached.
            ModelKind::PaperProtocol => TrainConfig {
                width: 64,
                heads: 16,
                mlp_width: 64,
                value_dim: 4,
                ..base
            },
            ModelKind::Transformer => TrainConfig {
                width: 16,
                heads: 2,
                mlp_width: 32,
                learning_rate: 0.01,
                ..base
            },
        }
    }

    pub fn cell(&self, model: ModelKind, context_len: usize, num_samples: usize) -> CellConfig {
        CellConfig {
            task: TaskName::And,
            truth_table: None,
            sparsity: self.sparsity,
            context_len,
            num_samples,
            model,
            train: self.train(model),
            seed: self.seed,
        }
    }

    /// Every cell, each once: (model, T, m).
    pub fn cells(&self) -> Vec<CellConfig> {
        let mut out: Vec<CellConfig> = Vec::new();
        for &model in &self.models {
            let ts = self.context_lens.iter().map(|&t| (t, self.num_samples));
            let ms = (self.num_samples_list.iter()).map(|&m| (self.fixed_context_len, m));
            for (t, m) in ts.chain(ms) {
                let c = self.cell(model, t, m);
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    fn junta_params(&self, seed: u64, bit_prob: f64) -> JuntaParams {
        JuntaParams {
            sparsity: self.sparsity,
            delta: DELTA,
            fresh_samples: self.fresh_samples,
            seed: seed ^ 0x006A_756E_7461,
            bit_prob,
        }
    }

    fn pac_bayes_params(&self, seed: u64) -> PacBayesParams {
        PacBayesParams {
            delta: DELTA,
            n_draws: self.n_draws,
            seed: seed ^ 0x7061_6362,
            ..PacBayesParams::default()
        }
    }
}

/// Why the one-block Transformer has no norm bound. The registry's bounds (`bounds::BoundId`)
/// cover two classes: the single-head rows the \[CLS\] head on a fixed input, and the deep rows
/// (`Deep`, `DeepPostHoc`, `DeepRound1`; docs/derivations.md §5, §12.6) residual attention
/// blocks `Y_l = Pi(Y_{l-1} + sum_h A_{l,h}(Y_{l-1}))` on the fixed input map `Y_0 = Pi(X~)`,
/// with radii of `Theta`, `W_V`, `W_C` and `w` only (`bounds::LayerRadii`). The Transformer of
/// this experiment has an MLP sublayer `Pi(Y + sigma(Y W1) W2)` (no radius, no cover stage),
/// learns its token and positional embeddings (parameters of the class that no cover counts;
/// the covers are of functions of fixed inputs X~) and feeds the embedding to the block without
/// `Pi`. So no rigorous norm bound applies at its trained weights, and none is invented.
pub const NO_NORM_BOUND_TRANSFORMER: &str = "n/a: no norm bound covers the one-block Transformer (the deep bound, docs/derivations.md §5, has no MLP sublayer and a fixed input map Y_0 = Pi(X~); this model has an MLP and learned, unprojected embeddings)";

/// The captions' sentence on the Transformer's missing norm bound.
const CAPTION_NO_NORM: &str = "Transformer norm bound n/a: no norm bound covers the one-block \
                               Transformer (the deep bound has no MLP sublayer and a fixed input \
                               map; docs/certificates.md §8).";

/// Why `model` has no norm bound (`None`: it has one).
pub fn no_norm_bound_reason(model: ModelKind) -> Option<&'static str> {
    match model {
        ModelKind::ClsHead => None,
        ModelKind::Transformer => Some(NO_NORM_BOUND_TRANSFORMER),
        ModelKind::PaperProtocol => Some("n/a: not certified"),
    }
}

/// Every certificate of one trained model, as computed (not yet stored).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialCertificates {
    pub junta: crate::certify::JuntaCertificate,
    pub pac_bayes: crate::certify::pac_bayes::PacBayesCertificate,
    /// Training ramp loss + explicit post-hoc gap bound (\[CLS\] head only; `None` for the
    /// Transformer: [`NO_NORM_BOUND_TRANSFORMER`]).
    pub norm_bound: Option<f64>,
    /// Whether the junta's positions are the task's hidden set.
    pub found_hidden_set: bool,
}

/// Trains trial `seed` of `cell` and computes every certificate (module doc).
pub fn certify_trial(
    plan: &CertPlan,
    cell: &CellConfig,
    seed: u64,
) -> Result<(crate::train::Trained, TrialCertificates)> {
    let trained = train_cell(cell, seed)?;
    let (task, data, init) = initial_model(cell, seed)?;
    if task != trained.task {
        return Err(Error::invalid(
            "initial_model",
            "another task",
            "the trial's task (train_cell's draw order changed)",
        ));
    }
    let model = cls_model(&trained.model)?;
    let junta = certify_junta(&model, &data, &plan.junta_params(seed, task.bit_prob()))?;
    let pac_bayes = certify_pac_bayes(
        &model,
        &cls_model(&init)?,
        &data,
        &plan.pac_bayes_params(seed),
    )?;
    let norm_bound = match &trained.model {
        TrainedModel::ClsHead(m) => {
            let setting = crate::bounds::Setting {
                num_samples: cell.num_samples,
                context_len: cell.context_len,
                width: m.head.width(),
                value_dim: m.head.value_dim(),
                heads: 1,
                layers: 1,
            };
            let b = crate::experiments::gap::bound_metrics(&setting, &trained.report, cell)?;
            Some(trained.report.margins.ramp_loss + Metric::BoundExplicit.require(&b)?)
        }
        // NO_NORM_BOUND_TRANSFORMER: no bound of the registry covers this class.
        TrainedModel::Transformer(_) | TrainedModel::Protocol(_) => None,
    };
    let mut hidden: Vec<usize> = task.support().to_vec();
    hidden.sort_unstable();
    let found_hidden_set = hidden == junta.positions;
    Ok((
        trained,
        TrialCertificates {
            junta,
            pac_bayes,
            norm_bound,
            found_hidden_set,
        },
    ))
}

/// The stored metrics of one trial: the training report's and every certificate's.
pub fn trial_metrics(plan: &CertPlan, cell: &CellConfig, seed: u64) -> Result<Metrics> {
    let (trained, c) = certify_trial(plan, cell, seed)?;
    let mut m = trained.report.metrics();
    let j = &c.junta;
    let pb = &c.pac_bayes;
    let best = pb.best_row();
    let sampled_upper = match j.route {
        Route::Verified => 0.0,
        Route::Sampled { upper, .. } => upper,
    };
    let sq: f64 = pb.breakdown.iter().map(|t| t.sq_distance).sum();
    for (k, v) in [
        (Metric::CertJunta, j.certified_error_model),
        (
            Metric::CertJuntaVerified,
            f64::from(u8::from(j.route == Route::Verified)),
        ),
        (Metric::CertJuntaBits, j.bits),
        (Metric::CertJuntaTrainError, j.train_error_g),
        (Metric::CertJuntaOccamKl, j.occam_kl),
        (Metric::CertJuntaOccamHoeffding, j.occam_hoeffding),
        (Metric::CertJuntaSampledUpper, sampled_upper),
        (
            Metric::CertJuntaHiddenSet,
            f64::from(u8::from(c.found_hidden_set)),
        ),
        (Metric::CertPacBayes, pb.certified_error_q),
        (Metric::CertPacBayesKl, best.kl),
        (Metric::CertPacBayesSigma, best.sigma),
        (Metric::CertPacBayesMcTrainError, best.mc_train_error),
        (Metric::CertPacBayesSqDistance, sq),
    ] {
        k.put(&mut m, crate::error::check::finite(k.name(), v)?);
    }
    for t in &pb.breakdown {
        let key = crate::metrics::pac_bayes_tensor_key(&t.name);
        let v = crate::error::check::finite(&key, t.sq_distance)?;
        m.insert(key, v);
    }
    if let Some(b) = c.norm_bound {
        Metric::CertNormBound.put(&mut m, crate::error::check::finite("cert_norm_bound", b)?);
    }
    Ok(m)
}

/// One stored trial, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub model: ModelKind,
    pub context_len: usize,
    pub num_samples: usize,
    pub trial: usize,
    pub test_error: f64,
    pub test_lower: f64,
    pub test_upper: f64,
    pub train_error: f64,
    pub junta: f64,
    pub junta_verified: bool,
    pub junta_bits: f64,
    pub junta_hidden_set: bool,
    pub pac_bayes: f64,
    pub pac_bayes_kl: f64,
    pub pac_bayes_sigma: f64,
    /// Per trained tensor, its share of ||theta_hat - theta_0||^2 (by tensor name).
    pub pac_bayes_sq_by_tensor: Vec<(String, f64)>,
    pub norm_bound: Option<f64>,
}

impl TrialRow {
    fn from_metrics(cell: &CellConfig, trial: usize, m: &Metrics) -> Result<TrialRow> {
        Ok(TrialRow {
            model: cell.model,
            context_len: cell.context_len,
            num_samples: cell.num_samples,
            trial,
            test_error: Metric::PopulationError.require(m)?,
            test_lower: Metric::PopulationLower.require(m)?,
            test_upper: Metric::PopulationUpper.require(m)?,
            train_error: Metric::TrainError.require(m)?,
            junta: Metric::CertJunta.require(m)?,
            junta_verified: Metric::CertJuntaVerified.require(m)? > 0.5,
            junta_bits: Metric::CertJuntaBits.require(m)?,
            junta_hidden_set: Metric::CertJuntaHiddenSet.require(m)? > 0.5,
            pac_bayes: Metric::CertPacBayes.require(m)?,
            pac_bayes_kl: Metric::CertPacBayesKl.require(m)?,
            pac_bayes_sigma: Metric::CertPacBayesSigma.require(m)?,
            pac_bayes_sq_by_tensor: crate::metrics::pac_bayes_tensors(m),
            norm_bound: Metric::CertNormBound.get(m),
        })
    }

    /// KL(Q || P) in nats per tensor at the certificate's sigma: ||theta_hat - theta_0||^2 of
    /// the tensor / (2 sigma^2) (docs/certificates.md (P1)); they sum to the KL.
    pub fn kl_by_tensor(&self) -> Vec<(String, f64)> {
        let two_s2 = 2.0 * self.pac_bayes_sigma * self.pac_bayes_sigma;
        (self.pac_bayes_sq_by_tensor.iter())
            .map(|(n, sq)| (n.clone(), sq / two_s2))
            .collect()
    }

    /// Certificates (name, value) below the lower Clopper-Pearson limit of the measured test
    /// error: findings (a certificate of the trained model's error cannot be below it unless
    /// the 1 - delta event failed or the code is wrong). PAC-Bayes bounds Q, not the model, so
    /// it is not held against the model's error.
    pub fn violations(&self) -> Vec<(&'static str, f64)> {
        let mut v = Vec::new();
        if self.junta < self.test_lower {
            v.push(("junta certificate", self.junta));
        }
        if let Some(b) = self.norm_bound
            && b < self.test_lower
        {
            v.push(("norm bound", b));
        }
        v
    }
}

/// How the junta positions are extracted (`certify::extract`); part of the cell hash, so
/// trials certified by an earlier extraction are not replayed.
pub const EXTRACTION: &str = "output_flip_influence";

/// Every parameter of the certificates that a trial reads besides its training cell, fixed
/// before the data. Stored (and hashed) with the cell, so changing any of them re-runs the
/// trial instead of replaying a result computed with other parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertParams {
    pub delta: f64,
    /// Share of delta of the Occam bound (the rest: the sampled route).
    pub occam_delta_share: f64,
    pub fresh_samples: usize,
    pub extraction: &'static str,
    pub influence_inputs: usize,
    pub fills: usize,
    pub sigma_grid: Vec<f64>,
    /// Share of delta of Maurer's bound (the rest: the Monte Carlo confidence).
    pub pac_bayes_delta_share: f64,
    pub n_draws: usize,
}

/// The stored cell of one trial: the training cell and the certificates' parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CertCell {
    pub cell: CellConfig,
    pub certificates: CertParams,
}

impl CertPlan {
    /// The certificates' parameters of every trial of the plan.
    pub fn cert_params(&self) -> CertParams {
        let pb = self.pac_bayes_params(0);
        CertParams {
            delta: DELTA,
            occam_delta_share: crate::certify::OCCAM_DELTA_SHARE,
            fresh_samples: self.fresh_samples,
            extraction: EXTRACTION,
            influence_inputs: crate::certify::INFLUENCE_INPUTS,
            fills: crate::certify::FILLS,
            sigma_grid: pb.sigma_grid,
            pac_bayes_delta_share: crate::certify::pac_bayes::PB_DELTA_SHARE,
            n_draws: pb.n_draws,
        }
    }

    /// The stored cells: [`CertPlan::cells`] with [`CertPlan::cert_params`].
    pub fn cert_cells(&self) -> Result<Vec<Cell<CertCell>>> {
        let certificates = self.cert_params();
        (self.cells().into_iter())
            .map(|cell| {
                Cell::new(CertCell {
                    cell,
                    certificates: certificates.clone(),
                })
            })
            .collect()
    }
}

/// The seed of a trial: from the hash of its training cell alone, so the certificates'
/// parameters (which are in the stored cell's hash) never change which model is trained.
pub fn training_seed(plan: &CertPlan, cell: &CellConfig, trial: usize) -> Result<u64> {
    let hash = Cell::new(cell.clone())?.hash;
    Ok(crate::experiments::trial_seed(plan.seed, &hash, trial))
}

/// Runs the missing trials of the plan (those of the store's shard); returns how many ran.
pub fn sweep(plan: &CertPlan, db: &mut ResultsDb, quiet: bool) -> Result<usize> {
    let cells = plan.cert_cells()?;
    let mut opts = SweepOptions::new(EXPERIMENT, plan.trials, plan.seed);
    opts.quiet = quiet;
    let summary = run_sweep(db, &cells, &opts, |c, trial, _| {
        trial_metrics(
            plan,
            &c.config.cell,
            training_seed(plan, &c.config.cell, trial)?,
        )
    })?;
    if let Some(f) = summary.failed.first() {
        return Err(f.error.clone());
    }
    Ok(summary.completed)
}

/// Runs (or replays from `db`) the plan and reads every stored trial back.
pub fn run(plan: &CertPlan, db: &mut ResultsDb, quiet: bool) -> Result<Vec<TrialRow>> {
    sweep(plan, db, quiet)?;
    let mut rows = Vec::new();
    for c in plan.cert_cells()? {
        for t in 0..plan.trials {
            if let Some(rec) = db.get(&c.hash, t)? {
                rows.push(TrialRow::from_metrics(&c.config.cell, t, &rec.metrics)?);
            }
        }
    }
    Ok(rows)
}

fn model_name(m: ModelKind) -> &'static str {
    match m {
        ModelKind::ClsHead => "ClsHead",
        ModelKind::Transformer => "Transformer",
        ModelKind::PaperProtocol => "PaperProtocol",
    }
}

/// The model's name in figure legends.
fn legend_name(m: ModelKind) -> &'static str {
    match m {
        ModelKind::ClsHead => "theory head (ClsHead)",
        ModelKind::Transformer => "Transformer",
        ModelKind::PaperProtocol => "PaperProtocol",
    }
}

/// The table: per model every certificate, what it certifies, beside the measured test error.
pub fn table(rows: &[TrialRow]) -> String {
    let mut out = format!(
        "certificates at delta = {DELTA} (junta: of the TRAINED model's test error; PAC-Bayes: of the STOCHASTIC predictor Q; norm: of the trained model, ramp loss + explicit gap bound)\n"
    );
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>6} {:>3} {:>8} {:>22} {:>9} {:>9} {:>7} {:>6} {:>10} {:>10} {:>8} {:>10}",
        "model",
        "T",
        "m",
        "tr",
        "train",
        "test [CP 95%]",
        "junta",
        "route",
        "bits",
        "set",
        "PB(Q)",
        "KL",
        "sigma",
        "norm"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<12} {:>6} {:>6} {:>3} {:>8.4} {:>8.4} [{:.4},{:.4}] {:>9.4} {:>9} {:>7.1} {:>6} {:>10.4} {:>10.3e} {:>8.0e} {:>10}",
            model_name(r.model),
            r.context_len,
            r.num_samples,
            r.trial,
            r.train_error,
            r.test_error,
            r.test_lower,
            r.test_upper,
            r.junta,
            if r.junta_verified {
                "verified"
            } else {
                "sampled"
            },
            r.junta_bits,
            if r.junta_hidden_set { "yes" } else { "no" },
            r.pac_bayes,
            r.pac_bayes_kl,
            r.pac_bayes_sigma,
            r.norm_bound.map_or("n/a*".into(), |b| format!("{b:.3e}")),
        );
    }
    let mut reasons: Vec<&str> = (rows.iter())
        .filter(|r| r.norm_bound.is_none())
        .filter_map(|r| no_norm_bound_reason(r.model))
        .collect();
    reasons.sort_unstable();
    reasons.dedup();
    for why in reasons {
        let _ = writeln!(out, "* norm {why}");
    }
    let _ = writeln!(
        out,
        "PAC-Bayes KL(Q || P) by tensor, nats at the certificate's sigma (||theta_hat - theta_0||^2 / (2 sigma^2)):"
    );
    for r in rows {
        let parts: Vec<String> = (r.kl_by_tensor().iter())
            .map(|(n, kl)| format!("{n} {kl:.3e}"))
            .collect();
        let _ = writeln!(
            out,
            "  {} T = {} m = {} trial {}: {}",
            model_name(r.model),
            r.context_len,
            r.num_samples,
            r.trial,
            parts.join(", ")
        );
    }
    out
}

/// Mean over trials of `f` per x value, for one model, among rows passing `keep`.
fn series_of(
    rows: &[TrialRow],
    model: ModelKind,
    keep: impl Fn(&TrialRow) -> bool,
    x: impl Fn(&TrialRow) -> f64,
    f: impl Fn(&TrialRow) -> Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    let mut sel: Vec<&TrialRow> = rows
        .iter()
        .filter(|r| r.model == model && keep(r))
        .collect();
    sel.sort_by(|a, b| x(a).total_cmp(&x(b)));
    for r in sel {
        let Some(v) = f(r) else { continue };
        let xv = x(r);
        match xs.last() {
            Some(&last) if last == xv => {
                // Mean over trials: running sum, divided below.
                if let Some(y) = ys.last_mut() {
                    *y += v;
                }
            }
            _ => {
                xs.push(xv);
                ys.push(v);
            }
        }
    }
    // Divide sums by counts.
    for (i, xv) in xs.iter().enumerate() {
        let n = rows
            .iter()
            .filter(|r| r.model == model && keep(r) && x(r) == *xv && f(r).is_some())
            .count()
            .max(1);
        ys[i] /= n as f64;
    }
    (xs, ys)
}

/// The figure over `x` (T or m) among rows passing `keep`.
fn figure(
    rows: &[TrialRow],
    models: &[ModelKind],
    title: String,
    x_label: &str,
    keep: impl Fn(&TrialRow) -> bool + Copy,
    x: impl Fn(&TrialRow) -> f64 + Copy,
) -> Figure {
    let floor = 1e-4; // log axis: a zero test error is drawn at this floor.
    // Colour = what is drawn (test error, junta, PAC-Bayes, norm bound); the theory's head
    // solid with filled markers, the Transformer dashed with larger open markers of other
    // shapes, so where the two models' values coincide (both at the 1e-4 floor, equal
    // certificates) both stay visible. The vacuous region is a black-edged band drawn first, so
    // every line at or near 1 (PAC-Bayes there) stays visible on top of it.
    let mut series = Vec::new();
    let mut all_x: Vec<f64> = Vec::new();
    let mut top = 2.0f64;
    for &model in models {
        let name = legend_name(model);
        let theory = model == ModelKind::ClsHead;
        // (marker of the theory's head, marker of the Transformer) per quantity.
        let style = |s: Series, (solid, open): (Marker, Marker)| {
            if theory {
                s.with_marker(solid)
            } else {
                s.dashed().with_marker(open)
            }
        };
        let (tx, te) = series_of(rows, model, keep, x, |r| Some(r.test_error.max(floor)));
        if tx.is_empty() {
            continue;
        }
        let (_, lo) = series_of(rows, model, keep, x, |r| Some(r.test_lower.max(floor)));
        let (_, hi) = series_of(rows, model, keep, x, |r| Some(r.test_upper.max(floor)));
        all_x.extend(&tx);
        series.push(style(
            Series::line_points(
                format!("{name}: measured test error (Clopper-Pearson 95%; 0 drawn at 1e-4)"),
                tx,
                te,
            )
            .with_error_bars(lo, hi)
            .with_color(0),
            (Marker::Triangle, Marker::Circle),
        ));
        let (jx, jy) = series_of(rows, model, keep, x, |r| Some(r.junta));
        series.push(style(
            Series::line_points(format!("{name}: junta certificate (trained model)"), jx, jy)
                .with_color(1),
            (Marker::Square, Marker::Diamond),
        ));
        let (px, py) = series_of(rows, model, keep, x, |r| Some(r.pac_bayes));
        series.push(style(
            Series::line_points(
                format!("{name}: PAC-Bayes certificate (stochastic Q)"),
                px,
                py,
            )
            .with_color(2),
            (Marker::Cross, Marker::Plus),
        ));
        let (nx, ny) = series_of(rows, model, keep, x, |r| r.norm_bound);
        if !nx.is_empty() {
            top = ny.iter().copied().fold(top, f64::max);
            series.push(style(
                Series::line_points(
                    format!("{name}: best norm bound (ramp loss + explicit gap)"),
                    nx,
                    ny,
                )
                .with_color(3),
                (Marker::Circle, Marker::Triangle),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (
        all_x.iter().copied().reduce(f64::min),
        all_x.iter().copied().reduce(f64::max),
    ) {
        let band = Series::line(
            "vacuous: error >= 1 (shaded band, under the data)",
            vec![lo, hi],
            vec![1.0, 1.0],
        )
        .with_band(vec![1.0, 1.0], vec![top * 1.5, top * 1.5])
        .with_color(6);
        series.insert(0, band);
    }
    Figure {
        title,
        x_label: x_label.into(),
        y_label: "test error / certified upper bound (delta = 0.05)".into(),
        x_log: true,
        y_log: true,
        size: FigureSize::DoubleColumn,
        series,
    }
}

/// `certificates_vs_context_len`: T varying at m = `plan.num_samples`.
pub fn figure_vs_context_len(plan: &CertPlan, rows: &[TrialRow]) -> Figure {
    let m = plan.num_samples;
    figure(
        rows,
        &plan.models,
        format!("Certificates vs T; {}-sparse AND, m = {m}", plan.sparsity),
        "context length T",
        |r| r.num_samples == m,
        |r| r.context_len as f64,
    )
}

/// `certificates_vs_num_samples`: m varying at T = `plan.fixed_context_len`.
pub fn figure_vs_num_samples(plan: &CertPlan, rows: &[TrialRow]) -> Figure {
    let t = plan.fixed_context_len;
    figure(
        rows,
        &plan.models,
        format!("Certificates vs m; {}-sparse AND, T = {t}", plan.sparsity),
        "training samples m",
        |r| r.context_len == t,
        |r| r.num_samples as f64,
    )
}

/// Writes both figures.
pub fn write_figures(
    plan: &CertPlan,
    rows: &[TrialRow],
    preset: Preset,
    out: &Path,
    quiet: bool,
) -> Result<Vec<GalleryEntry>> {
    let command = format!("attnbounds certify --preset {}", preset.name());
    let _ = experiment_command; // the certify command regenerates these figures
    Ok(vec![
        write_gallery_figure(
            &figure_vs_context_len(plan, rows),
            out,
            "certificates_vs_context_len",
            &format!(
                "Certified test error vs context length at fixed m (log-log): the junta \
                 certificate of the trained model grows like log T and stays below 1, the \
                 PAC-Bayes certificate of the stochastic predictor and the best norm bound beside \
                 it, the measured test error with Clopper-Pearson intervals; the theory head \
                 (ClsHead) solid with filled markers, the one-block Transformer dashed with larger \
                 open markers of other shapes (visible where the two coincide), and the vacuous \
                 region (>= 1) a shaded band under the data. {CAPTION_NO_NORM}"
            ),
            command.clone(),
            quiet,
        )?,
        write_gallery_figure(
            &figure_vs_num_samples(plan, rows),
            out,
            "certificates_vs_num_samples",
            &format!(
                "Certified test error vs number of training samples at fixed T (log-log): junta \
                 certificate, PAC-Bayes certificate (stochastic predictor) and best norm bound \
                 beside the measured test error; the theory head (ClsHead) solid with filled \
                 markers, the one-block Transformer dashed with larger open markers of other \
                 shapes, and the vacuous region (>= 1) a shaded band drawn under the data, so a \
                 certificate at 1 stays visible. {CAPTION_NO_NORM}"
            ),
            command,
            quiet,
        )?,
    ])
}

/// Findings over the rows: (row, certificate, value) below the measured lower limit.
pub fn findings(rows: &[TrialRow]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        for (name, v) in r.violations() {
            out.push(format!(
                "FINDING: {name} {v:.6} of {} T = {} m = {} trial {} is BELOW the lower Clopper-Pearson limit {:.6} of the measured test error",
                model_name(r.model),
                r.context_len,
                r.num_samples,
                r.trial,
                r.test_lower
            ));
        }
    }
    out
}

/// `Err(Error::Violation)` listing every [`findings`] line if there is one: a certificate
/// below the measured test error's lower Clopper-Pearson limit fails the run (`attnbounds
/// certify` and the `figures` main job both end with this).
pub fn fail_on_findings(rows: &[TrialRow]) -> Result<()> {
    let found = findings(rows);
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Violation {
        claim: "every certificate >= the measured test error's lower Clopper-Pearson limit".into(),
        detail: found.join("; "),
    })
}

/// Runs (or replays) the preset and writes its figures; for the `figures` main job. A
/// certificate below the measured test error's lower limit fails the stage
/// ([`fail_on_findings`]).
pub fn figures(preset: Preset, db: &mut ResultsDb, out_dir: &Path, quiet: bool) -> Gallery {
    let plan = CertPlan::preset(preset);
    let rows = run(&plan, db, quiet)?;
    let entries = write_figures(&plan, &rows, preset, out_dir, quiet)?;
    fail_on_findings(&rows)?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_distinct_and_valid() {
        for p in [Preset::Smoke, Preset::Default, Preset::Paper] {
            let plan = CertPlan::preset(p);
            let cells = plan.cells();
            for c in &cells {
                c.validate().unwrap();
            }
            let hashes: std::collections::BTreeSet<String> = (plan.cert_cells().unwrap())
                .into_iter()
                .map(|c| c.hash)
                .collect();
            assert_eq!(hashes.len(), cells.len());
        }
    }

    #[test]
    fn every_certificate_parameter_changes_the_cell_hash() {
        let plan = CertPlan::preset(Preset::Smoke);
        let hash = |p: &CertPlan| p.cert_cells().unwrap()[0].hash.clone();
        let base = hash(&plan);
        assert_eq!(base, hash(&plan.clone()));
        let fresh = CertPlan {
            fresh_samples: plan.fresh_samples + 1,
            ..plan.clone()
        };
        let draws = CertPlan {
            n_draws: plan.n_draws + 1,
            ..plan.clone()
        };
        assert_ne!(base, hash(&fresh));
        assert_ne!(base, hash(&draws));
        // The stored JSON names every parameter the trial reads.
        let json = &plan.cert_cells().unwrap()[0].json;
        for key in [
            "delta",
            "occam_delta_share",
            "fresh_samples",
            "extraction",
            "influence_inputs",
            "fills",
            "sigma_grid",
            "pac_bayes_delta_share",
            "n_draws",
        ] {
            assert!(
                json.contains(&format!("\"{key}\"")),
                "{key} missing in {json}"
            );
        }
        // The trial reads its parameters from the plan: every field of CertParams is one
        // of the plan's or a documented constant of certify.
        let p = plan.cert_params();
        assert_eq!(p.delta, plan.junta_params(0, 0.5).delta);
        assert_eq!(p.fresh_samples, plan.junta_params(0, 0.5).fresh_samples);
        assert_eq!(p.sigma_grid, plan.pac_bayes_params(0).sigma_grid);
        assert_eq!(p.n_draws, plan.pac_bayes_params(0).n_draws);
    }

    #[test]
    fn smoke_trial_stores_every_certificate() {
        let plan = CertPlan::preset(Preset::Smoke);
        let cell = plan.cell(ModelKind::ClsHead, 10, 100);
        let m = trial_metrics(&plan, &cell, 1).unwrap();
        let row = TrialRow::from_metrics(&cell, 0, &m).unwrap();
        assert!(row.junta > 0.0 && row.junta <= 1.0);
        assert!(row.pac_bayes > 0.0 && row.pac_bayes <= 1.0);
        assert!(row.norm_bound.is_some());
        // The per-tensor breakdown is the head's four tensors; their squared distances sum
        // to the stored total and their KLs to the stored KL (P1), up to the outward rounding.
        let names: Vec<&str> = (row.pac_bayes_sq_by_tensor.iter())
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["w", "w_k", "w_q", "w_v"]);
        let sq: f64 = row.pac_bayes_sq_by_tensor.iter().map(|t| t.1).sum();
        let total = Metric::CertPacBayesSqDistance.require(&m).unwrap();
        assert!((sq - total).abs() <= 1e-12 * total, "{sq} vs {total}");
        let kl: f64 = row.kl_by_tensor().iter().map(|t| t.1).sum();
        assert!(
            (kl - row.pac_bayes_kl).abs() <= 1e-9 * row.pac_bayes_kl,
            "{kl} vs {}",
            row.pac_bayes_kl
        );
        assert!(row.violations().is_empty(), "{:?}", findings(&[row]));
        // Same cell and seed, same metrics.
        assert_eq!(m, trial_metrics(&plan, &cell, 1).unwrap());
    }

    fn row(model: ModelKind, context_len: usize, norm_bound: Option<f64>) -> TrialRow {
        TrialRow {
            model,
            context_len,
            num_samples: 300,
            trial: 0,
            test_error: 0.0,
            test_lower: 0.0,
            test_upper: 2e-4,
            train_error: 0.0,
            junta: 0.08,
            junta_verified: true,
            junta_bits: 29.0,
            junta_hidden_set: true,
            pac_bayes: 0.98,
            pac_bayes_kl: 90.0,
            pac_bayes_sigma: 1.0,
            pac_bayes_sq_by_tensor: vec![("w".into(), 180.0)],
            norm_bound,
        }
    }

    /// Equal values of the two models (as the default preset gives: both at the 1e-4 floor,
    /// equal junta certificates) are drawn as distinguishable series: per quantity (colour) the
    /// theory head solid with filled markers, the Transformer dashed with other, open markers.
    /// The Transformer's missing norm bound is said in the table, not drawn.
    #[test]
    fn figure_tells_equal_models_apart_and_table_says_why_no_norm_bound() {
        let plan = CertPlan::preset(Preset::Default);
        let rows: Vec<TrialRow> = [10, 100]
            .into_iter()
            .flat_map(|t| {
                [
                    row(ModelKind::ClsHead, t, Some(2.2)),
                    row(ModelKind::Transformer, t, None),
                ]
            })
            .collect();
        let fig = figure_vs_context_len(&plan, &rows);
        let drawn: Vec<&Series> = fig
            .series
            .iter()
            .filter(|s| !s.name.starts_with("vacuous"))
            .collect();
        assert_eq!(
            drawn.len(),
            4 + 3,
            "{:?}",
            fig.series.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        for (k, s) in fig.series.iter().enumerate() {
            if s.name.starts_with("vacuous") {
                continue;
            }
            let theory = s.name.starts_with("theory head (ClsHead): ");
            assert!(theory || s.name.starts_with("Transformer: "), "{}", s.name);
            assert_eq!(s.dashed, !theory, "{}", s.name);
            for (j, o) in fig.series.iter().enumerate() {
                if j != k && o.color == s.color && !o.name.starts_with("vacuous") {
                    assert_ne!(
                        (s.marker_at(k), s.dashed),
                        (o.marker_at(j), o.dashed),
                        "{} and {} look alike",
                        s.name,
                        o.name
                    );
                    assert_ne!(s.marker_at(k), o.marker_at(j), "{} / {}", s.name, o.name);
                }
            }
        }
        assert!(
            !fig.series
                .iter()
                .any(|s| s.name.starts_with("Transformer: best norm"))
        );
        let t = table(&rows);
        assert!(
            t.contains("n/a*") && t.contains(NO_NORM_BOUND_TRANSFORMER),
            "{t}"
        );
        assert_eq!(t.matches(NO_NORM_BOUND_TRANSFORMER).count(), 1, "{t}");
        assert_eq!(no_norm_bound_reason(ModelKind::ClsHead), None);
    }

    #[test]
    fn violation_is_reported() {
        let plan = CertPlan::preset(Preset::Smoke);
        let cell = plan.cell(ModelKind::ClsHead, 10, 100);
        let mut m = trial_metrics(&plan, &cell, 1).unwrap();
        Metric::PopulationLower.put(&mut m, 0.9);
        let row = TrialRow::from_metrics(&cell, 0, &m).unwrap();
        let f = findings(std::slice::from_ref(&row));
        assert!(
            f.iter()
                .any(|s| s.contains("junta certificate") && s.contains("BELOW")),
            "{f:?}"
        );
        // ... and it fails the run.
        match fail_on_findings(std::slice::from_ref(&row)) {
            Err(Error::Violation { detail, .. }) => assert!(detail.contains("BELOW"), "{detail}"),
            other => panic!("a certificate below the measured error passed: {other:?}"),
        }
        let mut fine = row;
        fine.test_lower = 0.0;
        assert!(fail_on_findings(&[fine]).is_ok());
    }
}

#[cfg(test)]
mod trained {
    use super::*;

    /// The T = 1e4 cell of the growth target (T = 100 -> 1e4 at m = 300), both model classes,
    /// with the default plan's training and certificates; prints the wall time of each trial.
    #[test]
    #[ignore = "trains T = 1e4 cells (minutes in release); run in release with --ignored --nocapture"]
    fn t1e4_cells() {
        let plan = CertPlan::preset(Preset::Default);
        for model in [ModelKind::ClsHead, ModelKind::Transformer] {
            let cell = plan.cell(model, 10_000, plan.num_samples);
            let start = std::time::Instant::now();
            let m = trial_metrics(&plan, &cell, training_seed(&plan, &cell, 0).unwrap()).unwrap();
            let secs = start.elapsed().as_secs_f64();
            let row = TrialRow::from_metrics(&cell, 0, &m).unwrap();
            eprintln!("{secs:.1} s\n{}", table(std::slice::from_ref(&row)));
            assert!(row.violations().is_empty(), "{:?}", findings(&[row]));
        }
    }

    /// Regression of the session-24 finding: in this cell (test error 0 on 20 000 fresh
    /// inputs) the extraction took I = {321, 583, 980} for the hidden {321, 455, 583}, and the
    /// sampled route certified 0.356 (1325 of 10^4 fresh disagreements). With the output flip
    /// influence it finds the hidden set; measured then: 0 disagreements, certificate 0.0306.
    #[test]
    #[ignore = "trains the T = 1000, m = 1000 cell of the theory's head (about 1 minute); run with --ignored --nocapture"]
    fn t1000_m1000_cell_finds_the_hidden_set() {
        let plan = CertPlan::preset(Preset::Default);
        let cell = plan.cell(ModelKind::ClsHead, 1000, 1000);
        let seed = training_seed(&plan, &cell, 0).unwrap();
        let (trained, c) = certify_trial(&plan, &cell, seed).unwrap();
        let pop = trained.report.population;
        eprintln!(
            "test error {} [{}, {}], I = {:?} (hidden {:?}), route {:?}, certificate {}",
            pop.estimate,
            pop.lower,
            pop.upper,
            c.junta.positions,
            trained.task.support(),
            c.junta.route,
            c.junta.certified_error_model
        );
        assert!(c.found_hidden_set);
        assert!(c.junta.certified_error_model >= pop.lower);
        assert!(c.junta.certified_error_model < 0.15);
    }
}
