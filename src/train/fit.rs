//! The training loop: a minibatch [`Objective`] over a token sample, the shared
//! [`crate::optim::minimize`] loop run in chunks, and the stopping rules between chunks.

use super::loss::Loss;
use super::projection::{project_head, project_transformer};
use crate::config::{NormBall, OptimizerName, TrainConfig};
use crate::error::Result;
use crate::model::{ClsHead, Embedding, TokenBatch, Transformer};
use crate::optim::{Adam, Objective, Optimizer, Parameters, Projection, Sgd, minimize};
use crate::tasks::Dataset;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
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

/// The theory's class: a [`ClsHead`] on the fixed embedding of SPEC 4. Only the head's
/// weights are parameters; the embedding is carried along, never trained.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedEmbeddingHead {
    pub head: ClsHead<f32>,
    pub embedding: Embedding<f32>,
}

impl Parameters<f32> for FixedEmbeddingHead {
    fn names(&self) -> Vec<String> {
        self.head.names()
    }
    fn tensors(&self) -> Vec<&[f32]> {
        self.head.tensors()
    }
    fn tensors_mut(&mut self) -> Vec<&mut [f32]> {
        self.head.tensors_mut()
    }
    fn zeros_like(&self) -> Self {
        FixedEmbeddingHead {
            head: self.head.zeros_like(),
            embedding: self.embedding.clone(),
        }
    }
}

impl Trainable for FixedEmbeddingHead {
    fn predict(&self, batch: &TokenBatch) -> Result<Vec<f32>> {
        Ok(self
            .head
            .forward_tokens(&self.embedding, batch)?
            .predictions)
    }
    fn predict_and_grad(
        &self,
        batch: &TokenBatch,
        dloss: &mut dyn FnMut(usize, f32) -> f32,
        grad: &mut Self,
    ) -> Result<Vec<f32>> {
        let cache = self.head.forward_tokens(&self.embedding, batch)?;
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

/// Mean loss (plus the L2 penalty) on a minibatch drawn without replacement, epoch by epoch;
/// the order is shuffled from the objective's own seeded generator.
struct SampleObjective<'a> {
    data: &'a Dataset,
    loss: Loss,
    weight_decay: f64,
    batch_size: usize,
    order: Vec<usize>,
    cursor: usize,
    rng: ChaCha8Rng,
}

impl SampleObjective<'_> {
    fn next_batch(&mut self) -> Result<(TokenBatch, Vec<i8>)> {
        let (m, t) = (self.data.len(), self.data.context_len());
        if self.batch_size >= m {
            return Ok((
                TokenBatch::new(t, self.data.bits().to_vec())?,
                self.data.labels().to_vec(),
            ));
        }
        let mut bits = Vec::with_capacity(self.batch_size * t);
        let mut labels = Vec::with_capacity(self.batch_size);
        for _ in 0..self.batch_size {
            if self.cursor == 0 {
                // Fisher-Yates shuffle at the start of every epoch.
                for i in (1..m).rev() {
                    self.order.swap(i, self.rng.random_range(0..=i));
                }
            }
            let i = self.order[self.cursor];
            self.cursor = (self.cursor + 1) % m;
            bits.extend_from_slice(self.data.row(i));
            labels.push(self.data.labels()[i]);
        }
        Ok((TokenBatch::new(t, bits)?, labels))
    }
}

impl<P: Trainable> Objective<f32, P> for SampleObjective<'_> {
    fn value_and_grad(&mut self, params: &P, grad: &mut P) -> Result<f64> {
        let (batch, labels) = self.next_batch()?;
        let n = labels.len() as f64;
        let loss = self.loss;
        let mut total = 0.0;
        let mut dloss = |i: usize, f: f32| {
            let (f, y) = (f64::from(f), f64::from(labels[i]));
            total += loss.value(f, y);
            (loss.derivative(f, y) / n) as f32
        };
        params.predict_and_grad(&batch, &mut dloss, grad)?;
        let mut value = total / n;
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
    /// Training error 0 and mean training loss `<= target_loss`.
    TargetReached,
    /// `patience` evaluations without a relative improvement of 1e-3 in the training loss.
    NoProgress,
}

impl StopReason {
    /// Stored as a number in the results: 0, 1, 2 in declaration order.
    pub fn code(self) -> f64 {
        match self {
            StopReason::MaxSteps => 0.0,
            StopReason::TargetReached => 1.0,
            StopReason::NoProgress => 2.0,
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopReport {
    pub steps: usize,
    pub stop: StopReason,
    /// Wall-clock seconds inside optimiser steps (evaluations excluded).
    pub train_time_s: f64,
}

/// Trains `model` on `data` under `cfg`: project once (so training starts inside the class),
/// then chunks of `eval_every` steps of `minimize`, checking the stopping rules on the full
/// training sample after each chunk. The final weights are returned as they are: no
/// checkpoint is ever selected, so no test sample can leak into the choice.
pub fn train_loop<P: Trainable>(
    model: &mut P,
    data: &Dataset,
    cfg: &TrainConfig,
    loss: Loss,
    order_rng: ChaCha8Rng,
) -> Result<LoopReport> {
    let m = data.len();
    let mut optimizer = match cfg.optimizer {
        OptimizerName::Adam => AnyOptimizer::Adam(Adam::new(cfg.learning_rate)?),
        OptimizerName::Sgd => AnyOptimizer::Sgd(Sgd::new(cfg.learning_rate, cfg.momentum)?),
    };
    let ball = Ball(cfg.norm_ball);
    Projection::<P>::project(&ball, model)?;
    let mut objective = SampleObjective {
        data,
        loss,
        weight_decay: cfg.weight_decay,
        batch_size: cfg.batch_size,
        order: (0..m).collect(),
        cursor: 0,
        rng: order_rng,
    };
    let eval_every = match cfg.eval_every {
        0 => m.div_ceil(cfg.batch_size.min(m)),
        n => n,
    };
    let (mut steps, mut best, mut stale) = (0, f64::INFINITY, 0);
    let mut stop = StopReason::MaxSteps;
    let mut train_time_s = 0.0;
    while steps < cfg.steps {
        let chunk = eval_every.min(cfg.steps - steps);
        let clock = Instant::now();
        minimize(&mut objective, model, &mut optimizer, &ball, chunk)?;
        train_time_s += clock.elapsed().as_secs_f64();
        steps += chunk;
        let (fit, _) = fit_on(model, data, loss)?;
        if fit.error == 0.0 && fit.loss <= cfg.target_loss {
            stop = StopReason::TargetReached;
            break;
        }
        if cfg.patience > 0 {
            if fit.loss < best * (1.0 - 1e-3) {
                (best, stale) = (fit.loss, 0);
            } else {
                stale += 1;
                if stale >= cfg.patience {
                    stop = StopReason::NoProgress;
                    break;
                }
            }
        }
    }
    Ok(LoopReport {
        steps,
        stop,
        train_time_s,
    })
}
