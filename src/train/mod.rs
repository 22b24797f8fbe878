//! Training of the two model classes of SPEC 5.2 on a sparse Boolean task, and the
//! measurements the generalization experiments need.
//!
//! - (a) the theory's class, [`FixedEmbeddingHead`]: a [`ClsHead`] (rank r = k = `value_dim`,
//!   sigma = `head_activation`) on the fixed embedding `Embedding::fixed_bits(T, OneHot)` (d = T + 3), optionally
//!   kept in a norm ball after every step ([`projection`]);
//! - (b) a one-block [CLS] Transformer with learned embeddings (identity heads, ReLU MLP),
//!   trained through the [CLS]-only path (`value_and_grad_cls`).
//!
//! [`train_cell`] is one trial: from one seed it draws the hidden index set, the training
//! sample, the initial weights and the minibatch order (one ChaCha8 stream, in that order),
//! trains in f32 (single thread), and measures training error and loss, the population error
//! (exact for T <= 20, else a fresh sample with a Clopper-Pearson interval; drawn after
//! training and never used to select anything), margins and every norm. Same cell and seed,
//! same numbers (except the wall-clock `train_time_s`).
//! This module never touches the results store and never renders.

mod fit;
mod loss;
mod measure;
pub mod projection;

#[cfg(test)]
mod tests;

pub use fit::{
    FixedEmbeddingHead, LoopReport, SampleFit, StopReason, Trainable, fit_on, train_loop,
};
pub use loss::Loss;
pub use measure::{
    HeadNorms, Margins, Norms, cls_head_norms, embedding_b_x, margins, transformer_norms,
};

use crate::config::{CellConfig, ModelKind};
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
pub enum TrainedModel {
    ClsHead(FixedEmbeddingHead),
    Transformer(Transformer<f32>),
}

impl TrainedModel {
    /// Real-valued predictions f(x) for a sample (sign is the class).
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        match self {
            TrainedModel::ClsHead(m) => m.predict(batch),
            TrainedModel::Transformer(m) => m.predict(batch),
        }
    }

    pub fn num_params(&self) -> usize {
        match self {
            TrainedModel::ClsHead(m) => m.num_params(),
            TrainedModel::Transformer(m) => m.num_params(),
        }
    }

    /// d, the width of X~'s rows.
    pub fn width(&self) -> usize {
        match self {
            TrainedModel::ClsHead(m) => m.head.width(),
            TrainedModel::Transformer(m) => m.width(),
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
        let mut m = Metrics::new();
        let n = &self.norms;
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_string(), v);
        };
        put("train_error", self.train_error);
        put("train_loss", self.train_loss);
        put("train_ramp_loss", self.margins.ramp_loss);
        put("population_error", self.population.estimate);
        put("population_lower", self.population.lower);
        put("population_upper", self.population.upper);
        put(
            "population_exact",
            f64::from(u8::from(self.population.exact)),
        );
        put("population_n", self.population.n as f64);
        put("gap", self.gap);
        put(
            "gap_ramp",
            self.population.estimate - self.margins.ramp_loss,
        );
        put("margin_min", self.margins.min);
        put("margin_median", self.margins.median);
        put("margin_mean", self.margins.mean);
        put("margin_below_gamma", self.margins.below_gamma);
        put("b_x", n.b_x);
        put("theta_fro", n.max_over_heads(|h| h.theta_fro));
        put("theta_21", n.max_over_heads(|h| h.theta_21));
        put("theta_spectral", n.max_over_heads(|h| h.theta_spectral));
        put("w_v_spectral", n.max_over_heads(|h| h.w_v_spectral));
        put("w_v_21", n.max_over_heads(|h| h.w_v_21));
        if n.heads.iter().all(|h| h.w_c_spectral.is_some()) && !n.heads.is_empty() {
            put(
                "w_c_spectral",
                n.max_over_heads(|h| h.w_c_spectral.unwrap_or(0.0)),
            );
            put("w_c_21", n.max_over_heads(|h| h.w_c_21.unwrap_or(0.0)));
        }
        if n.heads.len() > 1 {
            for (i, h) in n.heads.iter().enumerate() {
                put(&format!("heads[{i}].theta_fro"), h.theta_fro);
                put(&format!("heads[{i}].theta_21"), h.theta_21);
                put(&format!("heads[{i}].w_v_spectral"), h.w_v_spectral);
                put(&format!("heads[{i}].w_v_21"), h.w_v_21);
                if let (Some(s), Some(t)) = (h.w_c_spectral, h.w_c_21) {
                    put(&format!("heads[{i}].w_c_spectral"), s);
                    put(&format!("heads[{i}].w_c_21"), t);
                }
            }
        }
        if let Some((a, b)) = n.mlp_spectral {
            put("mlp_w1_spectral", a);
            put("mlp_w2_spectral", b);
        }
        put("w_l2", n.w_l2);
        put("steps", self.steps as f64);
        put("epochs", self.epochs);
        put("stop_reason", self.stop.code());
        put("train_time_s", self.train_time_s);
        put("num_params", self.num_params as f64);
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
            TrainedModel::ClsHead(FixedEmbeddingHead { head, embedding })
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
    let tc = &cell.train;
    let loss = Loss::from_config(tc.loss, tc.gamma);
    let run = match &mut model {
        TrainedModel::ClsHead(m) => train_loop(m, &data, tc, loss, order_rng)?,
        TrainedModel::Transformer(m) => train_loop(m, &data, tc, loss, order_rng)?,
    };
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
    };
    let population = population_of(model, task, cell.train.population_samples, rng)?;
    let norms = match model {
        TrainedModel::ClsHead(m) => cls_head_norms(&m.head, &m.embedding)?,
        TrainedModel::Transformer(m) => transformer_norms(m)?,
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

/// Population error of `model` on `task` (exact for T <= 20), the first error of the model
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
