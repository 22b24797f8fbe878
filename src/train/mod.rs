//! Training of the two model classes of docs/experiments.md §2 on a sparse Boolean task, and the
//! measurements the generalization experiments need.
//!
//! - (a) the theory's class, [`FixedEmbeddingHead`]: a [`ClsHead`] (rank r = k = `value_dim`,
//!   sigma = `head_activation`) on the fixed embedding `Embedding::fixed_bits(T, OneHot)` (d = T + 3), optionally
//!   kept in a norm ball after every step ([`projection`]);
//! - (b) a one-block \[CLS\] Transformer with learned embeddings (identity heads, ReLU MLP),
//!   trained through the \[CLS\]-only path (`value_and_grad_cls`).
//!
//! This is the crate's one trainer: every experiment that trains calls [`train_cell`] or
//! [`TrainedModel::train`] / [`train_loop`]. The loop takes its minibatches from a fixed sample
//! or from fresh samples of the task ([`Batches`]) and stops by the configured
//! [`crate::config::StopRule`]: max steps, target reached (plus no progress), or the first fit
//! of the training sample.
//!
//! [`train_cell`] is one trial: from one seed it draws the hidden index set, the training
//! sample, the initial weights and the minibatch order (one ChaCha8 stream, in that order),
//! trains in f32 (single thread), and measures training error and loss, the population error
//! (exact for T <= 20, else a fresh sample with a Clopper-Pearson interval; drawn after
//! training and never used to select anything), margins and every norm. Same cell and seed,
//! same numbers (except the wall-clock `train_time_s`, which is not among the metrics).
//! This module never touches the results store and never renders.

mod fit;
mod loss;
mod measure;
pub mod projection;
mod protocol;

#[cfg(test)]
mod tests;

pub use fit::{
    Batches, FixedEmbeddingHead, LoopReport, SampleFit, StopReason, Trainable, fit_on, train_loop,
};
pub use loss::Loss;
pub use measure::{
    HeadNorms, Margins, Norms, cls_head_norms, embedding_b_x, margins, transformer_norms,
};
pub use protocol::{PROTOCOL_INIT_STD, ProtocolTrainee, protocol_norms};

use crate::config::{CellConfig, ModelKind, RadiusRule, TrainConfig};
use crate::error::Result;
use crate::model::{
    Activation, ClsHead, Embedding, Positional, TokenBatch, Transformer, TransformerConfig,
};
use crate::optim::Parameters;
use crate::results::Metrics;
use crate::tasks::{Dataset, PopulationError, PopulationOptions, Task, try_population_error};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A trained model of either class.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one value per trial
pub enum TrainedModel {
    ClsHead(FixedEmbeddingHead),
    Transformer(Transformer<f32>),
    /// `model = "paper_protocol"` (module `protocol`).
    Protocol(ProtocolTrainee),
}

impl TrainedModel {
    /// Real-valued predictions f(x) for a sample (sign is the class).
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        match self {
            TrainedModel::ClsHead(m) => m.predict(batch),
            TrainedModel::Transformer(m) => m.predict(batch),
            TrainedModel::Protocol(m) => m.predict(batch),
        }
    }

    /// Trains in place with [`train_loop`] under `cfg` (its loss, optimiser and stop rule).
    pub fn train(&mut self, batches: Batches<'_>, cfg: &TrainConfig) -> Result<LoopReport> {
        let loss = Loss::from_config(cfg.loss, cfg.gamma);
        match self {
            TrainedModel::ClsHead(m) => train_loop(m, batches, cfg, loss),
            TrainedModel::Transformer(m) => train_loop(m, batches, cfg, loss),
            TrainedModel::Protocol(m) => train_loop(m, batches, cfg, loss),
        }
    }

    pub fn num_params(&self) -> usize {
        match self {
            TrainedModel::ClsHead(m) => m.num_params(),
            TrainedModel::Transformer(m) => m.num_params(),
            TrainedModel::Protocol(m) => m.num_params(),
        }
    }

    /// d, the width of X~'s rows.
    pub fn width(&self) -> usize {
        match self {
            TrainedModel::ClsHead(m) => m.head.width(),
            TrainedModel::Transformer(m) => m.width(),
            TrainedModel::Protocol(m) => m.width(),
        }
    }
}

/// Everything measured in one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Fraction of training samples with `y f <= 0`.
    pub train_error: f64,
    /// Mean training loss (the configured loss, without the weight penalty).
    pub train_loss: f64,
    pub population: PopulationError,
    /// `population.estimate - train_error`.
    pub gap: f64,
    /// On the training sample, with the configured `gamma`.
    pub margins: Margins,
    pub norms: Norms,
    pub steps: usize,
    /// `steps * min(batch_size, m) / m`.
    pub epochs: f64,
    pub stop: StopReason,
    pub train_time_s: f64,
    pub num_params: usize,
}

impl TrainReport {
    /// Flat metrics for the results store. Head norms are the max over heads (the radius a
    /// per-layer bound takes); with several heads each is also stored as `heads[h].<name>`.
    pub fn metrics(&self) -> Metrics {
        use crate::metrics::{Metric as K, head_key};
        let mut m = Metrics::new();
        let n = &self.norms;
        let (pop, mg) = (&self.population, &self.margins);
        for (k, v) in [
            (K::TrainError, self.train_error),
            (K::TrainLoss, self.train_loss),
            (K::TrainRampLoss, mg.ramp_loss),
            (K::PopulationError, pop.estimate),
            (K::PopulationLower, pop.lower),
            (K::PopulationUpper, pop.upper),
            (K::PopulationExact, f64::from(u8::from(pop.exact))),
            (K::PopulationN, pop.n as f64),
            (K::Gap, self.gap),
            (K::GapRamp, pop.estimate - mg.ramp_loss),
            (K::MarginMin, mg.min),
            (K::MarginMedian, mg.median),
            (K::MarginMean, mg.mean),
            (K::MarginBelowGamma, mg.below_gamma),
            (K::BX, n.b_x),
            (K::ThetaFro, n.max_over_heads(|h| h.theta_fro)),
            (K::Theta21, n.max_over_heads(|h| h.theta_21)),
            (K::ThetaSpectral, n.max_over_heads(|h| h.theta_spectral)),
            (K::WVSpectral, n.max_over_heads(|h| h.w_v_spectral)),
            (K::WV21, n.max_over_heads(|h| h.w_v_21)),
        ] {
            k.put(&mut m, v);
        }
        if n.heads.iter().all(|h| h.w_c_spectral.is_some()) && !n.heads.is_empty() {
            let spectral = n.max_over_heads(|h| h.w_c_spectral.unwrap_or(0.0));
            K::WCSpectral.put(&mut m, spectral);
            K::WC21.put(&mut m, n.max_over_heads(|h| h.w_c_21.unwrap_or(0.0)));
        }
        if n.heads.len() > 1 {
            for (i, h) in n.heads.iter().enumerate() {
                let mut per_head = vec![
                    (K::ThetaFro, h.theta_fro),
                    (K::Theta21, h.theta_21),
                    (K::WVSpectral, h.w_v_spectral),
                    (K::WV21, h.w_v_21),
                ];
                if let (Some(s), Some(t)) = (h.w_c_spectral, h.w_c_21) {
                    per_head.extend([(K::WCSpectral, s), (K::WC21, t)]);
                }
                for (k, v) in per_head {
                    m.insert(head_key(i, k), v);
                }
            }
        }
        if let Some((a, b)) = n.mlp_spectral {
            K::MlpW1Spectral.put(&mut m, a);
            K::MlpW2Spectral.put(&mut m, b);
        }
        for (k, v) in [
            (K::WL2, n.w_l2),
            (K::Steps, self.steps as f64),
            (K::Epochs, self.epochs),
            (K::StopReason, self.stop.code()),
            (K::NumParams, self.num_params as f64),
        ] {
            k.put(&mut m, v);
        }
        m
    }
}

/// A trained model, the task it was trained on (its hidden index set included) and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    pub task: Task,
    pub model: TrainedModel,
    pub report: TrainReport,
}

/// The model of a cell with its initial weights drawn from `rng`.
pub fn init_model(cell: &CellConfig, rng: &mut ChaCha8Rng) -> Result<TrainedModel> {
    let tc = &cell.train;
    Ok(match cell.model {
        ModelKind::ClsHead => {
            let embedding = Embedding::fixed_bits(cell.context_len, Positional::OneHot)?;
            let k = tc.value_dim;
            let head = ClsHead::random(
                embedding.width(),
                k,
                k,
                tc.head_activation,
                tc.init_scale,
                rng,
            )?;
            TrainedModel::ClsHead(FixedEmbeddingHead::new(head, embedding))
        }
        ModelKind::Transformer => TrainedModel::Transformer(Transformer::random(
            &TransformerConfig {
                context_len: cell.context_len,
                vocab: 2,
                width: tc.width,
                heads: tc.heads,
                head_dim: tc.value_dim,
                mlp_width: tc.mlp_width,
                layers: 1,
                attn_activation: Activation::Identity,
                mlp_activation: Activation::Relu,
                init_scale: tc.init_scale,
            },
            rng,
        )?),
        ModelKind::PaperProtocol => TrainedModel::Protocol(ProtocolTrainee::init(cell, rng)?),
    })
}

/// One trial of a cell from one seed (module doc). Errors on an invalid cell before any work.
pub fn train_cell(cell: &CellConfig, seed: u64) -> Result<Trained> {
    cell.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let task = Task::new(cell.task_kind()?, cell.context_len, cell.sparsity, &mut rng)?;
    let data = task.sample(cell.num_samples, &mut rng)?;
    let mut model = init_model(cell, &mut rng)?;
    let order_rng = ChaCha8Rng::seed_from_u64(rng.random::<u64>());
    let batches = Batches::Sample {
        data: &data,
        order_rng,
    };
    // The radius rule is resolved here, from the cell alone, before any step.
    let train = TrainConfig {
        norm_ball: projection::resolve_ball(cell)?,
        radius_rule: RadiusRule::Fixed,
        ..cell.train.clone()
    };
    let run = model.train(batches, &train)?;
    let loss = Loss::from_config(cell.train.loss, cell.train.gamma);
    let report = measure(cell, &task, &data, &model, loss, run, &mut rng)?;
    Ok(Trained {
        task,
        model,
        report,
    })
}

fn measure(
    cell: &CellConfig,
    task: &Task,
    data: &Dataset,
    model: &TrainedModel,
    loss: Loss,
    run: LoopReport,
    rng: &mut ChaCha8Rng,
) -> Result<TrainReport> {
    let (fit, preds) = match model {
        TrainedModel::ClsHead(m) => fit_on(m, data, loss)?,
        TrainedModel::Transformer(m) => fit_on(m, data, loss)?,
        TrainedModel::Protocol(m) => fit_on(m, data, loss)?,
    };
    let population = population_of(model, task, cell.train.population_samples, rng)?;
    let norms = match model {
        TrainedModel::ClsHead(m) => cls_head_norms(&m.head, &m.embedding)?,
        TrainedModel::Transformer(m) => transformer_norms(m)?,
        TrainedModel::Protocol(m) => protocol_norms(&m.model)?,
    };
    let m = data.len();
    Ok(TrainReport {
        train_error: fit.error,
        train_loss: fit.loss,
        gap: population.estimate - fit.error,
        population,
        margins: margins(&preds, data.labels(), cell.train.gamma),
        norms,
        steps: run.steps,
        epochs: (run.steps * cell.train.batch_size.min(m)) as f64 / m as f64,
        stop: run.stop,
        train_time_s: run.train_time_s,
        num_params: model.num_params(),
    })
}

/// Population error of `model` on `task`: the one rule every experiment uses (exact by
/// enumeration for T <= 20, else `fresh_samples` fresh examples with a Clopper-Pearson
/// interval, `tasks::PopulationOptions::default()` otherwise); the first error of the model is
/// passed through rather than hidden behind a NaN prediction.
pub fn population_of(
    model: &TrainedModel,
    task: &Task,
    fresh_samples: usize,
    rng: &mut ChaCha8Rng,
) -> Result<PopulationError> {
    let opts = PopulationOptions {
        num_samples: fresh_samples,
        ..PopulationOptions::default()
    };
    try_population_error(
        task,
        |d: &Dataset| {
            let b = TokenBatch::new(d.context_len(), d.bits().to_vec())?;
            Ok(model.predict(&b)?.into_iter().map(f64::from).collect())
        },
        &opts,
        rng,
    )
}
