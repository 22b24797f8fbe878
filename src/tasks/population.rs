//! Population error of a predictor on a task: exact by enumeration for small T, else a fresh
//! sample with an exact (Clopper-Pearson) binomial interval. docs/experiments.md §1.
//!
//! A predictor returns a real score f(x) per sequence; it errs on (x, y) when y f(x) <= 0, so a
//! score of exactly 0 counts as an error (the convention of the gamma-ramp loss, which
//! upper-bounds this error). A NaN score is an error of the caller, never counted silently.

use super::{Dataset, Task, input_weight};
use crate::error::{Error, Result, check};
use crate::stats::clopper_pearson;
use rand::Rng;

/// How to evaluate a population error.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationOptions {
    /// Enumerate all 2^T inputs when T <= this (at most 24, memory-free but 2^T predictions).
    pub exact_max_context_len: usize,
    /// Fresh sample size n when T is larger.
    pub num_samples: usize,
    /// The Clopper-Pearson interval has coverage >= 1 - delta.
    pub delta: f64,
    /// Rows per batch handed to the predictor.
    pub chunk_rows: usize,
}

impl Default for PopulationOptions {
    fn default() -> Self {
        PopulationOptions {
            exact_max_context_len: 20,
            num_samples: 100_000,
            delta: 0.05,
            chunk_rows: 4096,
        }
    }
}

/// A population error with its interval. For exact values `lower = estimate = upper` and `n` is
/// the number of inputs enumerated (2^T); otherwise `n` is the fresh sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PopulationError {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    pub exact: bool,
    pub n: u64,
}

/// Wraps a per-sequence predictor `Fn(&[u8]) -> f64` as a batch predictor.
pub fn per_example<F: Fn(&[u8]) -> f64>(f: F) -> impl Fn(&Dataset) -> Vec<f64> {
    move |data: &Dataset| data.iter().map(|(x, _)| f(x)).collect()
}

/// Calls `f(chunk, weights)` on every one of the 2^T inputs, in chunks of at most `chunk_rows`,
/// with the probability of each input under the task's distribution. Labels are the task's.
/// Input number x has bit t equal to bit t of x.
pub fn enumerate_inputs<F>(task: &Task, chunk_rows: usize, mut f: F) -> Result<()>
where
    F: FnMut(&Dataset, &[f64]) -> Result<()>,
{
    let t = task.context_len();
    if t > 30 {
        return Err(Error::invalid(
            "context_len",
            t,
            "<= 30 for exact enumeration",
        ));
    }
    check::at_least("chunk_rows", chunk_rows, 1)?;
    let total = 1u64 << t;
    let mut start = 0u64;
    while start < total {
        let rows = (total - start).min(chunk_rows as u64) as usize;
        let mut bits = vec![0u8; rows * t];
        let mut labels = Vec::with_capacity(rows);
        let mut weights = Vec::with_capacity(rows);
        for (r, row) in bits.chunks_exact_mut(t).enumerate() {
            let x = start + r as u64;
            for (j, b) in row.iter_mut().enumerate() {
                *b = ((x >> j) & 1) as u8;
            }
            labels.push(task.label(row));
            weights.push(input_weight(task.bit_prob(), t, x.count_ones() as usize));
        }
        f(&Dataset::new(t, bits, labels)?, &weights)?;
        start += rows as u64;
    }
    Ok(())
}

/// Population 0-1 error P(y f(x) <= 0) of the batch predictor `predict` on `task`.
/// `rng` is used only when T exceeds `exact_max_context_len` (fresh sample).
pub fn population_error(
    task: &Task,
    mut predict: impl FnMut(&Dataset) -> Vec<f64>,
    opts: &PopulationOptions,
    rng: &mut (impl Rng + ?Sized),
) -> Result<PopulationError> {
    try_population_error(task, |d| Ok(predict(d)), opts, rng)
}

/// [`population_error`] for a predictor that can fail: the first error it returns is passed
/// through and no further chunk is predicted, so a failing model is never scored.
pub fn try_population_error<P, R>(
    task: &Task,
    mut predict: P,
    opts: &PopulationOptions,
    rng: &mut R,
) -> Result<PopulationError>
where
    P: FnMut(&Dataset) -> Result<Vec<f64>>,
    R: Rng + ?Sized,
{
    check::open_unit("delta", opts.delta)?;
    check::at_least("chunk_rows", opts.chunk_rows, 1)?;
    if opts.exact_max_context_len > 24 {
        let allowed = "<= 24 (2^T predictions)";
        return Err(Error::invalid(
            "exact_max_context_len",
            opts.exact_max_context_len,
            allowed,
        ));
    }
    if task.context_len() <= opts.exact_max_context_len {
        let mut error = 0.0;
        enumerate_inputs(task, opts.chunk_rows, |chunk, weights| {
            let wrong = mistakes(chunk, &predict(chunk)?)?;
            error += wrong.iter().map(|&i| weights[i]).sum::<f64>();
            Ok(())
        })?;
        return Ok(PopulationError {
            estimate: error,
            lower: error,
            upper: error,
            exact: true,
            n: 1u64 << task.context_len(),
        });
    }
    check::at_least("num_samples", opts.num_samples, 1)?;
    let mut wrong = 0u64;
    let mut done = 0usize;
    while done < opts.num_samples {
        let rows = (opts.num_samples - done).min(opts.chunk_rows);
        let chunk = task.sample(rows, rng)?;
        wrong += mistakes(&chunk, &predict(&chunk)?)?.len() as u64;
        done += rows;
    }
    let n = opts.num_samples as u64;
    let (lower, upper) = clopper_pearson(wrong, n, opts.delta)?;
    Ok(PopulationError {
        estimate: wrong as f64 / n as f64,
        lower,
        upper,
        exact: false,
        n,
    })
}

/// Indices i with y_i f(x_i) <= 0; errors on a wrong-length or non-finite prediction.
fn mistakes(data: &Dataset, scores: &[f64]) -> Result<Vec<usize>> {
    if scores.len() != data.len() {
        return Err(Error::shape("predictions", data.len(), scores.len()));
    }
    check::all_finite("predictions", scores)?;
    let labels = data.labels();
    Ok((0..scores.len())
        .filter(|&i| f64::from(labels[i]) * scores[i] <= 0.0)
        .collect())
}
