//! One trial of the critical-sample-size experiment: draw a hidden set, a sample and an
//! initialisation; train until the sample is fit; measure the population error.
//!
//! A minimal trainer of our own (the shared `train` module was not available when this was
//! written): full-batch logistic loss, `optim::Adam`, gradients through the [CLS]-only token
//! table (`Transformer::value_and_grad_cls`, `ClsHead::backward_tokens`). Training stops as soon
//! as every training example has margin y f(x) > 0 (checked every step on the training sample
//! only: the test sample is never used to select anything), or after `train.steps` steps.

use crate::config::{CellConfig, ModelKind};
use crate::error::Result;
use crate::model::{
    Activation, ClsHead, Embedding, Positional, TokenBatch, Transformer, TransformerConfig,
};
use crate::optim::{Adam, Optimizer};
use crate::results::Metrics;
use crate::tasks::{PopulationOptions, Task, try_population_error};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Fresh test sample size for T > 12 (exact enumeration up to 2^12 inputs below); Clopper-Pearson
/// interval at delta 0.05 is stored, success uses the point estimate.
pub const POPULATION_SAMPLES: usize = 2000;

/// The model of one trial, trained by [`train_until_fit`].
pub enum TrialModel {
    /// The theory's head on the fixed SPEC 4 bit embedding with one-hot positions.
    Head(ClsHead<f32>, Embedding<f32>),
    /// A one-block [CLS] Transformer with learned embeddings.
    Transformer(Transformer<f32>),
}

impl TrialModel {
    /// A fresh initialisation for a cell.
    pub fn init<R: Rng + ?Sized>(cell: &CellConfig, rng: &mut R) -> Result<TrialModel> {
        let t = &cell.train;
        match cell.model {
            ModelKind::ClsHead => {
                // The SPEC 4 layout with one-hot positions (d = T + 3), the embedding of the
                // explicit construction, so trained and constructed norms are comparable.
                // `train.width` is unused for this model.
                let emb = Embedding::fixed_bits(cell.context_len, Positional::OneHot)?;
                let head = ClsHead::random(
                    emb.width(),
                    t.value_dim,
                    t.value_dim,
                    Activation::Relu,
                    1.0,
                    rng,
                )?;
                Ok(TrialModel::Head(head, emb))
            }
            ModelKind::Transformer => {
                let cfg = TransformerConfig {
                    context_len: cell.context_len,
                    vocab: 2,
                    width: t.width,
                    heads: t.heads,
                    head_dim: t.value_dim,
                    mlp_width: t.mlp_width,
                    layers: 1,
                    attn_activation: Activation::Identity,
                    mlp_activation: Activation::Relu,
                    init_scale: 1.0,
                };
                Ok(TrialModel::Transformer(Transformer::random(&cfg, rng)?))
            }
        }
    }

    /// Scores f(x) of every sequence of a batch.
    pub fn predict(&self, batch: &TokenBatch) -> Result<Vec<f64>> {
        let p = match self {
            TrialModel::Head(h, e) => h.forward_tokens(e, batch)?.predictions,
            TrialModel::Transformer(tf) => tf.forward_cls(batch)?.predictions,
        };
        Ok(p.into_iter().map(f64::from).collect())
    }
}

/// Result of [`train_until_fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOutcome {
    pub steps: usize,
    pub train_error: f64,
    pub final_loss: f64,
}

/// Logistic loss (1/m) sum ln(1 + e^{-y f}) and its derivative in f, stable for large |f|.
pub fn logistic(y: f32, f: f32, m: usize) -> (f64, f32) {
    let z = -(y as f64) * f as f64;
    let loss = if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    };
    let sig = 1.0 / (1.0 + (-z).exp()); // sigmoid(-y f)
    (loss / m as f64, (-(y as f64) * sig / m as f64) as f32)
}

/// One step: loss and gradient on `batch`, then an Adam update unless `skip_if_fit` and every
/// margin is positive. Returns (mean logistic loss, training errors), both measured before the
/// update.
pub fn adam_step(
    model: &mut TrialModel,
    adam: &mut Adam<f32>,
    batch: &TokenBatch,
    labels: &[i8],
    skip_if_fit: bool,
) -> Result<(f64, usize)> {
    let m = labels.len();
    let mut loss = 0.0;
    let mut wrong = 0usize;
    let mut dloss = |i: usize, f: f32| {
        let y = labels[i] as f32;
        let (l, d) = logistic(y, f, m);
        loss += l;
        if y * f <= 0.0 {
            wrong += 1;
        }
        d
    };
    match model {
        TrialModel::Head(h, e) => {
            let cache = h.forward_tokens(e, batch)?;
            let g: Vec<f32> = cache
                .predictions
                .iter()
                .enumerate()
                .map(|(i, &f)| dloss(i, f))
                .collect();
            let grad = h.backward_tokens(e, batch, &cache, &g)?;
            if wrong > 0 || !skip_if_fit {
                adam.step(h, &grad)?;
            }
        }
        TrialModel::Transformer(tf) => {
            let (_, grad) = tf.value_and_grad_cls(batch, &mut dloss)?;
            if wrong > 0 || !skip_if_fit {
                adam.step(tf, &grad)?;
            }
        }
    }
    crate::error::check::finite("training loss", loss)?;
    Ok((loss, wrong))
}

/// Full-batch Adam on the logistic loss until every margin is positive (then the last update is
/// skipped and training stops) or `max_steps`.
pub fn train_until_fit(
    model: &mut TrialModel,
    batch: &TokenBatch,
    labels: &[i8],
    learning_rate: f64,
    max_steps: usize,
) -> Result<TrainOutcome> {
    let mut adam = Adam::<f32>::new(learning_rate)?;
    let mut last = TrainOutcome {
        steps: 0,
        train_error: 1.0,
        final_loss: f64::NAN,
    };
    for step in 0..max_steps {
        let (loss, wrong) = adam_step(model, &mut adam, batch, labels, true)?;
        last = TrainOutcome {
            steps: step + 1,
            train_error: wrong as f64 / labels.len() as f64,
            final_loss: loss,
        };
        if wrong == 0 {
            break;
        }
    }
    Ok(last)
}

/// The trial function of the experiment: metrics `population_error`, `population_error_upper`,
/// `population_exact`, `train_error`, `steps`, `train_s` (seconds in training steps) and
/// `eval_s`. A fresh hidden set, sample and initialisation per seed.
pub fn run_trial(cell: &CellConfig, seed: u64) -> Result<Metrics> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let task = Task::new(cell.task_kind()?, cell.context_len, cell.sparsity, &mut rng)?;
    let data = task.sample(cell.num_samples, &mut rng)?;
    let batch = TokenBatch::new(cell.context_len, data.bits().to_vec())?;
    let mut model = TrialModel::init(cell, &mut rng)?;
    let clock = Instant::now();
    let out = train_until_fit(
        &mut model,
        &batch,
        data.labels(),
        cell.train.learning_rate,
        cell.train.steps,
    )?;
    let train_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let opts = PopulationOptions {
        num_samples: POPULATION_SAMPLES,
        exact_max_context_len: 12,
        ..PopulationOptions::default()
    };
    let pop = try_population_error(
        &task,
        |chunk| {
            model.predict(&TokenBatch::new(
                chunk.context_len(),
                chunk.bits().to_vec(),
            )?)
        },
        &opts,
        &mut rng,
    )?;
    let mut metrics = Metrics::new();
    metrics.insert("population_error".into(), pop.estimate);
    metrics.insert("population_error_upper".into(), pop.upper);
    metrics.insert("population_exact".into(), f64::from(u8::from(pop.exact)));
    metrics.insert("train_error".into(), out.train_error);
    metrics.insert("steps".into(), out.steps as f64);
    metrics.insert("train_s".into(), train_s);
    metrics.insert("eval_s".into(), clock.elapsed().as_secs_f64());
    if let TrialModel::Head(h, e) = &model {
        // Trained radii for the bound overlay (SPEC 3 notation; bounds::HeadRadii).
        let f64m = |m: &crate::tensor::Mat<f32>| m.cast::<f64>().to_dmatrix();
        let table = e.table();
        let row_norm = |r: &[f32]| r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        let x_max = (0..table.rows)
            .map(|i| row_norm(table.row(i)))
            .fold(row_norm(&e.cls), f64::max);
        metrics.insert("b_x".into(), x_max);
        metrics.insert("b_qk".into(), crate::norms::frobenius(&f64m(&h.theta()))?);
        metrics.insert("b_v".into(), crate::norms::spectral_svd(&f64m(&h.w_v))?);
        metrics.insert("b_v21".into(), crate::norms::norm_21(&f64m(&h.w_v))?);
        let w: f64 = h.w.iter().map(|&v| (v as f64).powi(2)).sum();
        metrics.insert("b_w".into(), w.sqrt());
    }
    Ok(metrics)
}
