//! Upper bounds on every size a user can give, and the memory and work estimates every command
//! checks before it allocates or trains (the limits are documented in `docs/limits.md`).
//!
//! Two kinds of limit:
//! - a documented maximum for each count (`MAX_*`), checked with [`count`]: no count, however
//!   large, reaches an allocation, a thread pool or a loop;
//! - a memory limit and a work limit for what the counts imply together, checked with
//!   [`memory`] and [`work`] against estimates computed here ([`TrainShape`]). The memory limit
//!   defaults to half of the smaller of physical memory (`MemTotal` of `/proc/meminfo`) and the
//!   process's address-space limit (`/proc/self/limits`); `ATTNBOUNDS_MEMORY_LIMIT` (bytes, with an
//!   optional `K`, `M`, `G` or `T` suffix) or [`set_memory_limit`] (the CLI's `--memory-limit`)
//!   replace it. The work limit ([`DEFAULT_WORK_LIMIT`] operations) is replaced by
//!   `ATTNBOUNDS_WORK_LIMIT`.
//!
//! Estimates are deliberately coarse upper bounds (f64, so they never overflow): they exist to
//! refuse inputs that cannot finish, not to predict run times. This module depends on `error`
//! only and never allocates in proportion to its inputs.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Worker threads (`--threads`).
pub const MAX_THREADS: usize = 1024;
/// Context length T of anything that is built, trained or sampled (tokens, without `[CLS]`).
pub const MAX_CONTEXT_LEN: usize = 1_000_000;
/// Sample size m of a training run or a drawn sample (the `bound` command, pure arithmetic,
/// takes any m up to [`MAX_BOUND_NUM_SAMPLES`]).
pub const MAX_NUM_SAMPLES: usize = 100_000_000;
/// Sample size m of a bound evaluated without data (`bound`, `norms`).
pub const MAX_BOUND_NUM_SAMPLES: usize = 1_000_000_000_000_000_000;
/// Trials per cell.
pub const MAX_TRIALS: usize = 100_000;
/// Cells of one sweep (`context_len` entries x `num_samples` entries).
pub const MAX_CELLS: usize = 100_000;
/// Optimiser steps of one trial.
pub const MAX_STEPS: usize = 10_000_000;
/// Steps between evaluations of the stopping rules.
pub const MAX_EVAL_EVERY: usize = MAX_STEPS;
/// Evaluations without progress before stopping.
pub const MAX_PATIENCE: usize = 1_000_000;
/// Fresh sample size of a population-error estimate.
pub const MAX_POPULATION_SAMPLES: usize = 100_000_000;
/// Grid points per decade of `bound --sweep --points`.
pub const MAX_POINTS: usize = 1000;
/// Grid points of one `bound --sweep` in all (every point evaluates every bound).
pub const MAX_SWEEP_POINTS: usize = 10_000;
/// Embedding width d, MLP width and value dimension k.
pub const MAX_WIDTH: usize = 65_536;
/// Value dimension k (and the rank of `W_Q`, `W_K`).
pub const MAX_VALUE_DIM: usize = 65_536;
/// Heads per layer.
pub const MAX_HEADS: usize = 4096;
/// Layers of a model (`bound --layers`, imported files).
pub const MAX_LAYERS: usize = 4096;
/// Sparsity s (hidden bits); truth tables have 2^s entries.
pub const MAX_SPARSITY: usize = 24;
/// Random inputs of `construct --verify --inputs`.
pub const MAX_INPUTS: u64 = 1_000_000_000;
/// Size of a text input file (sweep config, `bound --config`, layout mapping).
pub const MAX_TEXT_FILE_BYTES: u64 = 16 << 20;
/// Default work limit in "operations" (multiply-adds and comparable steps, as estimated here):
/// about a day on two cores; the paper presets need about 1e16.
pub const DEFAULT_WORK_LIMIT: f64 = 1e17;
/// Memory limit used when neither `/proc/meminfo` nor a setting gives one.
pub const FALLBACK_MEMORY_LIMIT: u64 = 4 << 30;

static MEMORY_LIMIT: OnceLock<u64> = OnceLock::new();

/// Sets the memory limit for this process (the CLI's `--memory-limit`); only the first call
/// counts, and it must come before the first check.
pub fn set_memory_limit(bytes: u64) {
    let _ = MEMORY_LIMIT.set(bytes);
}

/// Parses a byte count: digits with an optional `K`, `M`, `G` or `T` suffix (powers of 1024).
pub fn parse_bytes(field: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => 0,
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let bad = || {
        Error::invalid(
            field,
            format!("\"{s}\""),
            "a byte count >= 1 (digits, optional suffix K, M, G or T)",
        )
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    match n.checked_mul(mult) {
        Some(b) if b >= 1 => Ok(b),
        _ => Err(bad()),
    }
}

/// A `key  value kB` line of `/proc/meminfo`, in bytes.
fn meminfo_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The soft address-space limit of this process (`Max address space` of `/proc/self/limits`).
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The memory limit in bytes (see the module doc for where it comes from).
pub fn memory_limit() -> Result<u64> {
    if let Some(&b) = MEMORY_LIMIT.get() {
        return Ok(b);
    }
    if let Ok(s) = std::env::var("ATTNBOUNDS_MEMORY_LIMIT") {
        return parse_bytes("ATTNBOUNDS_MEMORY_LIMIT", &s);
    }
    let physical = meminfo_total();
    let space = address_space_limit();
    let smallest = match (physical, space) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Ok(FALLBACK_MEMORY_LIMIT),
    };
    Ok((smallest / 2).max(1))
}

/// The work limit in estimated operations.
pub fn work_limit() -> Result<f64> {
    match std::env::var("ATTNBOUNDS_WORK_LIMIT") {
        Ok(s) => match s.trim().parse::<f64>() {
            Ok(w) if w.is_finite() && w > 0.0 => Ok(w),
            _ => Err(Error::invalid(
                "ATTNBOUNDS_WORK_LIMIT",
                format!("\"{s}\""),
                "a finite number of operations > 0 (e.g. 1e17)",
            )),
        },
        Err(_) => Ok(DEFAULT_WORK_LIMIT),
    }
}

/// `value <= max`, else an error naming the field, the value and the documented maximum.
pub fn count(field: &str, value: usize, max: usize) -> Result<usize> {
    if value <= max {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            value,
            format!("an integer <= {max} (docs/limits.md)"),
        ))
    }
}

/// `min <= value <= max`.
pub fn count_in(field: &str, value: usize, min: usize, max: usize) -> Result<usize> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            value,
            format!("an integer in [{min}, {max}] (docs/limits.md)"),
        ))
    }
}

/// Human-readable bytes (binary prefixes).
pub fn format_bytes(b: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut x = b;
    let mut u = 0;
    while x >= 1024.0 && u + 1 < UNITS.len() {
        x /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{x:.0} B")
    } else {
        format!("{x:.1} {}", UNITS[u])
    }
}

/// The estimated memory `bytes` of what `field = value` implies fits the memory limit.
pub fn memory(field: &str, value: impl std::fmt::Display, bytes: f64) -> Result<()> {
    let limit = memory_limit()?;
    if bytes.is_finite() && bytes <= limit as f64 {
        return Ok(());
    }
    Err(Error::TooLarge {
        field: field.to_string(),
        value: value.to_string(),
        estimate: format!("{} of memory", format_bytes(bytes)),
        limit: format!(
            "{} (ATTNBOUNDS_MEMORY_LIMIT or --memory-limit; docs/limits.md)",
            format_bytes(limit as f64)
        ),
    })
}

/// The estimated work `ops` of what `field = value` implies fits the work limit.
pub fn work(field: &str, value: impl std::fmt::Display, ops: f64) -> Result<()> {
    let limit = work_limit()?;
    if ops.is_finite() && ops <= limit {
        return Ok(());
    }
    Err(Error::TooLarge {
        field: field.to_string(),
        value: value.to_string(),
        estimate: format!("{ops:.2e} operations"),
        limit: format!("{limit:.2e} operations (ATTNBOUNDS_WORK_LIMIT; docs/limits.md)"),
    })
}

/// Everything the size of one training trial depends on (a cell of a sweep).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainShape {
    pub context_len: usize,
    pub num_samples: usize,
    pub batch_size: usize,
    /// Embedding width d (the fixed embedding of the `[CLS]` head has d = T + 3).
    pub width: usize,
    pub value_dim: usize,
    pub heads: usize,
    /// 0 for a model without MLP.
    pub mlp_width: usize,
    pub steps: usize,
    /// Steps between evaluations of the full sample (0: once per epoch).
    pub eval_every: usize,
    /// Fresh samples for the population error (0 when it is enumerated).
    pub population_samples: usize,
}

/// Rows drawn at once when a population error is estimated from a fresh sample or enumerated
/// (`tasks::population` works in chunks of at most this many rows).
pub const POPULATION_CHUNK_ROWS: f64 = 4096.0;

impl TrainShape {
    /// Parameters of the model (f32 each).
    pub fn parameters(&self) -> f64 {
        let (d, k, h) = (self.width as f64, self.value_dim as f64, self.heads as f64);
        let t = self.context_len as f64 + 1.0;
        // Embeddings (2 tokens, T + 1 positions), 4 projections per head, MLP, read-out.
        (2.0 + t) * d + 4.0 * d * k * h + 2.0 * d * self.mlp_width as f64 + d
    }

    /// Floats of one sample in flight in a forward and backward pass (the token-table path:
    /// per position the attention scores and weights of every head, per sample the mixed
    /// values, the MLP and the read-out).
    fn floats_per_sample(&self) -> f64 {
        let (d, k, h) = (self.width as f64, self.value_dim as f64, self.heads as f64);
        let t = self.context_len as f64 + 1.0;
        t * (2.0 * h + 2.0) + 4.0 * d + 3.0 * h * k + 2.0 * self.mlp_width as f64
    }

    /// Work of the token table of one step: every (position, token) row through the
    /// projections and the MLP.
    fn table_work(&self) -> f64 {
        let (d, k, h) = (self.width as f64, self.value_dim as f64, self.heads as f64);
        let t = self.context_len as f64 + 1.0;
        2.0 * t * (4.0 * d * k * h + 2.0 * d * self.mlp_width as f64)
    }

    /// Floats of the token table: one row per (position, token), holding every head's
    /// projections, the MLP hidden layer and the output.
    fn table_floats(&self) -> f64 {
        let (d, k, h) = (self.width as f64, self.value_dim as f64, self.heads as f64);
        let t = self.context_len as f64 + 1.0;
        2.0 * t * (3.0 * h * k + 2.0 * d + self.mlp_width as f64)
    }

    /// Rows of the full training sample evaluated per step, amortised: every `eval_every`
    /// steps, or once per epoch when it is 0.
    fn eval_rows_per_step(&self) -> f64 {
        let m = self.num_samples as f64;
        let batch = (self.batch_size as f64).clamp(1.0, m.max(1.0));
        let every = if self.eval_every == 0 {
            (m / batch).ceil().max(1.0)
        } else {
            self.eval_every as f64
        };
        m / every
    }

    /// Estimated peak memory in bytes: the sample (bits and labels), the parameters with
    /// gradient and two Adam moments (the fixed embedding counted as parameters too), the
    /// token table, the activations of one evaluation chunk of the sample (at least one
    /// minibatch) forward and backward, and one population chunk.
    pub fn memory_bytes(&self) -> f64 {
        let t = self.context_len as f64 + 1.0;
        let m = self.num_samples as f64;
        let batch = (self.batch_size as f64).min(m);
        let rows = m.min(POPULATION_CHUNK_ROWS).max(batch);
        let data = m * (t + 1.0);
        let params = 4.0 * 4.0 * self.parameters();
        let table = 2.0 * 4.0 * self.table_floats();
        let activations = 2.0 * 4.0 * rows * self.floats_per_sample();
        let population = POPULATION_CHUNK_ROWS.min(self.population_samples as f64) * t * 9.0;
        data + params + table + activations + population
    }

    /// Estimated operations of one trial: per step the token table, the minibatch and the
    /// amortised evaluation of the full sample; then the population sample.
    pub fn work(&self) -> f64 {
        let m = self.num_samples as f64;
        let batch = (self.batch_size as f64).min(m);
        let per_sample = 4.0 * self.floats_per_sample();
        let steps = self.steps as f64;
        steps * (self.table_work() + (batch + self.eval_rows_per_step()) * per_sample)
            + self.population_samples as f64 * per_sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_name_field_value_and_maximum() {
        assert_eq!(count("threads", 8, MAX_THREADS).unwrap(), 8);
        let e = count("threads", 100_000_000, MAX_THREADS)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("threads") && e.contains("100000000") && e.contains("1024"),
            "{e}"
        );
        assert!(count_in("points", 1, 2, 10).is_err());
        assert!(count_in("points", 11, 2, 10).is_err());
        assert_eq!(count_in("points", 10, 2, 10).unwrap(), 10);
    }

    #[test]
    fn byte_counts_parse_with_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_bytes("m", "512").unwrap(), 512);
        assert_eq!(parse_bytes("m", "2K").unwrap(), 2048);
        assert_eq!(parse_bytes("m", "3g").unwrap(), 3 << 30);
        for bad in ["", "0", "-1", "1.5G", "G", "12X", "99999999999999999999T"] {
            assert!(parse_bytes("m", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_and_work_refuse_what_is_too_large() {
        // A 1e12-sample estimate is above any machine's memory; 1 KiB is below any limit.
        assert!(memory("num_samples", 1, 1024.0).is_ok());
        let e = memory("num_samples", "1e12", 1e21).unwrap_err().to_string();
        assert!(
            e.contains("num_samples") && e.contains("1e12") && e.contains("limit"),
            "{e}"
        );
        assert!(memory("x", 1, f64::INFINITY).is_err());
        assert!(work("steps", 1, 1e3).is_ok());
        assert!(work("steps", 1, 1e30).is_err());
    }

    #[test]
    fn estimates_grow_with_every_size_and_never_overflow() {
        let s = TrainShape {
            context_len: 100,
            num_samples: 1000,
            batch_size: 64,
            width: 16,
            value_dim: 8,
            heads: 1,
            mlp_width: 32,
            steps: 2000,
            eval_every: 0,
            population_samples: 20_000,
        };
        let (m0, w0) = (s.memory_bytes(), s.work());
        // The sample alone is m (T + 2) bytes: a lower bound of the estimate.
        assert!(m0 >= 1000.0 * 102.0);
        for bigger in [
            TrainShape {
                context_len: 1000,
                ..s
            },
            TrainShape { width: 64, ..s },
            TrainShape { heads: 4, ..s },
        ] {
            assert!(
                bigger.memory_bytes() > m0 && bigger.work() > w0,
                "{bigger:?}"
            );
        }
        // More samples cost memory; the work per step stays about the same (one evaluation
        // of the sample per epoch); more steps or evaluations cost work.
        let more = TrainShape {
            num_samples: 100_000,
            ..s
        };
        // The sample alone grows by 99_000 (T + 2) bytes.
        assert!(more.memory_bytes() >= m0 + 99_000.0 * 102.0);
        assert!(TrainShape { steps: 4000, ..s }.work() > 1.9 * w0);
        assert!(TrainShape { eval_every: 1, ..s }.work() > 2.0 * w0);
        let huge = TrainShape {
            context_len: usize::MAX,
            num_samples: usize::MAX,
            width: usize::MAX,
            ..s
        };
        assert!(huge.memory_bytes().is_finite() && huge.work().is_finite());
    }
}
