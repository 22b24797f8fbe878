//! The training loop: a minibatch [`Objective`] over a token sample, the shared
//! [`crate::optim::minimize`] loop run in chunks, and the stopping rules between chunks.

use super::loss::Loss;
use super::projection::{project_head, project_transformer};
use crate::config::{NormBall, OptimizerName, StopRule, TrainConfig};
use crate::error::{Error, Result};
use crate::model::{ClsHead, Embedding, TableRows, TokenBatch, Transformer};
use crate::optim::{Adam, Objective, Optimizer, Parameters, Projection, Sgd, minimize};
use crate::tasks::{Dataset, Task};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// A model the loop can train: f32 parameters, predictions on a token batch, the gradient of
/// `sum_i L_i(f_i)` and the bounded-norm retraction.
pub trait Trainable: Parameters<f32> + Sized {
    fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>>;
    /// Predictions; overwrites `grad` with the gradient of `sum_i L_i(f_i)` where
    /// `dloss(i, f_i) = dL_i/df_i`.
    fn predict_and_grad(
        &self,
        batch: &TokenBatch,
        dloss: &mut dyn FnMut(usize, f32) -> f32,
        grad: &mut Self,
    ) -> Result<Vec<f32>>;
    fn project(&mut self, ball: &NormBall) -> Result<()>;
}

/// The theory's class: a [`ClsHead`] on the fixed embedding of docs/constructions.md. Only the head's
/// weights are parameters; the embedding is carried along, never trained, with its token-table
/// rows built once ([`TableRows::of`]: sparse for one-hot positions), so a step costs ~ T r
/// for the table products instead of ~ T^2 r. Build it with [`FixedEmbeddingHead::new`]; the
/// rows are those of `embedding` as given there (do not replace the embedding afterwards).
/// The embedding and its rows are shared ([`Arc`]): a gradient buffer (`zeros_like`) does not
/// copy the T x d positional table.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedEmbeddingHead {
    pub head: ClsHead<f32>,
    pub embedding: Arc<Embedding<f32>>,
    rows: Arc<TableRows<f32>>,
}

impl FixedEmbeddingHead {
    /// The head on `embedding`, with the table rows of [`TableRows::of`].
    pub fn new(head: ClsHead<f32>, embedding: Embedding<f32>) -> Self {
        let rows = Arc::new(TableRows::of(&embedding));
        FixedEmbeddingHead {
            head,
            embedding: Arc::new(embedding),
            rows,
        }
    }

    /// The same with the dense table rows (the reference path, for checks and benchmarks).
    pub fn with_dense_rows(head: ClsHead<f32>, embedding: Embedding<f32>) -> Self {
        let rows = Arc::new(TableRows::dense(&embedding));
        FixedEmbeddingHead {
            head,
            embedding: Arc::new(embedding),
            rows,
        }
    }

    /// The table rows every step uses.
    pub fn rows(&self) -> &TableRows<f32> {
        &self.rows
    }
}

crate::optim::delegate_parameters!(FixedEmbeddingHead, f32, head);

impl Trainable for FixedEmbeddingHead {
    fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        Ok(self
            .head
            .forward_rows(&self.embedding, &self.rows, batch)?
            .predictions)
    }
    fn predict_and_grad(
        &self,
        batch: &TokenBatch,
        dloss: &mut dyn FnMut(usize, f32) -> f32,
        grad: &mut Self,
    ) -> Result<Vec<f32>> {
        let cache = self.head.forward_rows(&self.embedding, &self.rows, batch)?;
        let dl: Vec<f32> = (cache.predictions.iter().enumerate())
            .map(|(i, &f)| dloss(i, f))
            .collect();
        grad.head = self
            .head
            .backward_tokens(&self.embedding, batch, &cache, &dl)?;
        Ok(cache.predictions)
    }
    fn project(&mut self, ball: &NormBall) -> Result<()> {
        project_head(ball, &mut self.head)
    }
}

impl Trainable for Transformer<f32> {
    fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        Ok(self.forward_cls(batch)?.predictions)
    }
    fn predict_and_grad(
        &self,
        batch: &TokenBatch,
        dloss: &mut dyn FnMut(usize, f32) -> f32,
        grad: &mut Self,
    ) -> Result<Vec<f32>> {
        let (predictions, g) = self.value_and_grad_cls(batch, dloss)?;
        *grad = g;
        Ok(predictions)
    }
    fn project(&mut self, ball: &NormBall) -> Result<()> {
        project_transformer(ball, self)
    }
}

/// Projection onto the configured ball, or none.
struct Ball(Option<NormBall>);

impl<P: Trainable> Projection<P> for Ball {
    fn project(&self, params: &mut P) -> Result<()> {
        match &self.0 {
            Some(ball) => params.project(ball),
            None => Ok(()),
        }
    }
}

enum AnyOptimizer {
    Adam(Adam<f32>),
    Sgd(Sgd<f32>),
}

impl Optimizer<f32> for AnyOptimizer {
    fn step<P: Parameters<f32>>(&mut self, params: &mut P, grad: &P) -> Result<()> {
        match self {
            AnyOptimizer::Adam(o) => o.step(params, grad),
            AnyOptimizer::Sgd(o) => o.step(params, grad),
        }
    }
}

/// Where the loop's minibatches come from.
#[allow(clippy::large_enum_variant)] // one short-lived value per training run
pub enum Batches<'a> {
    /// A fixed training sample: minibatches of `batch_size` drawn without replacement, epoch by
    /// epoch, in an order shuffled by `order_rng` (the whole sample, in order, when
    /// `batch_size >= m`).
    Sample {
        data: &'a Dataset,
        order_rng: ChaCha8Rng,
    },
    /// Fresh samples: every step draws `batch_size` new examples of `task` from `rng` (online
    /// training on unlimited data). There is no training sample, so only
    /// [`StopRule::MaxSteps`] applies.
    Fresh {
        task: &'a Task,
        rng: &'a mut ChaCha8Rng,
    },
}

#[allow(clippy::large_enum_variant)] // one per training run
enum Source<'a> {
    Sample {
        data: &'a Dataset,
        order: Vec<usize>,
        cursor: usize,
        rng: ChaCha8Rng,
    },
    Fresh {
        task: &'a Task,
        rng: &'a mut ChaCha8Rng,
    },
}

/// Mean loss (plus the L2 penalty) on the next minibatch of its [`Source`]. The mean is
/// accumulated as a sum of `L_i / n`, the arithmetic of the per-step losses stored by the
/// sparse-parity experiment, so its curves are reproduced bit for bit.
struct BatchObjective<'a> {
    source: Source<'a>,
    loss: Loss,
    weight_decay: f64,
    batch_size: usize,
}

impl BatchObjective<'_> {
    fn next_batch(&mut self) -> Result<(TokenBatch, Vec<i8>)> {
        let (data, order, cursor, rng) = match &mut self.source {
            Source::Fresh { task, rng } => {
                let d = task.sample(self.batch_size, &mut **rng)?;
                return Ok((
                    TokenBatch::new(d.context_len(), d.bits().to_vec())?,
                    d.labels().to_vec(),
                ));
            }
            Source::Sample {
                data,
                order,
                cursor,
                rng,
            } => (*data, order, cursor, rng),
        };
        let (m, t) = (data.len(), data.context_len());
        if self.batch_size >= m {
            return Ok((
                TokenBatch::new(t, data.bits().to_vec())?,
                data.labels().to_vec(),
            ));
        }
        let mut bits = Vec::with_capacity(self.batch_size * t);
        let mut labels = Vec::with_capacity(self.batch_size);
        for _ in 0..self.batch_size {
            if *cursor == 0 {
                // Fisher-Yates shuffle at the start of every epoch.
                for i in (1..m).rev() {
                    order.swap(i, rng.random_range(0..=i));
                }
            }
            let i = order[*cursor];
            *cursor = (*cursor + 1) % m;
            bits.extend_from_slice(data.row(i));
            labels.push(data.labels()[i]);
        }
        Ok((TokenBatch::new(t, bits)?, labels))
    }
}

impl<P: Trainable> Objective<f32, P> for BatchObjective<'_> {
    fn value_and_grad(&mut self, params: &P, grad: &mut P) -> Result<f64> {
        let (batch, labels) = self.next_batch()?;
        let n = labels.len() as f64;
        let loss = self.loss;
        let mut value = 0.0;
        let mut dloss = |i: usize, f: f32| {
            let (f, y) = (f64::from(f), f64::from(labels[i]));
            value += loss.value(f, y) / n;
            (loss.derivative(f, y) / n) as f32
        };
        params.predict_and_grad(&batch, &mut dloss, grad)?;
        if self.weight_decay > 0.0 {
            let wd = self.weight_decay as f32;
            for (g, p) in grad.tensors_mut().into_iter().zip(params.tensors()) {
                for (gi, &pi) in g.iter_mut().zip(p) {
                    *gi += wd * pi;
                    value += 0.5 * self.weight_decay * f64::from(pi).powi(2);
                }
            }
        }
        Ok(value)
    }
}

/// Why training stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    MaxSteps,
    /// Training error 0 and mean training loss `<= target_loss` ([`StopRule::Target`]).
    TargetReached,
    /// `patience` evaluations without a relative improvement of 1e-3 in the training loss.
    NoProgress,
    /// Training error 0 ([`StopRule::FirstFit`]).
    SampleFit,
}

impl StopReason {
    /// Stored as a number in the results: 0, 1, 2, 3 in declaration order.
    pub fn code(self) -> f64 {
        match self {
            StopReason::MaxSteps => 0.0,
            StopReason::TargetReached => 1.0,
            StopReason::NoProgress => 2.0,
            StopReason::SampleFit => 3.0,
        }
    }
}

/// Fit on the training sample only (nothing here sees a test or population sample).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleFit {
    /// Mean training loss (without the weight penalty).
    pub loss: f64,
    /// Fraction of training samples with `y f <= 0`.
    pub error: f64,
}

pub fn fit_on<P: Trainable>(
    model: &P,
    data: &Dataset,
    loss: Loss,
) -> Result<(SampleFit, Vec<f64>)> {
    let batch = TokenBatch::new(data.context_len(), data.bits().to_vec())?;
    let preds: Vec<f64> = model.predict(&batch)?.into_iter().map(f64::from).collect();
    crate::error::check::all_finite("predictions", &preds)?;
    let n = data.len() as f64;
    let (mut l, mut wrong) = (0.0, 0usize);
    for (&f, &y) in preds.iter().zip(data.labels()) {
        let y = f64::from(y);
        l += loss.value(f, y);
        wrong += usize::from(y * f <= 0.0);
    }
    Ok((
        SampleFit {
            loss: l / n,
            error: wrong as f64 / n,
        },
        preds,
    ))
}

/// What the loop did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoopReport {
    pub steps: usize,
    pub stop: StopReason,
    /// Wall-clock seconds inside optimiser steps (evaluations excluded).
    pub train_time_s: f64,
    /// The objective (mean minibatch loss plus the weight penalty) of every step, before its
    /// update.
    pub step_losses: Vec<f64>,
}

/// Trains `model` on `batches` under `cfg`: project once (so training starts inside the
/// class), then chunks of `eval_every` steps of `minimize`, checking `cfg.stop` on the full
/// training sample before the first chunk (first fit only) and after each chunk. The final
/// weights are returned as they are: no checkpoint is ever selected, so no test sample can leak
/// into the choice.
pub fn train_loop<P: Trainable>(
    model: &mut P,
    batches: Batches<'_>,
    cfg: &TrainConfig,
    loss: Loss,
) -> Result<LoopReport> {
    let (sample, source) = match batches {
        Batches::Sample { data, order_rng } => (
            Some(data),
            Source::Sample {
                data,
                order: (0..data.len()).collect(),
                cursor: 0,
                rng: order_rng,
            },
        ),
        Batches::Fresh { task, rng } => (None, Source::Fresh { task, rng }),
    };
    let sample = match (sample, cfg.stop) {
        (Some(d), _) => Some(d),
        (None, StopRule::MaxSteps) => None,
        (None, other) => {
            return Err(Error::invalid(
                "train.stop",
                other.name(),
                "max_steps when training on fresh samples",
            ));
        }
    };
    if !cfg.radius_rule.is_default() {
        return Err(Error::invalid(
            "train.radius_rule",
            cfg.radius_rule,
            "fixed here: train_cell resolves the rule into norm_ball \
             (train::projection::resolve_ball) before training",
        ));
    }
    let mut optimizer = match cfg.optimizer {
        OptimizerName::Adam => AnyOptimizer::Adam(Adam::new(cfg.learning_rate)?),
        OptimizerName::Sgd => AnyOptimizer::Sgd(Sgd::new(cfg.learning_rate, cfg.momentum)?),
    };
    let ball = Ball(cfg.norm_ball);
    Projection::<P>::project(&ball, model)?;
    let mut objective = BatchObjective {
        source,
        loss,
        weight_decay: cfg.weight_decay,
        batch_size: cfg.batch_size,
    };
    let eval_every = match (cfg.stop, cfg.eval_every, sample) {
        (StopRule::MaxSteps, _, _) | (_, 0, None) => cfg.steps,
        (_, 0, Some(d)) => d.len().div_ceil(cfg.batch_size.min(d.len())),
        (_, n, _) => n,
    };
    let mut rule = StopCheck {
        rule: cfg.stop,
        target_loss: cfg.target_loss,
        patience: cfg.patience,
        best: f64::INFINITY,
        stale: 0,
    };
    let (mut steps, mut train_time_s) = (0, 0.0);
    let mut step_losses = Vec::with_capacity(cfg.steps);
    let mut stop = match (cfg.stop, sample) {
        (StopRule::FirstFit, Some(d)) => rule.check(model, d, loss)?,
        _ => None,
    };
    while stop.is_none() && steps < cfg.steps {
        let chunk = eval_every.min(cfg.steps - steps);
        let clock = Instant::now();
        step_losses.extend(minimize(
            &mut objective,
            model,
            &mut optimizer,
            &ball,
            chunk,
        )?);
        train_time_s += clock.elapsed().as_secs_f64();
        steps += chunk;
        if let Some(d) = sample {
            stop = rule.check(model, d, loss)?;
        }
    }
    Ok(LoopReport {
        steps,
        stop: stop.unwrap_or(StopReason::MaxSteps),
        train_time_s,
        step_losses,
    })
}

/// The state of the configured stopping rule between evaluations.
struct StopCheck {
    rule: StopRule,
    target_loss: f64,
    patience: usize,
    best: f64,
    stale: usize,
}

impl StopCheck {
    fn check<P: Trainable>(
        &mut self,
        model: &P,
        data: &Dataset,
        loss: Loss,
    ) -> Result<Option<StopReason>> {
        if self.rule == StopRule::MaxSteps {
            return Ok(None);
        }
        let (fit, _) = fit_on(model, data, loss)?;
        if self.rule == StopRule::FirstFit {
            return Ok((fit.error == 0.0).then_some(StopReason::SampleFit));
        }
        if fit.error == 0.0 && fit.loss <= self.target_loss {
            return Ok(Some(StopReason::TargetReached));
        }
        if self.patience > 0 {
            if fit.loss < self.best * (1.0 - 1e-3) {
                (self.best, self.stale) = (fit.loss, 0);
            } else {
                self.stale += 1;
                if self.stale >= self.patience {
                    return Ok(Some(StopReason::NoProgress));
                }
            }
        }
        Ok(None)
    }
}
